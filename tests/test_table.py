"""Mixed tables: per-column families, categorical columns, tables back out."""

import datetime
import pickle
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from scipy.special import log_softmax

from skvae import VAEImputer
from skvae._likelihoods import CategoricalFamily

# ------------------------------------------------------ the categorical family


def test_categorical_log_prob_is_the_log_softmax_of_each_level():
    family = CategoricalFamily([3, 2])
    output = torch.randn(
        4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    codes = torch.tensor([[0, 1], [2, 0], [1, 1], [2, 1]], dtype=torch.float64)
    got = family.log_prob(family.link(output), codes).numpy()
    first, second = (
        log_softmax(output[:, :3].numpy(), -1),
        log_softmax(output[:, 3:].numpy(), -1),
    )
    expected = np.column_stack(
        [first[np.arange(4), [0, 2, 1, 2]], second[np.arange(4), [1, 0, 1, 1]]]
    )
    assert_allclose(got, expected, rtol=1e-12)


def test_categorical_one_hot_of_host_codes_works_with_the_family_on_any_device():
    # The PCA start one-hot encodes host rows after the network moved to its
    # device; the meta device stands in for a GPU, whose buffers NumPy cannot read.
    family = CategoricalFamily([3, 2]).to("meta")
    codes = np.array([[0.0, 1.0], [2.0, np.nan]])
    one_hot = family.sparse_encoder_values(codes).toarray()
    assert_array_equal(one_hot, [[1, 0, 0, 0, 1], [0, 0, 1, 0, 0]])


def test_categorical_mean_is_the_most_probable_level_and_draws_are_codes():
    family = CategoricalFamily([3, 2])
    output = torch.tensor([[0.0, 5.0, 0.0, -5.0, 5.0]])
    assert_array_equal(family.mean(family.link(output)).numpy(), [[1.0, 1.0]])
    torch.manual_seed(0)
    draws = family.sample(family.link(output.expand(1000, 5)))
    assert draws.dtype == torch.float32
    assert set(draws[:, 0].tolist()) <= {0.0, 1.0, 2.0}
    assert (draws[:, 0] == 1).float().mean() > 0.95


def test_categorical_draws_follow_each_columns_probabilities():
    # columns of different widths, levels of probability 0, a single level
    probabilities = [[0.2, 0.0, 0.8], [0.1, 0.2, 0.3, 0.0, 0.4], [1.0]]
    family = CategoricalFamily([3, 5, 1])
    log_p = torch.cat([torch.tensor(p).log() for p in probabilities])
    torch.manual_seed(0)
    draws = family.sample(log_p.expand(2, 100_000, 9)).reshape(-1, 3).long()
    for j, p in enumerate(probabilities):
        shares = torch.bincount(draws[:, j], minlength=len(p)) / len(draws)
        assert_allclose(shares.numpy(), p, atol=0.004)  # about 4 standard errors


def test_categorical_encoder_sees_one_hot_columns():
    family = CategoricalFamily([3, 2])
    codes = np.array([[2, 0], [0, 1]])
    expected = [[0, 0, 1, 1, 0], [1, 0, 0, 0, 1]]
    assert_array_equal(family.encoder_values(codes), expected)
    assert_array_equal(
        family.encoder_values(torch.as_tensor(codes, dtype=torch.float32)), expected
    )


# ------------------------------------------------------------ per-column families


def test_auto_gives_each_column_a_family_from_its_dtype(table, make_vae):
    vae = make_vae(likelihood="auto").fit(table)
    assert vae.likelihoods_ == {
        "mass": "gaussian",
        "bill": "gaussian",
        "year": "gaussian",
        "male": "bernoulli",
        "species": "categorical",
        "island": "categorical",
    }
    assert vae.transform(table).shape == (len(table), 2)
    assert np.isfinite(vae.score_samples(table)).all()


def test_pd_na_and_none_in_object_cells_are_missing_cells(make_vae):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    X[:, 2] = rng.rand(60) < 0.5
    holed = X.copy()
    holed[[1, 7], 0] = np.nan
    holed[4, 2] = np.nan
    objects = holed.astype(object)
    objects[:, 2] = [bool(v) if v == v else None for v in holed[:, 2]]
    objects[1, 0], objects[7, 0] = pd.NA, None
    vae = make_vae().fit(objects)
    # numbers beside pd.NA stay numbers, and Python booleans are Bernoulli
    assert vae.likelihoods_ == {0: "gaussian", 1: "gaussian", 2: "bernoulli"}
    as_nan = make_vae(likelihood={2: "bernoulli"}).fit(holed)
    assert_allclose(vae.score_samples(objects), as_nan.score_samples(holed))
    assert_allclose(vae.transform(objects), as_nan.transform(holed))
    frame = pd.DataFrame(
        {"a": pd.array([1, 2, None, 4] * 15, dtype="Int64"), "b": X[:, 1]}
    )
    fitted = make_vae().fit(frame)
    row = frame.head(3).astype(object)  # as assigning pd.NA to a cell may leave it
    row.iloc[0, 0] = pd.NA
    assert np.isfinite(fitted.score_samples(row)).all()


@pytest.mark.parametrize("method", ["transform", "score_samples"])
def test_integer_labels_where_fit_had_names_warn_once(table, make_vae, method):
    numbers = table[["mass", "bill", "year"]]
    vae = make_vae().fit(numbers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        by_position = getattr(vae, method)(pd.DataFrame(numbers.to_numpy()))
    # the table's check of its columns, then scikit-learn's again: two warnings
    assert [str(w.message)[:36] for w in caught] == [
        "X does not have valid feature names,"
    ]
    assert_allclose(by_position, getattr(vae, method)(numbers))


@pytest.mark.short_fits
def test_a_detectors_fit_warns_once_for_rows_without_fits_names(table):
    # its threshold scored the caller's rows again, validating them twice
    from skvae import VAEOutlierDetector

    numbers = table[["mass", "bill", "year"]]
    detector = VAEOutlierDetector(
        hidden_layer_sizes=(8,), max_epochs=3, warm_start=True, random_state=0
    ).fit(numbers)
    offset = detector.offset_
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        detector.fit(pd.DataFrame(numbers.to_numpy()))
    names = [w for w in caught if "valid feature names" in str(w.message)]
    assert len(names) == 1 and detector.offset_ != offset


def test_a_dict_names_families_and_the_rest_follow_auto(table, make_vae):
    vae = make_vae(likelihood={"year": "categorical", "mass": "laplace"}).fit(table)
    assert vae.likelihoods_["year"] == "categorical"
    assert vae.likelihoods_["mass"] == "laplace"
    assert vae.likelihoods_["species"] == "categorical"
    assert vae.likelihoods_["bill"] == "gaussian"


@pytest.mark.parametrize(
    "kind, family",
    [("transformer", "gaussian"), ("detector", "laplace_standardised")],
)
def test_the_default_auto_on_numeric_input_is_the_numeric_family_exactly(
    kind, family, make_vae, make_detector
):
    make = make_vae if kind == "transformer" else make_detector
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4)) @ rng.normal(size=(4, 4))
    frame = pd.DataFrame(X, columns=list("abcd"))
    for data in (X, sparse.csr_matrix(X), frame):
        default, named = make().fit(data), make(likelihood=family).fit(data)
        assert default.likelihood == "auto"
        assert list(default.likelihoods_.values()) == [family] * 4
        assert_array_equal(default.score_samples(data), named.score_samples(data))
    # arrays come back as arrays; a DataFrame as a DataFrame, its dtypes kept
    assert isinstance(make_vae().fit(X).sample(3), np.ndarray)
    assert list(make_vae().fit(frame).sample(3).columns) == list("abcd")


def test_the_default_reads_a_table_with_text_and_booleans(table, make_vae):
    vae = make_vae().fit(table)
    assert vae.likelihoods_["species"] == "categorical"
    assert vae.likelihoods_["male"] == "bernoulli"
    assert vae.likelihoods_["mass"] == "gaussian"
    assert list(vae.sample(5).columns) == list(table.columns)


def test_numbers_in_text_columns_are_levels_with_a_warning(table, make_vae):
    # a frame built from an array of objects, or a CSV read with "?" cells
    frame = pd.DataFrame(table.to_numpy(), columns=table.columns)
    frame["bill"] = frame["bill"].map("{:.1f}".format)  # numbers as text
    with pytest.warns(UserWarning, match=r"'mass' \(300 levels\), 'bill'.*'year'"):
        vae = make_vae().fit(frame)
    assert vae.likelihoods_["mass"] == "categorical"
    kept = frame.astype({"mass": "category", "bill": "category"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_vae(likelihood={"year": "categorical"}).fit(kept)
        make_vae().fit(table)  # numeric dtypes, text that is text


def test_codes_pd_to_numeric_cannot_read_stay_levels_without_a_warning(make_vae):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=60),
            "month": rng.choice(["2023_01", "2023_02"], 60),  # float() reads these
            "huge": pd.Series([10**400, 10**400 + 1] * 30, dtype=object),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vae = make_vae().fit(frame)
    assert vae.likelihoods_["month"] == vae.likelihoods_["huge"] == "categorical"


# text is no boolean, not even "1"; 10**400 stopped float() with an OverflowError
@pytest.mark.parametrize(
    "value", [2, "True", 0.5, "1", pytest.param(10**400, id="10**400")]
)
def test_a_column_of_booleans_refuses_other_values_by_name(table, make_vae, value):
    vae = make_vae().fit(table)
    rows = table.head(3).astype({"male": object})
    rows.loc[rows.index[1], "male"] = value
    with pytest.raises(ValueError, match=r"'male' of X holds .*not a boolean"):
        vae.transform(rows)
    for boolean in (1.0, True, None):  # 1 or 0 as numbers, and missing cells
        rows.loc[rows.index[1], "male"] = boolean
        assert np.isfinite(vae.transform(rows)).all()


def test_a_warm_start_continues_the_default_on_numbers_as_gaussian(table, make_vae):
    numbers = table[["mass", "bill"]].to_numpy()
    vae = make_vae(warm_start=True).fit(numbers)
    vae.set_params(likelihood="gaussian").fit(numbers)  # the same model
    vae.set_params(likelihood="auto").fit(numbers)
    with pytest.raises(ValueError, match="shape changed"):
        vae.set_params(likelihood="laplace").fit(numbers)


def test_arrays_take_families_by_column_position(make_vae):
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=200), rng.randint(3, size=200)])
    vae = make_vae(likelihood={1: "categorical"}).fit(X)
    assert vae.likelihoods_ == {0: "gaussian", 1: "categorical"}
    decoded = vae.sample(50)
    assert isinstance(decoded, np.ndarray) and decoded.shape == (50, 2)
    assert set(np.unique(decoded[:, 1])) <= {0.0, 1.0, 2.0}


def test_feature_log_likelihoods_give_one_term_per_original_column(table, make_vae):
    vae = make_vae(likelihood="auto").fit(table)
    terms = vae.feature_log_likelihoods(table.iloc[10:15])
    assert list(terms.columns) == list(table.columns)
    assert list(terms.index) == list(range(10, 15))
    assert (terms[["species", "island"]] <= 0).all(axis=None)  # of levels
    # a row's terms do not depend on the rows beside it
    whole = vae.feature_log_likelihoods(table)
    assert_allclose(terms.to_numpy(), whole.iloc[10:15].to_numpy(), rtol=1e-5)
    # each term is its own column's: a bill far from its others' lowers the
    # bill's term most
    moved = vae.feature_log_likelihoods(
        table.iloc[10:15].assign(bill=lambda t: t.bill + 10)
    )
    drop = (terms - moved).mean()
    assert drop.idxmax() == "bill" and drop["bill"] > 5 * drop.drop("bill").abs().max()


# ------------------------------------------------------------ tables back out


def test_sample_and_inverse_transform_give_the_training_columns_and_dtypes(
    table, make_vae
):
    vae = make_vae(likelihood="auto").fit(table)
    for decoded in (vae.sample(200), vae.inverse_transform(vae.transform(table))):
        assert list(decoded.columns) == list(table.columns)
        assert (decoded.dtypes == table.dtypes).all()
        assert set(decoded["species"].cat.categories) == set(
            table["species"].cat.categories
        )
        assert set(decoded["island"]) <= {"Biscoe", "Dream"}
        assert decoded["year"].dtype.kind == "i"


def test_latent_rows_in_a_dataframe_decode_under_their_index(table, make_vae):
    vae = make_vae(likelihood="auto").fit(table).set_output(transform="pandas")
    codes = vae.transform(table.iloc[10:15])
    assert list(vae.inverse_transform(codes).index) == list(range(10, 15))
    as_array = vae.inverse_transform(codes.to_numpy())
    assert list(as_array.index) == list(range(5))


def test_a_categorical_model_decodes_its_training_levels(table, make_vae):
    vae = make_vae(likelihood="auto", n_iter_no_change=10, max_epochs=200).fit(table)
    decoded = vae.inverse_transform(vae.transform(table))
    # Gentoo alone is heavier and lives on Biscoe: it is recovered, and the
    # decoded (species, island) pairs are nearly all pairs of the data
    gentoo = table["species"] == "Gentoo"
    assert ((decoded["species"] == "Gentoo") == gentoo).mean() > 0.95
    pairs = set(zip(table["species"], table["island"], strict=True))
    decoded_pairs = zip(decoded["species"], decoded["island"], strict=True)
    assert np.mean([pair not in pairs for pair in decoded_pairs]) < 0.05


# ------------------------------------------------------------------ bad input


def test_a_complex_column_is_refused_by_its_name(table, make_vae):
    complex_table = table.assign(phase=np.exp(1j * np.arange(len(table))))
    with pytest.raises(ValueError, match="Complex data not supported: column 'phase'"):
        make_vae(likelihood="auto").fit(complex_table)


@pytest.mark.parametrize("method", ["transform", "score_samples", "partial_fit"])
def test_complex_numbers_and_lists_after_fit(table, make_vae, method):
    # before: complex numbers lost their imaginary parts with a warning; a
    # list among text levels raised "unhashable type: 'list'", and an array
    # of one level was read as that level
    vae = make_vae(likelihood="auto").fit(table)
    before = pickle.dumps(vae)
    with pytest.raises(ValueError, match="Complex data not supported: column 'mass'"):
        getattr(vae, method)(table.assign(mass=table["mass"] + 1j))
    for cell in (["Dream"], np.array(["Dream"]), {"Dream": 1}):
        odd = table.assign(island=pd.Series([cell] * len(table), dtype=object))
        with pytest.raises(ValueError, match="Column 'island' holds .*Dream.*, which"):
            getattr(vae, method)(odd)
    assert pickle.dumps(vae) == before
    # an unseen level like any other: missing where the user asks for that
    vae.set_params(handle_unknown="missing")
    listed = table.assign(island=[["Dream"]] * len(table))
    assert_allclose(
        vae.score_samples(listed), vae.score_samples(table.assign(island=None))
    )


def test_an_unseen_level_is_refused_naming_the_column_and_value(table, make_vae):
    vae = make_vae(likelihood="auto").fit(table)
    other = table.assign(island=table["island"].replace("Dream", "Torgersen"))
    with pytest.raises(ValueError, match="Column 'island' holds 'Torgersen'"):
        vae.transform(other)


@pytest.mark.parametrize("handle_unknown", ["error", "missing"])
def test_a_value_of_another_type_is_an_unseen_level(table, make_vae, handle_unknown):
    vae = make_vae(likelihood="auto", handle_unknown=handle_unknown).fit(table)
    other = table.head(3).astype({"island": object})
    other.loc[1, "island"] = 7
    if handle_unknown == "error":
        with pytest.raises(ValueError, match="Column 'island' holds 7") as error:
            vae.transform(other)
        # what a stream's levels are, how to read an unseen one instead, and
        # how a stream declares them
        assert "first partial_fit chunk" in str(error.value)
        assert "handle_unknown='missing'" in str(error.value)
        assert "with categories" in str(error.value)
    else:
        terms = vae.feature_log_likelihoods(other)
        assert np.isnan(terms.loc[1, "island"]) and np.isfinite(terms.loc[0, "island"])


def test_text_in_a_numeric_column_is_refused_naming_the_column(table, make_vae):
    vae = make_vae(likelihood="auto").fit(table)
    before = vae.transform(table.head(3))
    other = table.head(3).astype({"bill": object})
    other.loc[1, "bill"] = "forty"
    message = "Column 'bill' of X holds 'forty' in row 1, which is not a number"
    for call in (vae.transform, vae.score_samples, vae.partial_fit):
        with pytest.raises(ValueError, match=message):
            call(other)
    assert_array_equal(vae.transform(table.head(3)), before)


def test_text_for_a_model_of_numbers_is_refused_as_not_a_number(make_vae):
    # before: "which likelihood='auto' cannot model. Use likelihood='auto'"
    X = np.random.RandomState(0).normal(size=(100, 3))
    vae = make_vae().fit(X)
    message = "Column 0 of X holds 'a' in row 0, which is not a number: the model"
    for rows in ([["a", 1.0, 2.0]], pd.DataFrame({0: ["a"], 1: [1.0], 2: [2.0]})):
        for call in (vae.transform, vae.score_samples, vae.partial_fit):
            with pytest.raises(ValueError, match=message):
                call(rows)
    with pytest.raises(ValueError, match="holds an integer beyond float64's"):
        vae.transform(np.array([[10**400, 1.0, 2.0]], dtype=object))  # OverflowError


def test_an_integer_beyond_float64_in_a_table_is_refused_by_name(table, make_vae):
    # before: OverflowError from pandas' astype, in fit under a numeric
    # family and in transform of a table of numbers
    vae = make_vae().fit(table)
    rows = table.head(3).astype({"mass": object})
    rows.loc[rows.index[1], "mass"] = 10**400
    message = "Column 'mass' of X holds an integer beyond float64's range"
    for call in (vae.transform, vae.score_samples, vae.partial_fit):
        with pytest.raises(ValueError, match=message):
            call(rows)
    objects = table.astype({"mass": object})
    objects.loc[objects.index[1], "mass"] = 10**400
    with pytest.raises(ValueError, match=message):
        make_vae(likelihood={"mass": "gaussian"}).fit(objects)


def test_long_values_are_abridged_in_messages(table, make_vae):
    vae = make_vae().fit(table)
    rows = table.head(3).astype({"male": object})
    rows.loc[rows.index[1], "male"] = 10**400
    with pytest.raises(ValueError) as error:
        vae.transform(rows)
    assert "'male' of X holds 1000000000" in str(error.value)
    assert "(401 characters)" in str(error.value) and len(str(error.value)) < 300


@pytest.mark.parametrize("likelihood", ["auto", "gaussian"])
@pytest.mark.parametrize(
    "column",
    [
        pd.date_range("2020-01-01", periods=300),
        pd.date_range("2020-01-01", periods=300, tz="UTC"),
        pd.to_timedelta(np.arange(300), unit="D"),
    ],
)
def test_dates_and_durations_are_refused_naming_the_column(
    table, make_vae, likelihood, column
):
    dated = table[["mass", "bill"]].assign(when=column)
    with pytest.raises(ValueError, match="Column 'when' of X holds dates or durations"):
        make_vae(likelihood=likelihood).fit(dated)
    numeric = make_vae(likelihood=likelihood).fit(dated.assign(when=1.0))
    with pytest.raises(ValueError, match="Column 'when' of X holds dates"):
        numeric.transform(dated)


def test_periods_and_arrow_times_are_refused_naming_the_column(table, make_vae):
    months = pd.period_range("2020-01", periods=len(table), freq="M")
    columns = [months, np.asarray(months, dtype=object)]  # period dtype, Periods
    pa = pytest.importorskip("pyarrow")
    hours = [datetime.time(i % 24) for i in range(len(table))]
    columns.append(pd.array(hours, dtype=pd.ArrowDtype(pa.time64("us"))))
    for column in columns:
        dated = table[["mass", "bill"]].assign(when=column)
        with pytest.raises(ValueError, match="Column 'when' of X holds dates"):
            make_vae().fit(dated)


@pytest.mark.short_fits
def test_an_arrow_dictionary_of_integers_comes_back_in_its_dtype(make_vae):
    pa = pytest.importorskip("pyarrow")
    rng = np.random.RandomState(0)
    codes = pa.array(rng.randint(0, 3, 60)).dictionary_encode()
    dtype = pd.ArrowDtype(codes.type)
    X = pd.DataFrame({"x": rng.normal(size=60), "k": pd.Series(codes, dtype=dtype)})
    vae = make_vae(max_epochs=2).fit(X)
    rows = vae.sample(5, random_state=0)
    assert rows["k"].dtype == dtype and rows["k"].isin([0, 1, 2]).all()
    decoded = vae.inverse_transform(vae.transform(X[:3]))
    assert decoded["k"].dtype == dtype
    holed = X.copy()
    holed.loc[[1, 4], "k"] = None
    filled = VAEImputer(hidden_layer_sizes=(8,), max_epochs=2).fit_transform(holed)
    assert filled["k"].dtype == dtype and filled["k"].notna().all()
    assert_array_equal(filled["k"].drop([1, 4]), X["k"].drop([1, 4]))


def test_a_frame_of_no_rows_gets_scikit_learns_message(make_vae):
    empty = pd.DataFrame({"x": [1.0], "c": ["a"]}).iloc[:0]
    for model in (make_vae(), VAEImputer()):
        with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
            model.fit(empty)


DAYS = np.datetime64("2020-01-01") + np.arange(40)
NUMBERS = np.arange(40.0)


@pytest.mark.parametrize(
    "X, name, held",
    [
        # arrays were read as numbers (days since 1970), objects as levels
        (DAYS[:, None], "0", "dtype datetime64"),
        ((DAYS - DAYS[0])[:, None], "0", "dtype timedelta64"),
        (
            np.column_stack([NUMBERS.astype(object), np.array(list(DAYS), object)]),
            "1",
            "datetime64 objects",
        ),
        ([[x, day.item()] for x, day in zip(NUMBERS, DAYS, strict=True)], "1", "date"),
        (
            pd.DataFrame({"x": NUMBERS, "when": [None, *DAYS[1:].tolist()]}),
            "'when'",
            "date objects",
        ),
    ],
)
def test_dates_in_arrays_lists_and_objects_are_refused_naming_the_column(
    make_vae, X, name, held
):
    with pytest.raises(ValueError, match=f"Column {name} of X holds dates .*{held}"):
        make_vae(likelihood="auto").fit(X)


@pytest.mark.short_fits
def test_columns_of_booleans_in_rows_come_back_whole(make_vae):
    from skvae import VAEImputer

    rng = np.random.RandomState(0)
    rows = [[rng.normal(), [True, False, None, True][i % 4]] for i in range(80)]
    imputer = VAEImputer(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    filled = imputer.fit(rows).transform(rows)[:, 1]
    # as booleans, as in a DataFrame: they came back as 0.0 and 1.0
    assert {type(value) for value in filled} == {bool}
    vae = make_vae(likelihood="auto").fit(rows)
    assert vae.likelihoods_[1] == "bernoulli"
    for decoded in (vae.inverse_transform(vae.transform(rows[:3])), vae.sample(5)):
        assert {type(value) for value in decoded[:, 1]} == {bool}
    with_missing = vae.sample(80, missing_cells=True, random_state=0)[:, 1]
    assert {type(value) for value in with_missing} == {bool, type(None)}


@pytest.mark.short_fits
def test_an_array_of_booleans_comes_back_as_one(make_vae):
    # before: an array of objects, each a Python bool
    X = np.random.RandomState(0).rand(60, 3) > 0.5
    vae = make_vae(likelihood="auto").fit(X)
    assert set(vae.likelihoods_.values()) == {"bernoulli"}
    for decoded in (
        vae.sample(5),
        vae.sample(5, missing_cells=True),  # the array has no missing cell
        vae.inverse_transform(vae.transform(X[:3])),
    ):
        assert decoded.dtype == bool
    # objects in, objects out
    assert make_vae(likelihood="auto").fit(X.astype(object)).sample(2).dtype == object


@pytest.mark.short_fits
def test_a_stream_that_brings_missing_cells_to_int_and_bool_columns(table, make_vae):
    table = table[["mass", "year", "male"]]
    later = table.assign(
        year=table["year"].where(np.arange(len(table)) % 3 > 0),
        male=table["male"].where(np.arange(len(table)) % 4 > 0),
    )
    vae = make_vae(likelihood="auto").partial_fit(table).partial_fit(later)
    # the training dtypes cannot hold them: pandas' nullable twins can
    rows = vae.sample(60, missing_cells=True, random_state=0)
    assert rows.dtypes.to_dict() == {
        "mass": np.float64,
        "year": pd.Int64Dtype(),
        "male": pd.BooleanDtype(),
    }
    assert rows[["year", "male"]].isna().any().all()
    assert vae.sample(5).dtypes.to_dict() == table.dtypes.to_dict()


@pytest.mark.short_fits
@pytest.mark.parametrize("dtype", ["UInt8", "Int8", "boolean"])
def test_missing_cells_come_back_in_nullable_columns(make_vae, dtype):
    rng = np.random.RandomState(0)
    flags = rng.randint(0, 2, size=120).astype(object)
    flags[::3] = None
    frame = pd.DataFrame({"x": rng.normal(size=120), "n": pd.array(flags, dtype=dtype)})
    # "UInt8" came back as "Uint8", which pandas does not know
    rows = make_vae(likelihood="auto").fit(frame).sample(60, missing_cells=True)
    assert rows["n"].dtype == frame["n"].dtype and rows["n"].isna().any()


@pytest.mark.short_fits
def test_a_stream_that_brings_missing_cells_to_an_unsigned_column(make_vae):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"x": rng.normal(size=120), "n": rng.randint(0, 9, 120)})
    frame = frame.astype({"n": np.uint8})
    later = frame.assign(n=frame["n"].where(np.arange(120) % 3 > 0))
    vae = make_vae(likelihood="auto").partial_fit(frame).partial_fit(later)
    rows = vae.sample(60, missing_cells=True, random_state=0)
    assert rows["n"].dtype == pd.UInt8Dtype() and rows["n"].isna().any()


@pytest.mark.short_fits
def test_python_booleans_in_a_frame_are_bernoulli_and_come_back_as_booleans(make_vae):
    from skvae import VAEImputer

    rng = np.random.RandomState(0)
    flags = [[True, False, None, True][i % 4] for i in range(80)]
    frame = pd.DataFrame({"x": rng.normal(size=80), "flag": flags})  # object dtype
    vae = make_vae().fit(frame)
    assert vae.likelihoods_ == {"x": "gaussian", "flag": "bernoulli"}
    for rows in (
        vae.sample(20, random_state=0),
        vae.inverse_transform(np.zeros((3, 2))),
    ):
        assert rows["flag"].dtype == object
        assert {type(value) for value in rows["flag"]} == {bool}
    imputer = VAEImputer(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    filled = imputer.fit(frame).transform(frame)
    assert filled["flag"][2] in (True, False) and type(filled["flag"][2]) is bool


@pytest.mark.short_fits
def test_columns_labelled_by_integers_are_named_by_their_labels(make_vae):
    # scikit-learn keeps no feature_names_in_ for such labels; positions would
    # name other columns than the labels of ``likelihood`` and ``condition_on``.
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({5: rng.normal(size=40), 0: rng.normal(size=40)})
    frame[1] = rng.rand(40) < 0.5
    vae = make_vae(likelihood={0: "laplace"}).fit(frame)
    assert vae.likelihoods_ == {5: "gaussian", 0: "laplace", 1: "bernoulli"}
    bad = frame.copy()
    bad.iloc[3, 1] = np.inf  # the column labelled 0, at position 1
    with pytest.raises(ValueError, match="Column 0 of X holds inf in row 3"):
        vae.score_samples(bad)
    items = pd.DataFrame((rng.rand(40, 4) < 0.5) * 1.0, columns=[101, 205, 307, 409])
    recommender = make_vae(likelihood="multinomial").fit(items)
    top, _ = recommender.recommend(items.head(3), n=2, filter_seen=False)
    assert set(top.ravel()) <= {101, 205, 307, 409}
    # scikit-learn checks only string names: reordered, these would be read
    # as the wrong columns
    with pytest.raises(ValueError, match="column 0 is labelled 205, but was 101"):
        recommender.recommend(items[[205, 101, 307, 409]].head(3), n=2)
    with pytest.raises(ValueError, match="column 0 is labelled 0, but was 5"):
        vae.transform(frame[[0, 5, 1]])


TUPLES = [("size", "cm"), ("mass", "g"), ("kind", "")]


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "labels",
    [
        pd.Index(TUPLES, tupleize_cols=False),
        pd.MultiIndex.from_tuples(TUPLES, names=["what", "unit"]),
    ],
    ids=["flat", "multiindex"],
)
def test_columns_labelled_by_tuples_come_back_labelled_as_in_fit(make_vae, labels):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {0: rng.normal(size=60), 1: rng.normal(size=60), 2: rng.choice(["a", "b"], 60)}
    ).set_axis(labels, axis=1)
    vae = make_vae(likelihood="auto", max_epochs=2).fit(frame)
    decoded_frames = (
        vae.sample(5),
        vae.inverse_transform(vae.transform(frame[:5])),
        vae.feature_log_likelihoods(frame[:5]),
    )
    for decoded in decoded_frames:
        # equals() alone finds a flat Index equal to a MultiIndex of its tuples
        assert type(decoded.columns) is type(labels)
        assert decoded.columns.equals(labels)
        assert decoded.columns.names == labels.names
    vae.transform(decoded_frames[0])


def test_text_columns_without_a_family_are_refused_naming_the_column(table, make_vae):
    vae = make_vae(likelihood="gaussian")
    with pytest.raises(ValueError, match="Column 'species' of X has dtype category"):
        vae.fit(table)
    assert not hasattr(vae, "module_") and not hasattr(vae, "likelihoods_")


@pytest.mark.parametrize(
    "likelihood, message",
    [
        ({"weight": "gaussian"}, "column 'weight', which is not among"),
        ({"mass": "lognormal"}, "the family 'lognormal'"),
        # before: a bare "unhashable type: 'list'"
        ({"mass": ["gaussian"]}, r"column 'mass' the family \['gaussian'\]"),
    ],
)
def test_a_bad_dict_is_refused(table, make_vae, likelihood, message):
    with pytest.raises(ValueError, match=message):
        make_vae(likelihood=likelihood).fit(table)


def test_categorical_columns_take_dense_x(make_vae):
    X = sparse.random(50, 4, density=0.5, format="csr", random_state=0)
    with pytest.raises(ValueError, match="takes dense X"):
        make_vae(likelihood="categorical").fit(X)


def test_a_model_of_a_frame_of_numbers_reads_sparse_rows(table, make_vae):
    # before: "This model chose a family per column, which takes dense X",
    # where a model of the same numbers as an array read them
    numbers = table[["mass", "bill"]]
    vae = make_vae().fit(numbers)
    rows = numbers.to_numpy(np.float64)
    with pytest.warns(UserWarning, match="feature names"):  # fitted with names
        latents, dense = vae.transform(sparse.csr_matrix(rows)), vae.transform(rows)
    assert_allclose(latents, dense, atol=1e-5)  # float32 sums in another order
    flags = pd.DataFrame({"male": table["male"], "heavy": table["mass"] > 4.5})
    flags = flags.fillna(False).astype(bool)
    vae = make_vae().fit(flags)
    rows = flags.to_numpy(np.float64, copy=True)  # pandas 3 gives a read-only view
    rows[1, 0] = 2.0  # a boolean column's stored values are checked
    with pytest.warns(UserWarning, match="feature names"):
        with pytest.raises(
            ValueError, match="'male' of X holds 2.0 in row 1, which is not a"
        ):
            vae.transform(sparse.csr_matrix(rows))
    vae = make_vae().fit(table)
    rows = sparse.csr_matrix(np.ones((2, table.shape[1])))
    with pytest.warns(UserWarning, match="feature names"):
        with pytest.raises(ValueError, match="as bernoulli and categorical and gaus"):
            vae.transform(rows)


def test_input_dropout_is_refused_with_categorical_columns(table, make_vae):
    with pytest.raises(ValueError, match="of 'categorical' columns, which the enc"):
        make_vae(likelihood="auto", input_dropout=0.5).fit(table)


def test_input_dropout_is_refused_with_atoms(table, make_vae):
    # a kept 2008 would reach the encoder as 4016, no atom at all
    numbers = table[["mass", "bill", "year"]]
    vae = make_vae(likelihood={"year": "inflated_gaussian"}, input_dropout=0.5)
    with pytest.raises(ValueError, match="of 'inflated_gaussian' columns"):
        vae.fit(numbers)


def test_decoded_numbers_stay_in_their_training_range(table, make_vae):
    vae = make_vae(likelihood="auto").fit(table)
    # the model's own draws (the default map keeps numbers in range by
    # itself) and the decoded means of codes far from the training ones
    far = np.full((3, vae.latent_dim), 6.0)
    for decoded in (vae.sample(2000, marginals="model"), vae.inverse_transform(far)):
        for name in ("mass", "bill", "year"):
            assert table[name].min() <= decoded[name].min()
            assert decoded[name].max() <= table[name].max()
        assert set(decoded["year"]) <= {2007, 2008, 2009}


@pytest.mark.short_fits
@pytest.mark.parametrize("dtype", ["int64", "uint64", "Int64"])
def test_integers_near_their_dtypes_limit_do_not_wrap_around(make_vae, dtype):
    # the float64 of int64's maximum is 2**63, which a cast wraps to the minimum
    top = np.iinfo(dtype.lower()).max
    offsets = np.random.RandomState(0).randint(0, 3, size=100).astype(np.uint64)
    ids = pd.Series(top - offsets).astype(dtype)
    table = pd.DataFrame({"id": ids, "x": np.linspace(0, 1, 100)})
    vae = make_vae(likelihood="auto", max_epochs=2).fit(table)
    # within float64's spacing there (2048) of the training range
    for decoded in (vae.sample(50), vae.inverse_transform(np.zeros((1, 2)))):
        assert decoded["id"].dtype == table["id"].dtype
        gaps = [int(top) - int(value) for value in decoded["id"]]
        assert min(gaps) >= 0 and max(gaps) <= 2048


@pytest.mark.short_fits
def test_an_imputer_fills_integers_near_their_dtypes_limit():
    from skvae import VAEImputer

    top = np.iinfo(np.int64).max
    table = pd.DataFrame(
        {"id": pd.array(top - np.arange(100) % 3, dtype="Int64"), "x": np.arange(100.0)}
    )
    table.loc[0, "id"] = pd.NA
    filled = VAEImputer(max_epochs=2, random_state=0).fit_transform(table)
    assert filled["id"].dtype == "Int64"
    assert 0 <= top - int(filled.loc[0, "id"]) <= 2048


def test_an_unseen_level_can_count_as_missing(table, make_vae):
    vae = make_vae(likelihood="auto", handle_unknown="missing").fit(table)
    other = table.assign(island=table["island"].replace("Dream", "Torgersen"))
    terms = vae.feature_log_likelihoods(other)
    unseen = other["island"] == "Torgersen"
    assert np.isnan(terms.loc[unseen, "island"]).all()
    assert np.isfinite(terms.loc[~unseen, "island"]).all()
    assert_allclose(vae.transform(other)[~unseen], vae.transform(table)[~unseen])


def test_a_row_of_unseen_levels_only_is_refused_saying_why(make_vae):
    levels = pd.DataFrame({"c": list("xy") * 40, "d": list("pqrs") * 20})
    vae = make_vae(likelihood="auto", handle_unknown="missing").fit(levels)
    unseen = pd.DataFrame({"c": ["new", "x"], "d": ["new", "p"]})
    # the row holds no NaN: the message used to say "all NaN" only
    message = "Row 0 of X has no observed cell .*levels unseen in fit"
    with pytest.raises(ValueError, match=message):
        vae.transform(unseen)
    with pytest.raises(ValueError, match=message):
        vae.partial_fit(unseen)


@pytest.mark.short_fits
def test_partial_fit_continues_a_table_model_and_sees_a_changed_likelihood(
    table, make_vae
):
    vae = make_vae(likelihood="auto").partial_fit(table)
    vae.partial_fit(table)
    assert vae.n_iter_ == 2
    vae.set_params(likelihood={"year": "categorical"})
    with pytest.raises(
        ValueError, match="models column 'year' as 'gaussian', but likelihood="
    ):
        vae.partial_fit(table)
    # a likelihood that gives every column the family it has changes nothing
    restated = dict(vae.likelihoods_)
    vae.set_params(likelihood=restated)
    vae.partial_fit(table)
    assert vae.n_iter_ == 3
    restated["year"] = "laplace"  # the caller's dict, changed in place
    with pytest.raises(ValueError, match="models column 'year' as 'gaussian'"):
        vae.partial_fit(table)
    # a chunk of another width gets scikit-learn's message, not the layout's
    with pytest.raises(ValueError, match="feature names should match"):
        vae.set_params(likelihood={"year": "gaussian"}).partial_fit(table.iloc[:, 1:])
    warm = make_vae(warm_start=True, max_epochs=2).fit(table)
    warm.set_params(likelihood={"island": "categorical"}).fit(table)  # auto's choice
    assert warm.n_iter_ == 4


def test_reordered_columns_get_scikit_learns_message(table, make_vae):
    vae = make_vae(likelihood="auto").fit(table)
    with pytest.raises(ValueError, match="same order"):
        vae.transform(table[table.columns[::-1]])


def test_numbers_held_as_categories_still_convert_under_one_family(make_vae):
    X = pd.DataFrame({"a": pd.Categorical([1.0, 2.0, 3.0] * 20), "b": range(60)})
    vae = make_vae(likelihood="gaussian").fit(X)
    assert vae.likelihoods_ == {"a": "gaussian", "b": "gaussian"}


def test_text_arrays_keep_numbers_as_numbers(make_vae):
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=80), rng.choice(["u", "v"], size=80)])
    decoded = make_vae(likelihood={1: "categorical"}).fit(X.astype(object)).sample(5)
    assert isinstance(decoded[0, 0], float) and decoded[0, 1] in ("u", "v")


def test_input_dropout_set_later_is_refused_with_categorical_columns(table, make_vae):
    vae = make_vae(likelihood="auto").partial_fit(table)
    vae.set_params(input_dropout=0.5)
    with pytest.raises(ValueError, match="of 'categorical' columns, which the enc"):
        vae.partial_fit(table)


@pytest.mark.parametrize(
    "column, likelihood, message",
    [
        (np.array([1, "a"] * 30, dtype=object), "auto", "types int, str"),
        (np.array(["a", "b"] * 30, dtype=object), {1: "gaussian"}, "as 'gaussian'"),
    ],
)
def test_columns_a_family_cannot_take_are_named(make_vae, column, likelihood, message):
    X = np.column_stack([np.arange(60.0), column]).astype(object)
    with pytest.raises(
        ValueError, match=f"Column 1 of X cannot be modelled.*{message}"
    ):
        make_vae(likelihood=likelihood).fit(X)


def test_a_one_hot_wider_than_working_memory_reaches_the_pca_start_sparse(
    table, make_vae
):
    table = table.copy()
    table.loc[3, "mass"] = np.nan  # a missing cell, filled with the mean
    vae = make_vae(likelihood="auto").fit(table)
    X = vae._validate_X(table, reset=False)
    likelihood = vae.module_.likelihood
    dense, scale, missing = likelihood.encoder_features(X)
    with sklearn.config_context(working_memory=0.001):  # about 1 kB
        wide, wide_scale, wide_missing = likelihood.encoder_features(X)
    assert not sparse.issparse(dense) and sparse.issparse(wide)
    assert_allclose(wide.toarray(), dense)
    assert_array_equal(wide_scale, scale)
    assert not np.isnan(dense).any()
    # which dense cells were missing: the mass of row 3 alone
    assert missing is not None and wide_missing is None
    assert missing.sum() == 1 and missing[3].any()


@pytest.mark.short_fits
@pytest.mark.parametrize("family", ["gaussian", "continuous_bernoulli", "poisson"])
def test_a_boolean_column_under_another_family_decodes_to_its_nearer_value(
    make_vae, family
):
    # before: only exactly 1 was True, so a Gaussian mean of 0.73 was False
    rng = np.random.RandomState(0)
    table = pd.DataFrame({"a": rng.rand(200) < 0.7, "b": rng.randn(200)})
    vae = make_vae(likelihood={"a": family}).fit(table)
    decoded = vae.inverse_transform(vae.transform(table))
    assert decoded["a"].dtype == bool
    assert decoded["a"].mean() > 0.5  # most rows are True
    assert vae.sample(400, random_state=0)["a"].mean() > 0.5


@pytest.mark.short_fits
def test_a_category_column_of_numbers_under_a_numeric_family_decodes_to_categories(
    make_vae,
):
    # before: decoded numbers between the categories became missing cells
    rng = np.random.RandomState(0)
    rating = pd.Categorical(rng.randint(1, 6, 60), categories=[1, 2, 3, 4, 5])
    table = pd.DataFrame({"r": rating, "b": rng.randn(60)})
    vae = make_vae(likelihood={"r": "gaussian"}).fit(table)
    for rows in (vae.inverse_transform(vae.transform(table)), vae.sample(50)):
        assert rows["r"].dtype == table["r"].dtype
        assert rows["r"].notna().all() and set(rows["r"]) <= {1, 2, 3, 4, 5}


@pytest.mark.short_fits
def test_text_in_a_numeric_column_is_named_in_a_table_without_levels(make_vae):
    # before: NumPy's "could not convert string to float: 'three'"
    rng = np.random.RandomState(0)
    table = pd.DataFrame({"cnt": rng.poisson(2, 40), "b": rng.randn(40)})
    vae = make_vae(likelihood={"cnt": "poisson"}).fit(table)
    bad = table.astype(object)
    bad.loc[2, "cnt"] = "three"
    with pytest.raises(ValueError, match="'cnt' of X holds 'three' in row 2, which is"):
        vae.transform(bad)
    assert_allclose(vae.transform(table.astype(object)), vae.transform(table))


@pytest.mark.short_fits
def test_a_frame_of_pandas_sparse_columns_decodes_to_their_dense_dtypes(make_vae):
    counts = np.random.RandomState(0).poisson(1.0, size=(60, 3))
    frame = pd.DataFrame.sparse.from_spmatrix(sparse.csr_matrix(counts))
    vae = make_vae(max_epochs=2).fit(frame)  # the rows' decoded dtype raised
    assert (vae.sample(4, random_state=0).dtypes == np.int64).all()
    assert (vae.inverse_transform(vae.transform(frame[:3])).dtypes == np.int64).all()
    vae.partial_fit(frame)  # continuing read a sparse column's range: it raised
    assert vae.n_iter_ == 3


@pytest.mark.short_fits
def test_an_object_column_with_missing_cells_comes_back_as_objects(make_vae):
    # pandas 3 read the column, its missing cells made NaN, as its str dtype
    table = pd.DataFrame({"o": pd.Series(["x", "y"] * 20, dtype=object)})
    table["f"] = np.arange(40.0)
    table.loc[0, "o"] = None
    vae = make_vae(max_epochs=2).fit(table)
    assert vae.sample(3, random_state=0)["o"].dtype == object
    assert vae.inverse_transform(vae.transform(table[:3]))["o"].dtype == object


@pytest.mark.short_fits
@pytest.mark.parametrize("dtype", [object, "string"])
def test_text_where_fit_had_numbers_is_named_whatever_its_dtype(make_vae, dtype):
    numbers = pd.DataFrame({"s": np.arange(20.0), "f": np.arange(20.0)})
    vae = make_vae(max_epochs=2).fit(numbers)
    text = numbers.assign(s=pd.Series(["a", "b"] * 10, dtype=dtype))
    with pytest.raises(
        ValueError, match="Column 's' of X holds 'a' in row 0, which is not"
    ):
        vae.transform(text)


@pytest.mark.short_fits
def test_a_missing_cell_of_an_object_text_column_comes_back_none(make_vae):
    # pandas 3 read the decoded levels and None as its str dtype: None as NaN
    table = pd.DataFrame({"f": np.arange(40.0)})
    table["s"] = pd.Series(["a", "b", None, "a"] * 10, dtype=object)
    vae = make_vae(max_epochs=2).fit(table)
    column = vae.sample(200, missing_cells=True, random_state=0)["s"]
    missing = [value for value in column if not isinstance(value, str)]
    assert missing and all(value is None for value in missing)


def test_object_arrays_are_read_for_dates_without_pandas(monkeypatch):
    # pandas is not a dependency: the check of periods imported it for any
    # array of objects
    from skvae._table import refuse_time_columns

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails
    refuse_time_columns(np.array([[1.0, "a"], [2.0, "b"]], dtype=object))
    with pytest.raises(ValueError, match="Column 1 of X holds dates"):
        refuse_time_columns(np.array([[1.0, datetime.date(2020, 1, 1)]], dtype=object))


@pytest.mark.short_fits
@pytest.mark.parametrize("n_rows", [40, 1200])  # lookups by sort, then by hash
def test_levels_and_codes_of_objects_are_those_sorting_finds(make_vae, n_rows):
    # Levels found by hashing must be the values np.unique keeps: equal
    # values of other types (1 and True, 0.0 and -0.0, 'a' and np.str_('a'))
    # or unhashable ones are sorted instead (a first version of the hashing
    # returned other, equal values, refused lists, and overflowed on
    # 10**400 beyond 1,000 cells).
    from fractions import Fraction

    rng = np.random.RandomState(0)
    columns = {
        "mixed": [2, 1, True, 1.0],
        "zeros": [-0.0, 0.0, 1.0],
        "text": ["a", np.str_("a"), "b"],
        "lists": [[1], [2]],
        "huge": [10**400, 1],
        "plain": ["x", "y", "z"],
    }
    table = pd.DataFrame(
        {
            name: pd.Series(
                [values[i] for i in rng.randint(len(values), size=n_rows)],
                dtype=object,
            )
            for name, values in columns.items()
        }
    )
    likelihood = dict.fromkeys(columns, "categorical")
    vae = make_vae(likelihood=likelihood).fit(table)
    for j, name in enumerate(columns):
        expected = np.unique(table[name].to_numpy())
        assert list(map(repr, vae._table_layout.levels[j])) == list(map(repr, expected))
    assert np.isfinite(vae.transform(table)).all()
    # each distinct value read once only where all are text: 0.5 and
    # Fraction(1, 2) are equal, but only one reads as a number
    halves = pd.DataFrame(
        {"d": pd.Series([0.5, Fraction(1, 2), 1.5] * 10, dtype=object)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_vae().fit(halves)
