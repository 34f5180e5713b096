"""condition_on: a conditional VAE, p(x | c), with c read from columns of X."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from scipy.stats import norm
from sklearn import config_context
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from skvae import VAEImputer, VAETransformer
from skvae._layout import left_by_conditions
from skvae._likelihoods import VARIANCE_PRIOR_ROWS


@pytest.fixture(scope="module")
def groups():
    """A group shifts two columns; a numeric covariate shifts a third."""
    rng = np.random.RandomState(0)
    group = rng.choice(["a", "b", "c"], size=600)
    shift = pd.Series(group).map({"a": -4.0, "b": 0.0, "c": 4.0}).to_numpy()
    dose = rng.uniform(0, 2, size=600)
    factor = rng.normal(size=600)
    return pd.DataFrame(
        {
            "group": pd.Categorical(group),
            "x1": shift + factor + 0.2 * rng.normal(size=600),
            "dose": dose,
            "x2": shift - factor + 0.2 * rng.normal(size=600),
            "x3": 3.0 * dose + 0.2 * rng.normal(size=600),
        }
    )


def make_vae(**params):
    defaults = {"hidden_layer_sizes": (32,), "likelihood": "auto", "random_state": 0}
    return VAETransformer(1, **{**defaults, **params})


@pytest.fixture(scope="module")
def conditional(groups):
    return make_vae(condition_on=["group", "dose"]).fit(groups)


@pytest.mark.short_fits
@pytest.mark.parametrize("output", ["pandas", "polars"])
def test_conditions_are_encoded_whatever_transform_output_is_set_to(groups, output):
    # before: under set_config(transform_output="polars") fit raised
    # AttributeError, and under "pandas" sample raised a ValueError: the
    # conditions' encoder gave DataFrames where the network takes arrays
    if output == "polars":
        pytest.importorskip("polars")
    # one thread each: the same sums in the same order
    settings = {"condition_on": ["group", "dose"], "max_epochs": 2, "n_threads": 1}
    expected = make_vae(**settings).fit(groups)
    with config_context(transform_output=output):
        vae = make_vae(**settings).fit(groups)
        codes = vae.transform(groups).to_numpy()
        rows = vae.sample(3, conditions={"group": "b", "dose": 1.0})
    np.testing.assert_allclose(codes, expected.transform(groups), rtol=1e-6)
    assert rows.shape == (3, groups.shape[1])


@pytest.mark.short_fits
def test_a_likelihood_dict_names_an_arrays_columns_by_their_positions_in_x():
    rng = np.random.RandomState(0)
    levels = rng.randint(0, 3, size=(200, 2)).astype(float)
    X = np.column_stack([rng.normal(size=200), levels])
    fast = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    # the positions used to count the modelled columns only: {1: ...} gave
    # column 2 the family, and {2: ...} was refused as beyond the last one
    vae = make_vae(condition_on=0, likelihood={1: "categorical"}, **fast).fit(X)
    assert vae.likelihoods_ == {1: "categorical", 2: "gaussian"}
    vae = make_vae(condition_on=1, likelihood={2: "categorical"}, **fast).fit(X)
    assert vae.likelihoods_ == {0: "gaussian", 2: "categorical"}
    # messages name columns by the same positions
    text = np.column_stack([X[:, :2], np.resize(["a", "b"], 200)]).astype(object)
    vae = make_vae(condition_on=0, **fast).fit(text)
    unseen = text[:2].copy()
    unseen[0, 2] = "zzz"
    with pytest.raises(ValueError, match="Column 2 holds 'zzz'"):
        vae.transform(unseen)
    with pytest.raises(ValueError, match="Column 2 of X cannot be modelled"):
        make_vae(condition_on=0, likelihood={2: "gaussian"}, **fast).fit(text)
    for X_named, condition in ((X, 1), (pd.DataFrame(X, columns=list("abc")), "b")):
        vae = make_vae(condition_on=condition, likelihood={condition: "categorical"})
        with pytest.raises(ValueError, match="which condition_on makes a condition"):
            vae.fit(X_named)


def test_a_conditional_model_starts_at_the_variance_the_conditions_leave(groups):
    # before: at 1, the columns' whole variance, which training took hundreds
    # of epochs to leave (a held-out log-likelihood 3 nats a row too low)
    with pytest.warns(ConvergenceWarning):  # one Adam step
        vae = make_vae(condition_on=["group", "dose"], max_epochs=1, batch_size=600)
        vae.fit(groups)
    family = vae.module_.likelihood.families[0]
    # a linear regression on the conditions (an intercept, a numeric one and
    # two of the three groups' indicators: 4 coefficients), then one principal
    # component of what it leaves: the share of each column's variance left
    # after both, weighed against the prior, centred on what the regression
    # leaves (its 4 coefficients counted) rather than on the whole variance
    x = groups[["x1", "x2", "x3"]].to_numpy()
    conditions = pd.get_dummies(groups[["group", "dose"]]).to_numpy(float)
    residuals = x - LinearRegression().fit(conditions, x).predict(conditions)
    scaled = residuals / x.std(0)
    pca = PCA(1).fit(scaled)
    explained = pca.explained_variance_[0] * 599 / 600  # of ddof 0, as var's
    left = scaled.var(0) - explained * pca.components_[0] ** 2
    share = left / (x / x.std(0)).var(0)
    centre = 600 / (600 - 4) * scaled.var(0)
    expected = (600 * share + VARIANCE_PRIOR_ROWS * centre) / (
        600 + VARIANCE_PRIOR_ROWS
    )
    np.testing.assert_allclose(family.variance_prior_centre.cpu(), centre, rtol=1e-4)
    np.testing.assert_allclose(
        family.standardised_variance().detach().cpu(), expected, rtol=0.01
    )
    assert (expected < 0.02).all()  # far from 1


def _prior_centre(vae) -> np.ndarray:
    family = vae.module_.likelihood.families[0]
    return family.variance_prior_centre.cpu().numpy()


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "params",
    [
        {},  # no conditions: the whole variance
        {"condition_on": ["group", "dose"], "init": "random"},
        {"condition_on": ["group", "dose"], "likelihood": "gaussian_fixed"},
    ],
)
def test_the_variance_prior_is_centred_on_1_but_for_conditional_pca_starts(
    groups, params
):
    data = groups if "condition_on" in params else groups[["x1", "x2", "x3"]]
    with pytest.warns(ConvergenceWarning):
        vae = make_vae(max_epochs=1, **params).fit(data)
    family = vae.module_.likelihood.families[0]
    if family.variance_kind == "learned":
        assert_array_equal(_prior_centre(vae), 1.0)
    else:  # no learned variance, no prior
        assert not hasattr(family, "variance_prior_centre")


@pytest.mark.short_fits
def test_a_stream_keeps_the_prior_centre_of_its_first_chunk(groups):
    vae = make_vae(condition_on=["group", "dose"], max_epochs=1)
    vae.partial_fit(groups.iloc[:300])
    first = _prior_centre(vae)
    assert (first < 0.1).all()
    vae.partial_fit(groups.iloc[300:])
    assert_array_equal(_prior_centre(vae), first)


@pytest.mark.short_fits
def test_too_few_rows_beside_the_conditions_leave_the_prior_centred_on_1(groups):
    # 4 coefficients: 53 rows leave 49 degrees of freedom, 54 leave 50. Before,
    # a chunk fitted exactly by its conditions held every variance at 1e-3.
    for n_rows, below_1 in [(53, False), (54, True)]:
        vae = make_vae(condition_on=["group", "dose"], max_epochs=1)
        vae.partial_fit(groups.iloc[:n_rows])
        assert (_prior_centre(vae) < 1.0).all() == below_1


@pytest.mark.short_fits
def test_a_model_pickled_before_its_prior_had_a_centre_trains_on(groups):
    vae = make_vae(condition_on=["group", "dose"], max_epochs=1)
    vae.partial_fit(groups)
    family = vae.module_.likelihood.families[0]
    del family._buffers["variance_prior_centre"]  # as pickled before
    restored = pickle.loads(pickle.dumps(vae))
    restored.partial_fit(groups)
    assert_array_equal(_prior_centre(restored), 1.0)


def test_a_conditional_model_of_linear_effects_scores_near_the_truth():
    # before the variance start: -5.2 nats a row against the true density's
    # -2.1, the learned variances near the columns' whole variance after 570
    # epochs
    rng = np.random.RandomState(3)

    def rows(n):
        c, g = 2 * rng.normal(size=n), rng.choice(["a", "b"], n)
        mean = np.outer(c, [-1.0, 0.0, 1.0]) + np.where(g == "a", 3.0, -3.0)[:, None]
        x = mean + 0.5 * rng.normal(size=mean.shape)
        table = pd.DataFrame(x, columns=["x0", "x1", "x2"]).assign(c=c, g=g)
        return table, norm(mean, 0.5).logpdf(x).sum(1).mean()

    (train, _), (test, truth) = rows(400), rows(2000)
    vae = VAETransformer(2, condition_on=["c", "g"], random_state=0).fit(train)
    # before the variances' prior was centred on what the conditions leave:
    # 1.5 nats a row below the truth, the variances kept 5 times too large
    assert truth - 0.3 < vae.score(test) < truth


@pytest.mark.short_fits
@pytest.mark.parametrize("wild", [1e4, 1e30])
def test_zero_weight_rows_leave_the_conditions_scale_alone(groups, wild):
    # A row of weight 0 plays no part in training; its conditions neither.
    corrupted = groups.copy()
    corrupted.loc[::6, "dose"] = wild
    weights = np.where(np.arange(len(groups)) % 6 == 0, 0.0, 1.0)
    clean = groups[weights > 0]
    params = dict(
        condition_on=["group", "dose"], max_epochs=5, device="cpu", n_threads=1
    )
    weighted = make_vae(**params).fit(corrupted, sample_weight=weights)
    removed = make_vae(**params).fit(clean)
    assert_array_equal(weighted.score_samples(clean), removed.score_samples(clean))


@pytest.mark.parametrize("value", [np.inf, 1e300])
def test_a_numeric_condition_beyond_float32_is_refused_by_name(groups, value):
    bad = groups.copy()
    bad.loc[7, "dose"] = value
    with pytest.raises(ValueError, match="The condition 'dose' is .* in row 7; a"):
        make_vae(condition_on=["group", "dose"]).fit(bad)


@pytest.mark.short_fits
def test_the_imputers_rows_with_only_conditions_leave_their_scale_alone(groups):
    # Left out of training, a row with nothing observed but its conditions
    # does not set the conditions' scale either.
    empty = groups.iloc[:1].assign(x1=np.nan, x2=np.nan, x3=np.nan, dose=1e30)
    params = dict(
        condition_on=["group", "dose"], max_epochs=5, n_threads=1, random_state=0
    )
    with_empty = VAEImputer(**params).fit(pd.concat([empty, groups]))
    alone = VAEImputer(**params).fit(groups)
    holed = groups.iloc[:50].assign(x2=np.nan)
    assert_array_equal(with_empty.transform(holed), alone.transform(holed))


def test_equal_weights_scale_the_conditions_as_no_weights_do(groups, conditional):
    scaler = conditional._conditions.encoder.named_transformers_["numeric"]
    plain = StandardScaler().fit(groups[["dose"]].to_numpy())
    assert_array_equal(scaler.scale_, plain.scale_)
    assert_array_equal(scaler.mean_, plain.mean_)


def test_sample_honours_every_condition_value(conditional):
    for group, centre in {"a": -4.0, "b": 0.0, "c": 4.0}.items():
        rows = conditional.sample(300, conditions={"group": group, "dose": 1.5})
        assert list(rows.columns) == ["group", "x1", "dose", "x2", "x3"]
        assert (rows["group"] == group).all() and (rows["dose"] == 1.5).all()
        assert rows["group"].dtype == "category"
        assert rows[["x1", "x2"]].to_numpy().mean() == pytest.approx(centre, abs=0.7)
        assert rows["x3"].mean() == pytest.approx(4.5, abs=0.7)


@pytest.mark.short_fits
def test_refused_conditions_leave_a_callers_random_state_as_it_was(conditional):
    # the conditions are checked before the RandomState gives a seed
    rng = np.random.RandomState(1)
    rng.random_sample(5)  # anywhere in its stream
    before = rng.get_state()
    for conditions, message in (
        ({"group": "zzz", "dose": 1.0}, "zzz"),  # a level never seen
        (pd.DataFrame({"group": ["a"] * 2, "dose": [1.0] * 2}), "2 rows"),
        (None, "conditions"),  # none for a model that needs them
    ):
        with pytest.raises(ValueError, match=message):
            conditional.sample(3, random_state=rng, conditions=conditions)
        after = rng.get_state()
        assert_array_equal(after[1], before[1])
        assert after[2] == before[2]  # the position in the key
    plain = VAETransformer(hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    plain.fit(np.random.RandomState(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="conditions are for a model fitted"):
        plain.sample(3, random_state=rng, conditions={"group": "a"})
    assert rng.get_state()[2] == before[2]


def test_a_table_of_conditions_gives_a_row_each(conditional):
    conditions = pd.DataFrame({"dose": [0.0, 2.0], "group": ["a", "c"]})
    rows = conditional.sample(2, conditions=conditions, return_mean=True)
    assert_array_equal(rows["group"], ["a", "c"])
    assert rows.loc[0, "x1"] < -2 < 2 < rows.loc[1, "x1"]
    as_array = np.array([["a", 0.0], ["c", 2.0]], dtype=object)
    same = conditional.sample(2, conditions=as_array, return_mean=True)
    assert_array_equal(same["x1"], rows["x1"])
    for table in (conditions, as_array):  # n_samples from the table
        same = conditional.sample(conditions=table, return_mean=True)
        assert_array_equal(same["x1"], rows["x1"])


@pytest.mark.short_fits
def test_conditions_as_a_list_of_rows_keep_each_cells_type(groups):
    flagged = groups.assign(flag=groups["dose"] > 1)
    vae = make_vae(condition_on=["group", "flag"], max_epochs=2).fit(flagged)
    as_frame = pd.DataFrame({"group": ["a", "c"], "flag": [True, False]})
    expected = vae.sample(2, conditions=as_frame, return_mean=True)
    # NumPy made the row ["a", True] the text ["a", "True"], then refused
    # "True" as a numeric condition
    rows = vae.sample(2, conditions=[["a", True], ["c", False]], return_mean=True)
    assert_array_equal(rows["x1"], expected["x1"])
    assert rows["flag"].tolist() == [True, False]
    with pytest.raises(ValueError, match="missing"):
        vae.sample(2, conditions=[["a", True], [np.nan, False]])
    # integers stay exact beyond float64's 2**53
    big = 2**53 + 1
    counts = groups[["x1", "x3"]].assign(n=np.resize([big, 2 * big], len(groups)))
    exact = make_vae(condition_on="n", max_epochs=2).fit(counts)
    rows = exact.sample(2, conditions=[[big], [2 * big]])
    assert rows["n"].tolist() == [big, 2 * big]
    # an array of objects: booleans stay booleans, numbers stay numbers
    objects = flagged[["flag", "x1", "x3"]].to_numpy(dtype=object)
    boolean = make_vae(condition_on=0, max_epochs=2).fit(objects)
    rows = boolean.sample(2, conditions=[[True], [False]])
    assert rows[:, 0].tolist() == [True, False]
    assert {type(value) for value in rows[:, 0]} == {bool}
    # numbers stay numbers: an array model's rows stay float64
    numeric = make_vae(condition_on=0, max_epochs=2).fit(
        groups[["dose", "x1", "x3"]].to_numpy()
    )
    for conditions in ([[0.5], [1.0]], np.array([[0.5], [1.0]])):
        rows = numeric.sample(2, conditions=conditions)
        assert rows.dtype == np.float64


def test_score_is_the_likelihood_given_the_conditions(groups, conditional):
    unconditional = make_vae().fit(groups[["x1", "x2", "x3"]])
    assert conditional.score(groups) > unconditional.score(groups[["x1", "x2", "x3"]])


def test_inverse_transform_under_other_conditions_swaps_the_group(groups, conditional):
    rows = groups[groups["group"] == "a"].head(50)
    latent = conditional.transform(rows)
    same = conditional.inverse_transform(latent, conditions=rows)
    swapped = conditional.inverse_transform(
        latent, conditions={"group": "c", "dose": rows["dose"].to_numpy()[0]}
    )
    assert (swapped["group"] == "c").all()
    assert (swapped["x1"] - same["x1"]).mean() == pytest.approx(8.0, abs=1.5)


@pytest.mark.short_fits
def test_conditions_by_position_in_arrays(groups):
    X = groups.to_numpy(dtype=object)
    vae = make_vae(condition_on=[0, 2], max_epochs=20).fit(X)
    assert list(vae.likelihoods_) == [1, 3, 4]
    rows = vae.sample(3, conditions={0: "b", 2: 1.0})
    assert rows.shape == (3, 5)
    assert_array_equal(rows[:, 0], ["b"] * 3)
    assert vae.transform(X[:4]).shape == (4, 1)


def test_the_imputer_reads_conditions_from_X(groups):
    holed = groups.copy()
    holed.loc[:59, "x1"] = np.nan
    imputer = VAEImputer(
        hidden_layer_sizes=(32,), condition_on="group", random_state=0
    ).fit(holed)
    filled = imputer.transform(holed)
    assert (filled.dtypes == groups.dtypes).all()
    assert filled.loc[60:].equals(holed.loc[60:])
    error = np.abs(filled.loc[:59, "x1"] - groups.loc[:59, "x1"]).mean()
    assert error < 1.0


@pytest.mark.parametrize(
    ("condition_on", "message"),
    [
        ("height", "condition_on names column 'height', which is not among"),
        (["x1", "x1"], "names a column twice"),
        (["group", "x1", "dose", "x2", "x3"], "at least one column must be modelled"),
        ([], "names no column"),
    ],
)
def test_bad_condition_columns_are_named(groups, condition_on, message):
    vae = make_vae(condition_on=condition_on)
    with pytest.raises(ValueError, match=message):
        vae.fit(groups)
    assert not hasattr(vae, "module_")


@pytest.mark.short_fits
def test_complex_conditions_and_repeated_labels_are_refused(groups):
    # before: complex numbers lost their imaginary parts with a warning;
    # repeated labels raised an AttributeError or a broadcasting error
    with pytest.raises(ValueError, match="condition 'dose' holds complex"):
        make_vae(condition_on="dose").fit(groups.assign(dose=groups["dose"] + 1j))
    repeated = groups.rename(columns={"x2": "group"})
    with pytest.raises(ValueError, match="more than one column labelled 'group'"):
        make_vae(condition_on="group").fit(repeated)
    listed = groups.assign(group=[["a"]] * len(groups))  # was named "Column 0"
    with pytest.raises(TypeError, match=r"Column 'group' of X holds \['a'\]"):
        make_vae(condition_on="group").fit(listed)
    vae = make_vae(condition_on=["group", "dose"], max_epochs=2).fit(groups)
    with pytest.raises(ValueError, match="condition 'dose' holds complex"):
        vae.sample(3, conditions={"group": "a", "dose": 1 + 1j})
    table = pd.DataFrame([["a", 1.0, 2.0]] * 3, columns=["group", "dose", "dose"])
    with pytest.raises(ValueError, match="conditions has more than one column"):
        vae.sample(3, conditions=table)
    # columns that are no condition are ignored, whatever their labels
    noted = pd.DataFrame(
        [["a", 1.0, 2.0, 3.0]] * 3, columns=["group", "dose", "note", "note"]
    )
    vae.sample(3, conditions=noted)


@pytest.mark.parametrize("condition_on", [True, [0, np.True_]])
def test_a_boolean_is_not_a_column_position(condition_on):
    vae = make_vae(condition_on=condition_on)
    with pytest.raises(ValueError, match=r"by name or position, not (np\.)?True"):
        vae.fit(np.random.RandomState(0).normal(size=(20, 3)))
    assert not hasattr(vae, "module_")


@pytest.mark.short_fits
def test_missing_or_unknown_conditions_are_named(groups):
    vae = make_vae(condition_on=["group", "dose"], max_epochs=2).fit(groups)
    holed = groups.head(5).copy()
    holed.loc[3, "dose"] = np.nan
    with pytest.raises(ValueError, match="condition 'dose' is missing in row 3"):
        vae.transform(holed)
    with pytest.raises(ValueError, match="pass conditions="):
        vae.sample(2)
    with pytest.raises(ValueError, match="conditions lacks a value for 'dose'"):
        vae.sample(2, conditions={"group": "a"})
    with pytest.raises(ValueError, match="names 'x1', which is not a condition"):
        vae.sample(2, conditions={"group": "a", "dose": 1.0, "x1": 0.0})
    with pytest.raises(ValueError, match="names 'dsoe', which is not a condition"):
        vae.sample(2, conditions={"group": "a", "dsoe": 1.0})  # misspelt
    with pytest.raises(ValueError, match="gives 'group' 2 values; a dict gives one"):
        vae.sample(2, conditions={"group": ["a", "b"], "dose": 1.0})
    with pytest.raises(ValueError, match="condition 'group' is 'z' in row 0"):
        vae.sample(2, conditions={"group": "z", "dose": 1.0})
    message = r"n_samples is 2, but conditions is a table of 3 rows.* leave n_samples"
    with pytest.raises(ValueError, match=message):
        vae.sample(2, conditions=groups[["group", "dose"]].head(3))
    message = r"conditions has 3 rows, for 2 rows to generate or decode: a table"
    with pytest.raises(ValueError, match=message):
        vae.inverse_transform(np.zeros((2, vae.latent_dim)), conditions=groups.head(3))
    with pytest.raises(ValueError, match=r"shape \(n_rows, 2\)"):
        vae.sample(2, conditions=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(n_rows, 2\), .* got shape \(2,\)"):
        vae.sample(5, conditions=["a", 1.0])  # one row, not a table of rows
    with pytest.raises(ValueError, match="a table of no rows: no row to generate"):
        vae.sample(conditions=groups[["group", "dose"]].head(0))
    plain = make_vae(max_epochs=2).fit(groups[["x1", "x2"]])
    with pytest.raises(ValueError, match="fitted with condition_on"):
        plain.sample(2, conditions={"group": "a"})


def test_integer_levels_stay_integers():
    rng = np.random.RandomState(0)
    digit = rng.randint(0, 3, 200)
    table = pd.DataFrame({"digit": pd.Categorical(digit), "x": digit + rng.randn(200)})
    with pytest.warns(ConvergenceWarning):
        vae = make_vae(condition_on="digit", max_epochs=2).fit(table)
    rows = vae.sample(3, conditions={"digit": 2})
    assert rows["digit"].tolist() == [2, 2, 2]
    assert rows["digit"].dtype == table["digit"].dtype
    message = (
        r"'digit' is 7 in row 1, .* its levels are \[0, 1, 2\]\. A new stream, "
        r".* can declare every level of a condition with categories\."
    )
    with pytest.raises(ValueError, match=message):
        vae.sample(2, conditions=pd.DataFrame({"digit": [1, 7]}))


@pytest.mark.short_fits
def test_sparse_input_is_refused_with_conditions():
    X = sp.random(50, 4, density=0.5, format="csr", random_state=0)
    with pytest.raises(ValueError, match="condition_on takes dense X"):
        VAETransformer(condition_on=[0]).fit(X)
    fitted = VAETransformer(condition_on=[0], hidden_layer_sizes=(8,), max_epochs=2)
    fitted.fit(X.toarray())
    for method in (fitted.transform, fitted.score_samples):  # not an IndexError
        with pytest.raises(ValueError, match="condition_on takes dense X"):
            method(X)


@pytest.mark.short_fits
@pytest.mark.parametrize("continue_by", ["warm_start", "partial_fit"])
def test_continuing_after_condition_on_changed_is_refused(groups, continue_by):
    vae = make_vae(condition_on="group", max_epochs=2).fit(groups)
    network = vae.module_
    vae.set_params(condition_on=["group", "dose"], warm_start=True)
    with pytest.raises(ValueError, match=r"condition_on changed from \['group'\]"):
        if continue_by == "warm_start":
            vae.fit(groups)
        else:
            vae.partial_fit(groups)
    assert vae.module_ is network
    vae.set_params(condition_on=None)
    with pytest.raises(ValueError, match=r"changed from \['group'\] to None"):
        vae.fit(groups)
    vae.set_params(condition_on="group")
    vae.fit(groups)  # the same conditions continue


@pytest.mark.short_fits
def test_a_conditional_imputer_keeps_float32_rows_float32():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    X[::5, 2] = np.nan
    imputer = VAEImputer(condition_on=0, hidden_layer_sizes=(16,), max_epochs=2)
    filled = imputer.fit_transform(X)
    observed = ~np.isnan(X)
    assert filled.dtype == np.float32  # as without conditions, and SimpleImputer
    assert_array_equal(filled[observed], X[observed])
    assert not np.isnan(filled).any()


@pytest.mark.short_fits
def test_condition_values_are_refused_when_their_column_cannot_hold_them():
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "k": rng.randint(0, 3, 60),
            "f": rng.rand(60) < 0.5,
        }
    )
    vae = VAETransformer(condition_on=["k", "f"], hidden_layer_sizes=(8,), max_epochs=2)
    vae.fit(table)
    rows = vae.sample(3, conditions={"k": 2.0, "f": 1}, random_state=0)
    assert rows["k"].tolist() == [2, 2, 2] and rows["f"].tolist() == [True] * 3
    bad = [  # before: generated under 1.7, labelled 1; under 2, labelled True
        ({"k": 1.7, "f": True}, r"'k' is 1.7 in row 0, which its column of integers"),
        ({"k": 1, "f": 2}, r"'f' is 2 in row 0, which its column of booleans"),
        # before: "it is a numeric condition", or no error for "1"
        ({"k": 1, "f": "True"}, r"'f' is 'True' in row 0, which its column of bool"),
        ({"k": 1, "f": "1"}, r"'f' is '1' in row 0, which its column of booleans"),
        ({"k": "abc", "f": True}, r"'k' is 'abc' in row 0; it is a numeric"),
        ({"k": np.inf, "f": True}, r"'k' is inf in row 0; a condition takes finite"),
    ]
    for conditions, message in bad:
        with pytest.raises(ValueError, match=message):
            vae.sample(2, conditions=conditions)
    per_row = pd.DataFrame({"k": [0, -0.9], "f": [False, True]})
    with pytest.raises(ValueError, match=r"'k' is -0.9 in row 1, which its"):
        vae.inverse_transform(np.zeros((2, vae.latent_dim)), conditions=per_row)
    # rows of X, read rather than generated, are held to booleans too
    rows = table.head(2).astype({"f": object})
    for value in ("True", 10**400):  # before: numeric message, OverflowError
        rows.loc[1, "f"] = value
        with pytest.raises(ValueError, match=r"'f' is .* in row 1, which its col"):
            vae.transform(rows)


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "dtype, beyond",
    # int64's largest value is 2**63 as a float, which the check must not pass
    [("int8", 200), ("uint8", -1), ("Int8", 300), ("int64", 2**63), ("int64", 2.0**63)],
)
def test_a_condition_beyond_its_integer_dtype_is_refused(dtype, beyond):
    # before: generated under 200, labelled -56 (int8 wrapped around)
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "age": pd.Series(rng.randint(20, 60, 60), dtype=dtype),
        }
    )
    vae = VAETransformer(condition_on="age", hidden_layer_sizes=(8,), max_epochs=2)
    vae.fit(table)
    message = rf"'age' is {re.escape(repr(beyond))} in row 0, which its"
    with pytest.raises(ValueError, match=message):
        vae.sample(2, conditions={"age": beyond})
    assert vae.sample(2, conditions={"age": 100})["age"].tolist() == [100, 100]


@pytest.mark.short_fits
def test_a_boolean_is_not_a_level_of_numbers():
    # True == 1: before, rows decoded under level 1 came back labelled NaN
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {"a": rng.normal(size=60), "digit": pd.Categorical(rng.randint(0, 3, 60))}
    )
    vae = VAETransformer(condition_on="digit", hidden_layer_sizes=(8,), max_epochs=2)
    vae.fit(table)
    for value in (True, np.True_):
        with pytest.raises(ValueError, match="'digit' is True in row 0, a level"):
            vae.inverse_transform(
                np.zeros((1, vae.latent_dim)), conditions={"digit": value}
            )
    decoded = vae.inverse_transform(
        np.zeros((1, vae.latent_dim)), conditions={"digit": 1}
    )
    assert decoded["digit"].tolist() == [1]
    # a boolean that is a level is one
    mixed = table.assign(digit=pd.Series([True, 2] * 30, dtype=object))
    with pytest.warns(UserWarning, match="hold only numbers"):  # True reads as 1
        vae.fit(mixed)
    rows = vae.sample(2, conditions={"digit": True})
    assert rows["digit"].tolist() == [True, True]


@pytest.mark.short_fits
def test_numbers_in_an_object_condition_column_are_its_levels():
    X = two_numbers_and("d", np.array([1, 2] * 50, dtype=object))
    # as a modelled column's, a warning that the numbers are taken as levels
    with pytest.warns(UserWarning, match=r"'d' \(2 levels\).*condition_on takes"):
        model = make_vae(max_epochs=2, condition_on="d").fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_vae(max_epochs=2, condition_on="d").fit(X.astype({"d": "category"}))
    assert not [w for w in caught if "hold only numbers" in str(w.message)]
    assert_array_equal(model.sample(3, conditions={"d": 1})["d"], [1, 1, 1])
    rows = model.inverse_transform(np.zeros((2, 1)), conditions=[[1], [2]])
    assert_array_equal(rows["d"], [1, 2])
    scores = model.score_samples(pd.DataFrame({"a": [0.0], "b": [0.0], "d": [2]}))
    assert np.isfinite(scores).all()


@pytest.mark.short_fits
def test_a_condition_of_text_and_numbers_is_named():
    X = pd.DataFrame({"a": np.arange(10.0), "d": np.array(["x", 1] * 5, dtype=object)})
    with pytest.raises(
        ValueError, match="condition 'd' holds values of types int, str"
    ):
        make_vae(max_epochs=2, condition_on="d").fit(X)


@pytest.mark.short_fits
def test_a_row_with_only_its_conditions_is_refused_as_such():
    X = pd.DataFrame({"a": np.arange(10.0), "g": ["x", "y"] * 5})
    X.loc[0, "a"] = np.nan
    message = "Row 0 of X has no observed modelled cell .*conditions are read"
    with pytest.raises(ValueError, match=message):
        make_vae(max_epochs=2, condition_on="g").fit(X)
    model = make_vae(max_epochs=2, condition_on="g").fit(X.iloc[1:])
    with pytest.raises(ValueError, match=message):
        model.transform(X.iloc[:1])


@pytest.mark.short_fits
def test_rows_of_numbers_take_any_number_for_an_integer_condition():
    # one family for every column: rows come back as floats, not in fit's dtypes
    X = two_numbers_and("k", np.random.RandomState(0).randint(5, size=50))
    model = make_vae(max_epochs=2, likelihood="gaussian", condition_on="k").fit(X)
    assert model.sample(2, conditions={"k": 2.5})[:, 2].tolist() == [2.5, 2.5]


def two_numbers_and(name, condition):
    """Two Normal columns, ``a`` and ``b``, beside the column ``name``."""
    rng = np.random.RandomState(0)
    n_rows = len(condition)
    return pd.DataFrame(
        {"a": rng.normal(size=n_rows), "b": rng.normal(size=n_rows), name: condition}
    )


@pytest.mark.short_fits
def test_rows_generated_from_a_frame_of_conditions_keep_its_index(groups):
    vae = make_vae(condition_on="dose", max_epochs=2, n_iter_no_change=1)
    vae.fit(groups)
    doses = pd.DataFrame({"dose": [0.5, 1.0, 1.5]}, index=[10, 20, 30])
    assert list(vae.sample(3, conditions=doses).index) == [10, 20, 30]
    Z = np.zeros((3, 1))
    assert list(vae.inverse_transform(Z, conditions=doses).index) == [10, 20, 30]
    # the latent rows' own index comes first
    Z = pd.DataFrame(Z, index=[7, 8, 9])
    assert list(vae.inverse_transform(Z, conditions=doses).index) == [7, 8, 9]
    # conditions as a dict or an array give rows indexed from 0
    assert list(vae.sample(2, conditions={"dose": 1.0}).index) == [0, 1]


@pytest.mark.short_fits
@pytest.mark.parametrize("value", [0.5, 2])
def test_a_boolean_condition_in_rows_of_x_refuses_other_values(groups, value):
    table = groups.assign(treated=groups["dose"] > 1)
    vae = make_vae(condition_on="treated", max_epochs=2, n_iter_no_change=1)
    vae.fit(table)
    rows = table.head(3).astype({"treated": object})
    rows.loc[rows.index[1], "treated"] = value
    with pytest.raises(ValueError, match="'treated' is .* in row 1, which its"):
        vae.transform(rows)
    rows.loc[rows.index[1], "treated"] = 1.0  # a boolean as a number
    assert np.isfinite(vae.score_samples(rows)).all()


@pytest.mark.short_fits
@pytest.mark.parametrize("as_array", [False, True])
def test_booleans_held_as_objects_are_a_boolean_condition(groups, as_array):
    # before: a column of Python booleans (an object dtype, as pandas holds
    # them beside None) or an array's took any number, and sample gave 7
    table = groups[["x1", "x2"]].assign(treated=(groups["dose"] > 1).astype(object))
    X, key = (table.to_numpy(dtype=object), 2) if as_array else (table, "treated")
    vae = make_vae(condition_on=key, max_epochs=2, n_iter_no_change=1).fit(X)
    with pytest.raises(ValueError, match=r"is 7 in row 0, which its column of bool"):
        vae.sample(1, conditions={key: 7})
    rows = table.head(2).copy()
    rows.loc[rows.index[1], "treated"] = 0.5
    rows = rows.to_numpy(dtype=object) if as_array else rows
    with pytest.raises(ValueError, match=r"is 0.5 in row 1, which its column of b"):
        vae.score_samples(rows)
    rows = vae.sample(2, conditions={key: 1})
    assert rows.shape == (2, 3)
    if not as_array:  # the column of booleans holds True, not 1 (before)
        assert all(value is True for value in rows["treated"])  # 1 == True


@pytest.mark.short_fits
def test_a_numeric_condition_beyond_float64_is_refused_by_name():
    # before: OverflowError, in transform of a frame and in fit of an array
    frame = pd.DataFrame(
        np.random.RandomState(0).normal(size=(60, 3)), columns=["mass", "x", "y"]
    )
    params = dict(hidden_layer_sizes=(8,), max_epochs=2)
    vae = VAETransformer(condition_on="mass", **params).fit(frame)
    rows = frame.head(3).astype({"mass": object})
    rows.loc[1, "mass"] = 10**400
    message = "The condition .* holds an integer beyond float64's range"
    for call in (vae.transform, vae.score_samples):
        with pytest.raises(ValueError, match=message):
            call(rows)
    objects = frame.astype(object).to_numpy(copy=True)  # pandas 3: a read-only view
    objects[1, 0] = 10**400
    with pytest.raises(ValueError, match=message):
        VAETransformer(condition_on=0, **params).fit(objects)
    with pytest.raises(ValueError, match="Column 0 of X holds an integer beyond"):
        VAETransformer(likelihood="auto", **params).fit(objects)


@pytest.mark.short_fits
def test_numbers_given_as_text_for_a_numeric_condition_come_back_as_numbers():
    X = np.random.RandomState(0).normal(size=(200, 4))
    vae = VAETransformer(
        condition_on=3, hidden_layer_sizes=(8,), max_epochs=2, random_state=0
    ).fit(X)
    rows = vae.sample(2, conditions={3: "2.5"})
    assert rows.dtype == np.float64
    assert_array_equal(rows[:, 3], [2.5, 2.5])
    origin = np.zeros((1, vae.latent_dim))
    decoded = vae.inverse_transform(origin, conditions=np.array([["1.5"]]))
    assert decoded.dtype == np.float64 and decoded[0, 3] == 1.5


def _mixed_rows(rng, n):
    """Three Gaussian columns linear in the conditions, a level drawn by group.

    Returns the table, and the true densities' mean log-likelihood of its
    Gaussian columns and of its levels.
    """
    c, g = 2 * rng.normal(size=n), rng.choice(["a", "b"], n)
    mean = np.outer(c, [-1.0, 0.0, 1.0]) + np.where(g == "a", 3.0, -3.0)[:, None]
    x = mean + 0.5 * rng.normal(size=mean.shape)
    p = np.where(g == "a", 0.8, 0.2)
    level = np.where(rng.uniform(size=n) < p, "u", "v")
    table = pd.DataFrame(x, columns=["x0", "x1", "x2"]).assign(c=c, g=g, k=level)
    gaussian_log_p = norm(mean, 0.5).logpdf(x).sum(1).mean()
    return table, gaussian_log_p, np.log(np.where(level == "u", p, 1 - p)).mean()


def test_a_conditional_table_of_several_families_scores_near_the_truth():
    rng = np.random.RandomState(3)
    train, _, _ = _mixed_rows(rng, 400)
    test, gaussian_truth, level_truth = _mixed_rows(rng, 2000)
    truth = gaussian_truth + level_truth
    vae = VAETransformer(2, condition_on=["c", "g"], random_state=0).fit(train)
    assert vae.likelihoods_["k"] == "categorical"
    # before the variances started, and their prior was centred, on what the
    # conditions leave: 3 nats a row below the truth, the variances 20 times
    # the noise's
    assert truth - 0.3 < vae.score(test) < truth


@pytest.mark.short_fits
def test_a_conditional_table_of_several_families_starts_at_what_conditions_leave():
    train, _, _ = _mixed_rows(np.random.RandomState(3), 400)
    with pytest.warns(ConvergenceWarning):  # one Adam step
        vae = VAETransformer(2, condition_on=["c", "g"], max_epochs=1, batch_size=400)
        vae.fit(train)
    gaussian, categorical = vae.module_.likelihood.families
    # a regression on the conditions: an intercept, c and both of g's levels,
    # of rank 3
    x = train[["x0", "x1", "x2"]].to_numpy()
    conditions = pd.get_dummies(train[["c", "g"]]).to_numpy(float)
    residuals = x - LinearRegression().fit(conditions, x).predict(conditions)
    centre = 400 / (400 - 3) * residuals.var(0) / x.var(0)
    np.testing.assert_allclose(gaussian.variance_prior_centre.cpu(), centre, rtol=1e-4)
    np.testing.assert_allclose(
        gaussian.standardised_variance().detach().cpu(), centre, rtol=0.01
    )
    assert not hasattr(categorical, "variance_prior_centre")
    # with missing cells, a column is regressed on its observed cells alone
    train.loc[:99, "x1"] = np.nan
    with pytest.warns(ConvergenceWarning):
        vae.fit(train)
    gaussian = vae.module_.likelihood.families[0]
    observed = train.iloc[100:]
    x1 = observed["x1"].to_numpy()
    conditions = pd.get_dummies(observed[["c", "g"]]).to_numpy(float)
    residuals = x1 - LinearRegression().fit(conditions, x1).predict(conditions)
    centre[1] = 300 / (300 - 3) * residuals.var() / x1.var()
    np.testing.assert_allclose(gaussian.variance_prior_centre.cpu(), centre, rtol=1e-4)


@pytest.mark.short_fits
def test_a_column_with_too_few_observed_cells_keeps_its_prior_centred_on_1():
    train, _, _ = _mixed_rows(np.random.RandomState(3), 400)
    # 3 coefficients: 53 observed cells leave 50 degrees of freedom, 52 leave 49
    for n_observed, below_1 in [(52, False), (53, True)]:
        holed = train.assign(x1=train["x1"].where(train.index < n_observed))
        with pytest.warns(ConvergenceWarning):
            vae = VAETransformer(2, condition_on=["c", "g"], max_epochs=1)
            vae.fit(holed)
        centre = vae.module_.likelihood.families[0].variance_prior_centre.cpu()
        assert (centre[[0, 2]] < 0.1).all()  # the whole columns
        assert (centre[1] < 1.0) == below_1


def test_a_conditional_model_with_missing_cells_scores_near_the_truth():
    rng = np.random.RandomState(3)
    train, _, _ = _mixed_rows(rng, 400)
    test, truth, _ = _mixed_rows(rng, 2000)
    columns = ["x0", "x1", "x2", "c", "g"]  # one family, the Gaussian
    holes = rng.uniform(size=(400, 3)) < 0.2
    holes[holes.all(axis=1), 0] = False  # no row left without a modelled cell
    train[["x0", "x1", "x2"]] = train[["x0", "x1", "x2"]].mask(holes)
    vae = VAETransformer(2, condition_on=["c", "g"], random_state=0)
    vae.fit(train[columns])
    # before the variances started, and their prior was centred, on what the
    # conditions leave of each column's observed cells: 3 nats a row below
    # the truth
    assert truth - 0.3 < vae.score(test[columns]) < truth


def test_columns_missing_in_the_same_rows_are_regressed_on_those_rows_together():
    rng = np.random.RandomState(0)
    conditions = rng.normal(size=(300, 2))
    values = conditions @ rng.normal(size=(2, 4)) + rng.normal(size=(300, 4))
    missing = np.zeros_like(values, dtype=bool)
    missing[:40, [0, 2]] = True  # one pattern for two columns
    missing[250:, 3] = True
    filled = np.where(missing, 0.0, values)  # the cells' values play no part
    shares = left_by_conditions(filled, np.ones(4), np.ones(300), conditions, missing)
    for j in range(4):
        observed = ~missing[:, j]
        x, c = values[observed, j], conditions[observed]
        residuals = x - LinearRegression().fit(c, x).predict(c)
        n = observed.sum()
        assert shares[j] == pytest.approx(n / (n - 3) * residuals.var() / x.var())
