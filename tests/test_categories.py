"""``categories``: the levels of categorical columns, declared instead of learned."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skvae import VAEImputer, VAEOutlierDetector
from skvae._likelihoods import CategoricalFamily

# The fits stop at a few epochs on purpose: only their levels are read.
pytestmark = pytest.mark.short_fits

SPECIES = ["Adelie", "Chinstrap", "Gentoo"]


def without_chinstraps(table):
    return table[table["species"] != "Chinstrap"].astype({"species": object})


def test_a_stream_takes_a_declared_level_its_first_chunk_lacks(table, make_vae):
    first, rest = without_chinstraps(table), table.astype({"species": object})
    learned = make_vae().partial_fit(first)
    with pytest.raises(
        ValueError, match="'Chinstrap' in row \\d+, which is not among its 2"
    ):
        learned.partial_fit(rest)
    declared = make_vae(categories={"species": SPECIES}).partial_fit(first)
    declared.partial_fit(rest)
    assert declared.n_iter_ == 2
    assert_array_equal(declared._table_layout.levels[4], SPECIES)
    assert np.isfinite(declared.score_samples(rest)).all()


def test_a_declared_level_the_first_chunk_lacks_is_learned_later(table, make_vae):
    # it started at a frequency of 0, a logit 18 below the others, which ten
    # passes over rows that hold it moved to -12 (the default network's widths)
    first, rest = without_chinstraps(table), table.astype({"species": object})
    vae = make_vae(categories={"species": SPECIES}, hidden_layer_sizes=(256, 128))
    vae.partial_fit(first)
    for _ in range(10):
        vae.partial_fit(rest)
    chinstraps = rest[rest["species"] == "Chinstrap"]
    log_likelihoods = vae.feature_log_likelihoods(chinstraps)["species"]
    assert log_likelihoods.mean() > -3  # -1.4 here; a third of the rows hold it


def categorical_offsets(vae) -> np.ndarray:
    """The logit offsets of a model's categorical columns' levels, in order."""
    (family,) = [
        family
        for family in vae.module_.likelihood.families
        if isinstance(family, CategoricalFamily)
    ]
    return family.offset.numpy()


def test_only_declared_levels_no_row_holds_start_as_if_one_row_did(table, make_vae):
    chinstrap = SPECIES.index("Chinstrap")  # species' levels come first
    first = without_chinstraps(table)
    declared = make_vae(max_epochs=1, categories={"species": SPECIES}).fit(first)
    one_row = np.log(1 / (len(first) + 1))
    assert categorical_offsets(declared)[chinstrap] == pytest.approx(one_row)
    # rows of weight 0 set no baseline, of a declared level either ...
    weights = (table["species"] != "Chinstrap").to_numpy(float)
    declared.fit(table, sample_weight=weights)
    assert categorical_offsets(declared)[chinstrap] == pytest.approx(one_row)
    # ... but a learned level that they alone hold keeps the floor of 1e-8
    weighed = make_vae(max_epochs=1).fit(table, sample_weight=weights)
    assert categorical_offsets(weighed)[chinstrap] == pytest.approx(np.log(1e-8))


@pytest.mark.parametrize(
    "days, unheld",
    [
        (pd.to_datetime(["2020-01-01", "2020-01-02"] * 10), pd.Timestamp("2020-01-03")),
        # NumPy hashes datetime64 apart from Timestamp before 2.2, and
        # timedelta64 apart from Timedelta since
        (pd.to_timedelta(["1D", "2D"] * 10), pd.Timedelta("3D")),
    ],
    ids=["dates", "durations"],
)
def test_declared_dates_are_held_by_the_rows_that_hold_them(make_vae, days, unheld):
    X = pd.DataFrame({"x": np.linspace(0, 1, 20), "day": pd.Categorical(days)})
    declared = {"day": [*days[:2], unheld]}
    vae = make_vae(max_epochs=1, categories=declared).fit(X)
    assert_allclose(categorical_offsets(vae), np.log([0.5, 0.5, 1 / 21]), rtol=1e-6)


def test_declaring_the_levels_the_rows_hold_changes_nothing(table, make_vae):
    learned = make_vae(max_epochs=3).fit(table)
    declared = make_vae(
        max_epochs=3, categories={"island": ["Dream", "Biscoe"], "species": SPECIES}
    ).fit(table)
    assert declared.likelihoods_ == learned.likelihoods_
    assert_array_equal(declared.transform(table), learned.transform(table))


def test_a_declared_column_is_categorical(table, make_vae):
    vae = make_vae(max_epochs=2, categories={"year": [2007, 2008, 2009, 2010]})
    vae.fit(table)
    assert vae.likelihoods_["year"] == "categorical"
    assert_array_equal(vae._table_layout.levels[2], [2007, 2008, 2009, 2010])
    assert vae.sample(50, random_state=0)["year"].dtype == table["year"].dtype


def test_an_array_names_columns_by_position(make_vae):
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=(100, 2)), rng.randint(0, 3, 100)])
    vae = make_vae(max_epochs=2, categories={2: [0, 1, 2, 3]}).fit(X)
    assert vae.likelihoods_ == {0: "gaussian", 1: "gaussian", 2: "categorical"}
    assert set(vae.sample(200, random_state=0)[:, 2]) <= {0, 1, 2, 3}


def test_a_condition_takes_declared_levels(table, make_vae):
    categories = {"species": SPECIES}
    vae = make_vae(condition_on="species", categories=categories)
    vae.partial_fit(without_chinstraps(table))
    rows = vae.sample(5, conditions={"species": "Chinstrap"}, random_state=0)
    assert (rows["species"] == "Chinstrap").all()
    # a numeric condition read one-hot
    by_year = make_vae(
        max_epochs=2, condition_on="year", categories={"year": [2007, 2008, 2009, 2010]}
    )
    by_year.fit(table)
    assert len(by_year.sample(3, conditions={"year": 2010}, random_state=0)) == 3


@pytest.mark.parametrize(
    "categories, message",
    [
        (
            {"island": ["Dream"]},
            "Column 'island' holds 'Biscoe' in row \\d+, which is not among the levels "
            "categories gives it \\('Dream'\\)",
        ),
        ({"island": "Dream"}, "categories gives column 'island' 'Dream'; give a list"),
        ({"island": []}, "give at least one level"),
        ({"island": ["Dream", None, "Biscoe"]}, "no missing value"),
        ({"island": ["Dream", "Dream", "Biscoe"]}, "a level twice"),
        ({"island": ["Dream", 1, "Biscoe"]}, "do not sort together"),
        ({"island": iter(["Dream", "Biscoe"])}, "give a list of its levels"),
        ({"mass": ["light", "heavy"]}, "values of the column's dtype \\(float64\\)"),
        # levels that the column's dtype would hold only once converted
        (
            {"year": ["2007", "2008", "2009"]},
            "values of the column's dtype \\(int64\\)",
        ),
        ({"year": [2007, 2008, 2009.5]}, "values of the column's dtype \\(int64\\)"),
        ({"male": ["no", "yes"]}, "holds booleans, so give it booleans alone"),
        ({"male": [False, True, 2]}, "holds booleans, so give it booleans alone"),
        ({"year": [False, True]}, "holds no booleans, so give it no booleans"),
        ({"island": [["Dream"], ["Biscoe"]]}, "give a flat list"),
        (
            {"beak": ["long"]},
            "categories names column 'beak', which is not among X's columns",
        ),
    ],
)
def test_bad_categories_are_refused_naming_the_column(
    table, make_vae, categories, message
):
    with pytest.raises(ValueError, match=message):
        make_vae(categories=categories).fit(table)


@pytest.mark.parametrize("condition_on", [None, "island"])
def test_a_value_outside_declared_levels_is_refused_naming_its_row(
    table, make_vae, condition_on
):
    labelled = table.set_axis([f"p{row}" for row in range(len(table))])
    first = int(np.flatnonzero(table["island"] == "Biscoe")[0])
    vae = make_vae(
        condition_on=condition_on, categories={"island": ["Dream", "Torgersen"]}
    )
    with pytest.raises(
        ValueError,
        match=f"'island' holds 'Biscoe' in row {first} \\(index 'p{first}'\\), "
        "which is not among the levels categories gives it",
    ):
        vae.fit(labelled)
    assert not hasattr(vae, "n_features_in_")


def test_levels_a_category_dtype_lacks_come_back_as_levels(table, make_vae):
    # a first chunk read as a category of the levels it holds: decoded
    # Chinstraps became missing cells under that dtype
    first = table[table["species"] != "Chinstrap"].copy()
    first["species"] = first["species"].cat.remove_unused_categories()
    vae = make_vae(categories={"species": SPECIES}).partial_fit(first)
    assert list(vae.sample(3, random_state=0)["species"].cat.categories) == [
        "Adelie",
        "Gentoo",
        "Chinstrap",
    ]
    by_species = make_vae(condition_on="species", categories={"species": SPECIES})
    by_species.partial_fit(first)
    rows = by_species.sample(3, conditions={"species": "Chinstrap"}, random_state=0)
    assert rows["species"].tolist() == ["Chinstrap"] * 3


def test_levels_converted_to_the_columns_dtype_are_kept_by_a_continued_fit(
    table, make_vae
):
    vae = make_vae(categories={"year": [2007.0, 2008.0, 2009.0]})
    vae.partial_fit(table).partial_fit(table)
    assert vae._table_layout.levels[2].tolist() == [2007, 2008, 2009]


def test_a_declared_condition_is_missing_in_a_named_row(table, make_vae):
    holed = table.astype({"species": object})
    holed.loc[3, "species"] = None
    vae = make_vae(condition_on="species", categories={"species": SPECIES})
    with pytest.raises(ValueError, match="The condition 'species' is missing in row 3"):
        vae.fit(holed)


def test_a_boolean_condition_beside_a_number_keeps_boolean_levels(make_vae):
    # they were read as 0.0 and 1.0, which True then was not
    rng = np.random.RandomState(0)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=40),
            "flag": np.array([True, False] * 20),
            "dose": rng.normal(size=40),
        }
    )
    vae = make_vae(
        max_epochs=2, condition_on=["flag", "dose"], categories={"flag": [False, True]}
    ).fit(X)
    rows = vae.sample(3, conditions={"flag": True, "dose": 0.0}, random_state=0)
    assert rows["flag"].tolist() == [True] * 3
    vae.partial_fit(X)  # the same categories, read as the first fit read them


@pytest.mark.parametrize(
    "X, categories",
    [
        # pandas' missing cells make the values floats: the dtype is int64
        (pd.DataFrame({"k": pd.array([1, 2, None] * 10, dtype="Int64")}), [1, 2.5]),
        (pd.DataFrame({"k": pd.Categorical([1, 2, None] * 10)}), [1, 2.5]),
    ],
)
def test_levels_are_of_the_columns_own_dtype(make_vae, X, categories):
    X = X.assign(x=np.arange(len(X), dtype=float))
    with pytest.raises(ValueError, match="values of the column's dtype \\(int64\\)"):
        make_vae(categories={"k": categories}).fit(X)


def test_an_array_of_text_takes_levels_longer_than_its_strings(make_vae):
    X = np.array([["a", "1"], ["bb", "2"]] * 20)  # <U2: 'ccc' would be cut
    vae = make_vae(max_epochs=2, categories={0: ["a", "bb", "ccc"]}).fit(X)
    assert vae._table_layout.levels[0].tolist() == ["a", "bb", "ccc"]


def test_a_changed_likelihood_reads_a_chunk_as_handle_unknown_says(table, make_vae):
    vae = make_vae(
        max_epochs=2, handle_unknown="missing", categories={"species": SPECIES}
    ).fit(table)
    strange = table.astype({"species": object})
    strange.loc[0, "species"] = "Emperor"
    vae.set_params(likelihood=dict(vae.likelihoods_))  # the same families
    vae.partial_fit(strange)  # "Emperor" read as missing, not refused
    assert vae.n_iter_ == 3


@pytest.mark.parametrize("categories", [None, {"s": ["a", "b", "c"]}])
@pytest.mark.parametrize(
    "cells",
    [
        [np.nan] * 20,  # all missing: float64, which the declared levels are not
        ["a", 5] * 10,  # a number beside text, which did not sort; read as missing
    ],
)
def test_a_changed_likelihood_reads_a_chunk_against_the_fitted_levels(
    make_vae, categories, cells
):
    # the restated layout read the chunk's levels, which it does not use
    first = pd.DataFrame({"x": np.linspace(0, 1, 20), "s": ["a", "b"] * 10})
    vae = make_vae(categories=categories, handle_unknown="missing")
    vae.partial_fit(first)
    vae.set_params(likelihood=dict(vae.likelihoods_))  # the same families
    vae.partial_fit(first.assign(s=cells))
    assert vae.n_iter_ == 2


def test_categories_refuse_a_label_columns_share(table, make_vae):
    twice = pd.concat([table, table[["island"]]], axis=1)
    with pytest.raises(
        ValueError,
        match="X has more than one column labelled 'island'; a column categories "
        "names needs a label of its own",
    ):
        make_vae(categories={"island": ["Biscoe", "Dream"]}).fit(twice)


def test_categories_refuse_another_family(table, make_vae):
    with pytest.raises(
        ValueError, match="likelihood gives column 'island' the family 'gaussian'"
    ):
        make_vae(
            likelihood={"island": "gaussian"},
            categories={"island": ["Biscoe", "Dream"]},
        ).fit(table)
    numbers = table[["mass", "bill"]]
    with pytest.raises(
        ValueError, match="likelihood='gaussian' models every column as one family"
    ):
        make_vae(likelihood="gaussian", categories={"mass": [1.0]}).fit(numbers)


@pytest.mark.parametrize(
    "categories, message",
    [
        (
            {"species": ["Adelie", "Gentoo"]},
            "models column 'species' with the levels "
            "\\['Adelie', 'Chinstrap', 'Gentoo'\\]",
        ),
        (
            {"mass": [1.0]},
            "models column 'mass' as 'gaussian', but categories gives it levels",
        ),
    ],
)
def test_a_continued_fit_keeps_its_levels(table, make_vae, categories, message):
    vae = make_vae(max_epochs=2).fit(table)
    codes = vae.transform(table)
    vae.set_params(categories=categories)
    with pytest.raises(ValueError, match=message):
        vae.partial_fit(table)
    assert vae.n_iter_ == 2
    assert_array_equal(vae.transform(table), codes)
    vae.set_params(categories={"species": SPECIES[::-1]})  # the same levels
    vae.partial_fit(table)
    assert vae.n_iter_ == 3


def test_a_continued_fit_keeps_how_it_reads_each_condition(table, make_vae):
    vae = make_vae(max_epochs=2, condition_on="year").fit(table)
    vae.set_params(categories={"year": [2007, 2008, 2009]})
    with pytest.raises(ValueError, match="reads the condition 'year' as a number"):
        vae.partial_fit(table)
    numbers = table[["mass", "bill"]].to_numpy()
    one_family = make_vae(max_epochs=2).fit(numbers)
    one_family.set_params(categories={0: [1.0]})
    with pytest.raises(ValueError, match="models every column as 'gaussian'"):
        one_family.partial_fit(numbers)


@pytest.mark.parametrize("Estimator", [VAEImputer, VAEOutlierDetector])
def test_the_imputer_and_the_detector_take_categories(table, Estimator):
    estimator = Estimator(
        latent_dim=2,
        hidden_layer_sizes=(16,),
        max_epochs=2,
        categories={"species": SPECIES},
        random_state=0,
    ).fit(without_chinstraps(table))
    assert estimator.likelihoods_["species"] == "categorical"
    assert estimator._table_layout.levels[4].tolist() == SPECIES
