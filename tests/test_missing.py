"""Missing cells: marginalised in the likelihood, seen by the encoder."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal

from skvae._likelihoods import (
    FAMILIES,
    CategoricalFamily,
    Likelihood,
    RealValued,
)
from skvae._missing import MissingPatterns


def family_data(name, rng, shape):
    """Values in the family's domain."""
    if name in ("bernoulli",):
        return (rng.rand(*shape) < 0.4).astype(float)
    if name == "continuous_bernoulli":
        return rng.rand(*shape)
    if name in ("poisson", "negative_binomial", "multinomial"):
        return rng.poisson(2.0, size=shape).astype(float)
    return rng.normal(size=shape)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("name", sorted(set(FAMILIES) - {"multinomial"}))
@torch.no_grad()
def test_a_row_with_missing_cells_scores_its_observed_cells(name, sparse):
    rng = np.random.RandomState(0)
    X = family_data(name, rng, (6, 4))
    family, options = FAMILIES[name]
    likelihood = Likelihood([(range(4), family.from_data(X, **options))])
    output = torch.as_tensor(rng.normal(size=(6, 4)))
    x = torch.as_tensor(X)
    missing = torch.as_tensor(rng.rand(6, 4) < 0.3)
    x_missing = x.masked_fill(missing, float("nan"))
    if sparse:  # the missing cells stored as NaN, zeros not stored
        x_missing = x_missing.to_sparse()
    per_cell = likelihood.feature_log_prob(output, x)
    expected = per_cell.masked_fill(missing, 0.0).sum(-1)
    # a sparse row takes other, equal arithmetic: its rounding differs
    rtol = 1e-10 if sparse else 1e-12
    assert_allclose(likelihood.log_prob(output, x_missing), expected, rtol=rtol)
    terms = likelihood.feature_log_prob(output, x_missing)
    assert torch.isnan(terms[missing]).all()
    assert_allclose(terms[~missing], per_cell[~missing], rtol=rtol)


@torch.no_grad()
def test_a_missing_level_counts_for_nothing_and_is_no_level_to_the_encoder():
    family = CategoricalFamily([3, 2])
    likelihood = Likelihood([(range(2), family)], missing_indicators=True)
    codes = torch.tensor([[2.0, float("nan")], [float("nan"), 1.0]])
    output = torch.randn(2, 5)
    per_row = likelihood.log_prob(output, codes)
    log_p = family.link(output)
    assert_allclose(per_row, [log_p[0, 2], log_p[1, 3 + 1]], rtol=1e-6)
    values, _ = likelihood.encoder_input(codes)
    one_hot, indicators = values[:, :5], values[:, 5:]
    assert one_hot.tolist() == [[0, 0, 1, 0, 0], [0, 0, 0, 0, 1]]
    assert indicators.tolist() == [[0, 1], [1, 0]]


def test_missing_real_values_reach_the_encoder_as_the_column_mean():
    family = RealValued(2, offset=np.array([5.0, -1.0]), scale=np.array([2.0, 1.0]))
    values, _ = Likelihood([(range(2), family)]).encoder_input(
        torch.tensor([[float("nan"), 0.0]])
    )
    assert values.tolist() == [[0.0, 1.0]]


@torch.no_grad()
def test_a_sparse_batch_reaches_the_first_layer_as_its_dense_copy_does():
    """Stored NaN are missing, implicit zeros are zeros, indicators follow."""
    from skvae._module import InputLayer

    family = RealValued(3, offset=np.array([5.0, -1.0, 0.5]), scale=np.ones(3) * 2)
    likelihood = Likelihood([(range(3), family)], missing_indicators=True)
    rows = torch.tensor([[float("nan"), 0.0, 4.0], [1.0, float("nan"), 0.0]])
    layer = InputLayer(torch.nn.Linear(6, 4))
    dense = layer(*likelihood.encoder_input(rows))
    sparse = layer(*likelihood.encoder_input(rows.to_sparse()))
    assert_allclose(sparse, dense, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------- the estimators


@pytest.fixture
def table():
    rng = np.random.RandomState(0)
    n = 200
    group = rng.choice(["a", "b", "c"], size=n)
    size = np.where(group == "a", 2.0, 0.0) + rng.normal(size=n)
    return pd.DataFrame(
        {
            "size": size,
            "weight": 3 * size + rng.normal(size=n),
            "visits": rng.poisson(3, size=n),
            "group": group,
        }
    )


def with_missing(table, rate, seed):
    """``table`` with a share ``rate`` of cells set to NaN or None, no row empty."""
    rng = np.random.RandomState(seed)
    missing = rng.rand(*table.shape) < rate
    missing[missing.all(axis=1), 0] = False
    holed = table.astype({"visits": float}).mask(missing)
    holed["group"] = holed["group"].astype(object).where(~missing[:, 3], None)
    return holed


def test_fit_transform_and_score_read_missing_cells(table, make_vae):
    holed = with_missing(table, 0.2, seed=1)
    vae = make_vae(likelihood={"visits": "poisson"}).fit(holed)
    assert vae.module_.likelihood.missing_indicators
    assert np.isfinite(vae.transform(holed)).all()
    assert np.isfinite(vae.score_samples(holed)).all()
    terms = vae.feature_log_likelihoods(holed)
    assert_allclose(np.isnan(terms.to_numpy()), holed.isna().to_numpy())


@pytest.mark.parametrize("row", [0, 7])
def test_nan_in_every_position_of_a_small_table(table, make_vae, row):
    vae = make_vae(likelihood="auto").fit(table)
    for column in table.columns:
        holed = table.iloc[[row]].astype({"visits": float}).copy()
        holed[column] = None
        assert np.isfinite(vae.transform(holed)).all(), column
        assert np.isfinite(vae.score_samples(holed)).all(), column


def test_an_array_with_nan_fits_and_transforms(make_vae):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5))
    X[rng.rand(200, 5) < 0.1] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    vae = make_vae().fit(X)
    assert np.isfinite(vae.transform(X)).all()
    assert np.isfinite(vae.score(X))


def sparse_with_missing(likelihood, seed):
    """Mostly-zero rows in ``likelihood``'s domain, a sixth of cells stored NaN."""
    rng = np.random.RandomState(seed)
    X = family_data(likelihood, rng, (150, 6)) * (rng.rand(150, 6) < 0.5)
    X[rng.rand(150, 6) < 0.15] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    return X


@pytest.mark.short_fits
@pytest.mark.parametrize("likelihood", ["gaussian", "poisson", "bernoulli"])
def test_sparse_and_dense_x_with_missing_cells_give_the_same_model(
    make_vae, likelihood
):
    """A NaN stored in a sparse matrix is missing, as NaN in a dense array is."""
    X = sparse_with_missing(likelihood, seed=0)
    stored = sp.csr_matrix(X)
    assert np.isnan(stored.data).sum() == np.isnan(X).sum()
    dense = make_vae(likelihood=likelihood, max_epochs=5).fit(X)
    sparse = make_vae(likelihood=likelihood, max_epochs=5).fit(stored)
    assert sparse.module_.likelihood.missing_indicators
    assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-5)
    assert_allclose(sparse.transform(stored), dense.transform(X), atol=1e-5)
    assert_allclose(sparse.score_samples(stored), dense.score_samples(X), rtol=1e-5)
    terms = sparse.feature_log_likelihoods(stored)
    assert_allclose(terms, dense.feature_log_likelihoods(X), rtol=1e-5)
    assert_array_equal(np.isnan(terms), np.isnan(X))


def test_nan_in_every_position_of_a_sparse_row(make_vae):
    X = sparse_with_missing("gaussian", seed=1)
    vae = make_vae().fit(sp.csr_matrix(X))
    row = np.nan_to_num(X[[3]], nan=0.5)
    for column in range(X.shape[1]):
        holed = row.copy()
        holed[0, column] = np.nan
        assert np.isfinite(vae.transform(sp.csr_matrix(holed))).all(), column
        assert np.isfinite(vae.score_samples(sp.csr_matrix(holed))).all(), column


def test_masking_a_categorical_cell_does_not_lower_the_score(table, make_vae):
    """log p(observed) of fewer cells is at least that of more, up to the estimate."""
    vae = make_vae(likelihood="auto", n_importance_samples=200).fit(
        with_missing(table, 0.1, seed=2)
    )
    rows = table.iloc[:50].astype({"visits": float})
    masked = rows.assign(group=None)
    gain = vae.score_samples(masked) - vae.score_samples(rows)
    assert gain.min() > -0.2


def test_nullable_columns_with_pd_na_are_missing(table, make_vae):
    nullable = table.astype({"size": "Float64", "group": "string"})
    nullable.loc[3, "size"] = pd.NA
    nullable.loc[4, "group"] = pd.NA
    vae = make_vae(likelihood="auto").fit(nullable)
    terms = vae.feature_log_likelihoods(nullable.iloc[3:5])
    assert np.isnan(terms.loc[3, "size"]) and np.isnan(terms.loc[4, "group"])


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_a_multinomial_refuses_missing_cells_naming_the_column(make_vae, container):
    X = np.random.RandomState(0).poisson(2.0, size=(50, 4)).astype(float)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="column 2 of X has NaN"):
        make_vae(likelihood="multinomial").fit(container(X))


# ------------------------------------------------------- any table, any holes

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

COLUMN_KINDS = {
    "float": lambda rng, n: rng.normal(size=n),
    "int": lambda rng, n: rng.randint(0, 5, size=n),
    "bool": lambda rng, n: rng.rand(n) < 0.5,
    "text": lambda rng, n: rng.choice(["x", "y", "z"], size=n).astype(object),
    "category": lambda rng, n: pd.Categorical(rng.choice(["p", "q"], size=n)),
}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kinds=st.lists(st.sampled_from(sorted(COLUMN_KINDS)), min_size=1, max_size=5),
    missing_rate=st.sampled_from([0.0, 0.1, 0.4]),
    seed=st.integers(0, 2**16),
)
def test_any_mixed_table_with_holes_fits_scores_and_comes_back(
    make_vae, kinds, missing_rate, seed
):
    rng = np.random.RandomState(seed)
    n = 60
    table = pd.DataFrame(
        {f"{kind}{j}": COLUMN_KINDS[kind](rng, n) for j, kind in enumerate(kinds)}
    )
    holes = rng.rand(*table.shape) < missing_rate
    holes[:, 0] &= ~holes.all(axis=1)  # no row without an observed cell
    holes[0] = False  # and every column observed in the first row
    holed = table.mask(holes) if missing_rate else table
    vae = make_vae(likelihood="auto")
    for _ in range(3):  # a few epochs, without a stopping rule to satisfy
        vae.partial_fit(holed)
    assert np.isfinite(vae.transform(holed)).all()
    assert np.isfinite(vae.score_samples(holed)).all()
    sample = vae.sample(10)
    assert list(sample.columns) == list(table.columns)
    for column in table.columns:
        if holed[column].dtype == table[column].dtype:
            assert sample[column].dtype == table[column].dtype, column


def test_a_column_observed_only_in_rows_of_weight_zero_is_refused(make_vae):
    X = np.random.RandomState(0).normal(size=(40, 3))
    X[10:, 2] = np.nan
    weights = np.r_[np.zeros(10), np.ones(30)]
    with pytest.raises(ValueError, match="Column 2 of X has no observed cell"):
        make_vae().fit(X, sample_weight=weights)


# ------------------------------------------------ missing cells in generated rows


@pytest.mark.short_fits
def test_sample_leaves_cells_missing_at_the_training_rates(table, make_vae):
    holed = with_missing(table, 0.2, seed=3)
    vae = make_vae(likelihood="auto", max_epochs=3).fit(holed)
    complete = vae.sample(4000, random_state=0)
    assert not complete.isna().any().any()
    rows = vae.sample(4000, random_state=0, missing_cells=True)
    assert_allclose(rows.isna().mean(), holed.isna().mean(), atol=0.03)
    assert list(rows.dtypes) == list(complete.dtypes)
    # the cells left are those drawn without missing cells
    observed = rows.notna().to_numpy()
    assert_array_equal(rows.to_numpy()[observed], complete.to_numpy()[observed])
    again = vae.sample(4000, random_state=0, missing_cells=True)
    assert again.isna().equals(rows.isna())


@pytest.mark.short_fits
@pytest.mark.parametrize("dtype", ["boolean", "category"])
def test_sample_leaves_boolean_cells_missing_not_false(make_vae, dtype):
    rng = np.random.RandomState(0)
    flags = pd.Series(rng.rand(300) < 0.5, dtype="boolean").mask(rng.rand(300) < 0.3)
    table = pd.DataFrame({"x": rng.normal(size=300), "flag": flags.astype(dtype)})
    vae = make_vae(likelihood="auto", max_epochs=3).fit(table)
    assert vae.likelihoods_["flag"] == "bernoulli"
    rows = vae.sample(4000, random_state=0, missing_cells=True)
    assert rows["flag"].dtype == table["flag"].dtype
    assert rows["flag"].isna().mean() == pytest.approx(0.3, abs=0.04)
    assert rows["flag"].dropna().isin([True, False]).all()


@pytest.mark.short_fits
def test_partial_fit_adds_up_the_rates_of_missing_cells(make_vae):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    holed = X.copy()
    holed[rng.rand(400) < 0.5, 0] = np.nan
    vae = make_vae().partial_fit(holed).partial_fit(X)
    rows = vae.sample(20000, missing_cells=True)
    expected = [np.isnan(holed[:, 0]).mean() / 2, 0.0, 0.0]
    assert_allclose(np.isnan(rows).mean(axis=0), expected, atol=0.01)
    # only the ratios of weights within a call count, as in training
    weighed = (
        make_vae().partial_fit(holed).partial_fit(X, sample_weight=np.full(400, 100.0))
    )
    rows = weighed.sample(20000, missing_cells=True)
    assert_allclose(np.isnan(rows).mean(axis=0), expected, atol=0.01)
    # and rows of weight 0 are not there
    padded = np.vstack([X, X])
    weights = np.r_[np.full(400, 100.0), np.zeros(400)]
    weighed = make_vae().partial_fit(holed).partial_fit(padded, sample_weight=weights)
    rows = weighed.sample(20000, missing_cells=True)
    assert_allclose(np.isnan(rows).mean(axis=0), expected, atol=0.01)


def test_a_continued_fit_that_fails_leaves_the_rates_of_missing_cells(make_vae):
    rng = np.random.RandomState(0)
    holed = rng.normal(size=(400, 3))
    holed[rng.rand(400) < 0.5, 0] = np.nan
    vae = make_vae(warm_start=True, early_stopping=True, random_state=0).fit(holed)
    before = vae.sample(2000, random_state=0, missing_cells=True)
    # One row cannot be split for early stopping: the error comes after the
    # rows' missing cells were read.
    with pytest.raises(ValueError, match="early_stopping=True holds out"):
        vae.fit(holed[:1])
    after = vae.sample(2000, random_state=0, missing_cells=True)
    assert_array_equal(np.isnan(after), np.isnan(before))


@pytest.mark.short_fits
def test_cells_missing_together_in_training_are_left_missing_together(make_vae):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 4))
    together = rng.rand(600) < 0.3
    X[together, 0] = X[together, 1] = np.nan
    X[rng.rand(600) < 0.2, 3] = np.nan
    rows = make_vae().fit(X).sample(20000, random_state=0, missing_cells=True)
    missing, training = np.isnan(rows), np.isnan(X)
    assert_array_equal(missing[:, 0], missing[:, 1])
    assert not missing[:, 2].any()
    assert_allclose(missing.mean(axis=0), training.mean(axis=0), atol=0.01)
    both = (missing[:, 0] & missing[:, 3]).mean()
    assert_allclose(both, (training[:, 0] & training[:, 3]).mean(), atol=0.01)


def test_missing_patterns_are_weighed_and_read_alike_from_sparse_rows():
    nan = np.nan
    X = np.array([[nan, 1, nan], [0, nan, 2], [nan, 3, nan], [4, 5, 6]])
    weights = np.array([1.0, 0.0, 2.0, 1.0])
    dense, sparse = MissingPatterns(3), MissingPatterns(3)
    dense.add(X, weights)
    sparse.add(sp.csr_matrix(X), weights)  # the implicit zero is observed
    assert_array_equal(dense.patterns(), sparse.patterns())
    assert_allclose(dense.weights, sparse.weights)
    expected = np.average(np.isnan(X), axis=0, weights=weights)
    assert_allclose(dense.weights @ dense.patterns() / dense.total_weight, expected)
    drawn = dense.draw(10000, np.random.default_rng(0))
    assert not (drawn == [False, True, False]).all(axis=1).any()  # weight 0
    assert_allclose((drawn == [True, False, True]).all(axis=1).mean(), 0.75, atol=0.02)
    assert_allclose((~drawn).all(axis=1).mean(), 0.25, atol=0.02)


@pytest.mark.short_fits
@pytest.mark.parametrize("estimator", ["VAETransformer", "VAEImputer"])
@pytest.mark.parametrize("missing", [np.nan, None, pd.NA])
def test_rows_given_as_lists_are_the_array_they_hold(estimator, missing):
    import skvae

    X = np.random.RandomState(0).normal(size=(40, 3))
    X[::3, 0] = np.nan
    rows = [[missing if np.isnan(v) else v for v in row] for row in X.tolist()]
    params = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    from_array = getattr(skvae, estimator)(**params).fit(X)
    from_lists = getattr(skvae, estimator)(**params).fit(rows)
    assert from_lists.likelihoods_ == from_array.likelihoods_
    expected = from_array.transform(X)
    assert_array_equal(from_lists.transform(rows), expected)
    assert_array_equal(from_array.transform(rows), expected)
