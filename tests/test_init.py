"""How training starts: the PCA layout (``init``) and ``input_dropout='auto'``."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression

from skvae import VAETransformer
from skvae._data import DENSE_BATCH_MAX_COLUMNS, DenseRows, SparseRows
from skvae._families import family_class
from skvae._layout import ALIGNMENT_STEPS, align_latent_means, principal_components
from skvae._likelihoods import (
    FAMILIES,
    GAUSSIAN_VARIANCE_FLOOR,
    VARIANCE_PRIOR_ROWS,
)


def _targets(features, weights, n_components=2, scale=None):
    scale = np.ones(features.shape[1]) if scale is None else scale
    return principal_components(features, scale, weights, n_components, seed=0).scores


def test_targets_are_the_whitened_pca_scores(X):
    targets = _targets(X, np.ones(len(X)))
    expected = PCA(2, whiten=True).fit_transform(X)
    # Components have arbitrary signs; PCA whitens to variance 1 with n - 1.
    signs = np.sign((targets * expected).sum(0))
    assert_allclose(
        targets * signs, expected * np.sqrt(len(X) / (len(X) - 1)), atol=1e-4
    )
    assert_allclose(targets.var(0), 1.0, rtol=1e-4)


@pytest.mark.parametrize("seed", [4, 5, 7])
def test_one_hot_columns_of_a_level_per_row_have_their_components(seed):
    # 200 levels of one row each: the covariance has an eigenvalue repeated
    # about 200 times, on which LAPACK's subset solver raised "Internal
    # Error" under one BLAS thread (11 of seeds 0 to 19, these among them)
    rng = np.random.RandomState(seed)
    levels = np.eye(200)[rng.permutation(200)]
    values = np.hstack([rng.normal(size=(200, 2)), levels])
    components = principal_components(values, np.ones(202), np.ones(200), 16, seed=0)
    assert components.scores.shape == (200, 16)
    assert np.isfinite(components.scores).all()
    expected = PCA(16, svd_solver="full").fit(values).explained_variance_
    variances = components.scores.var(axis=0)
    assert_allclose(variances[expected > 1e-9], 1.0, rtol=1e-6)


def test_targets_ignore_rows_of_weight_zero(X):
    wild = np.vstack([np.full((20, X.shape[1]), 1e3), X])
    weights = np.r_[np.zeros(20), np.ones(len(X))]
    targets = _targets(wild, weights)
    assert_allclose(np.abs(targets[20:]), np.abs(_targets(X, np.ones(len(X)))))


def test_targets_are_those_of_the_scaled_columns(X):
    scale = X.std(0)
    assert_allclose(
        _targets(X, np.ones(len(X)), scale=scale),
        _targets(X / scale, np.ones(len(X))),
        atol=1e-10,
    )


@pytest.mark.parametrize("to_sparse", [sp.csr_matrix, sp.csc_matrix])
def test_sparse_columns_give_the_dense_targets(binary_X, to_sparse):
    weights = np.random.RandomState(0).rand(len(binary_X))
    dense = _targets(binary_X, weights, n_components=3)
    assert_allclose(_targets(to_sparse(binary_X), weights, 3), dense, atol=1e-10)


def test_wide_data_take_arpack_to_the_same_targets(binary_X, monkeypatch):
    weights = np.random.RandomState(0).rand(len(binary_X))
    from_covariance = _targets(binary_X, weights, n_components=3)
    monkeypatch.setattr("skvae._layout.COVARIANCE_MAX_COLUMNS", 0)
    for container in (np.asarray, sp.csr_matrix):
        from_arpack = _targets(container(binary_X), weights, n_components=3)
        assert_allclose(from_arpack, from_covariance, atol=1e-8)


@pytest.mark.short_fits
def test_wide_data_of_few_rows_take_as_many_components_as_asked(monkeypatch):
    # ARPACK takes fewer pairs than the shorter side; it raised on 6 rows of
    # 1,200 columns and latent_dim=8, where the covariance path gave zeros
    values = np.random.RandomState(0).normal(size=(6, 12))
    weights = np.ones(6)
    from_covariance = _targets(values, weights, n_components=8)
    monkeypatch.setattr("skvae._layout.COVARIANCE_MAX_COLUMNS", 0)
    from_arpack = _targets(values, weights, n_components=8)
    assert from_arpack.shape == (6, 6)  # as many as the rows
    assert_allclose(np.abs(from_arpack), np.abs(from_covariance), atol=1e-8)
    assert_array_equal(from_arpack[:, 5], 0.0)  # 6 centred rows span 5
    vae = VAETransformer(latent_dim=8, hidden_layer_sizes=(8,), max_epochs=2)
    assert vae.fit(values).transform(values).shape == (6, 8)


def test_unexplained_share_is_the_variance_pca_leaves_out(X, binary_X, monkeypatch):
    standardised = (X - X.mean(0)) / X.std(0)
    pca = PCA(2).fit(standardised)
    residuals = standardised - pca.inverse_transform(pca.transform(standardised))
    components = principal_components(
        X, X.std(0), np.ones(len(X)), 2, seed=0, unexplained=True
    )
    # only when asked: wide data would take one more pass over the rows
    assert principal_components(X, X.std(0), np.ones(len(X)), 2, 0).unexplained is None
    assert_allclose(components.unexplained, residuals.var(0), atol=1e-10)
    # ARPACK, for wide data, and sparse columns give the same shares.
    weights = np.random.RandomState(0).rand(len(binary_X))
    shares = principal_components(
        binary_X, np.ones(12), weights, 3, seed=0, unexplained=True
    )
    monkeypatch.setattr("skvae._layout.COVARIANCE_MAX_COLUMNS", 0)
    arpack = principal_components(
        sp.csr_matrix(binary_X), np.ones(12), weights, 3, 0, unexplained=True
    )
    assert_allclose(arpack.unexplained, shares.unexplained, atol=1e-8)


def test_at_most_half_as_many_components_as_columns_explain(X):
    # Eight columns: however many scores, four components leave the rest.
    standardised = (X - X.mean(0)) / X.std(0)
    pca = PCA(4).fit(standardised)
    residuals = standardised - pca.inverse_transform(pca.transform(standardised))
    components = principal_components(
        X, X.std(0), np.ones(len(X)), 6, seed=0, unexplained=True
    )
    assert components.scores.shape == (len(X), 6)
    assert_allclose(components.unexplained, residuals.var(0), atol=1e-10)
    # One column: its one component counts for nothing.
    one = principal_components(
        X[:, :1], X[:, :1].std(0), np.ones(len(X)), 2, 0, unexplained=True
    )
    assert_allclose(one.unexplained, [1.0])


def test_a_column_without_variance_has_all_of_it_unexplained():
    X = np.column_stack([np.arange(6.0), np.full(6, 2.0)])
    unexplained = principal_components(
        X, np.ones(2), np.ones(6), 1, 0, unexplained=True
    ).unexplained
    assert_allclose(unexplained, [0.0, 1.0], atol=1e-12)


def test_learned_variances_start_at_the_unexplained_share(X, make_vae):
    with pytest.warns(ConvergenceWarning):  # one Adam step
        vae = make_vae(max_epochs=1, batch_size=len(X)).fit(X)
    family = vae.module_.likelihood.families[0]
    unexplained = principal_components(
        X, X.std(0), np.ones(len(X)), 2, 0, unexplained=True
    ).unexplained
    # shrunk towards 1 as if VARIANCE_PRIOR_ROWS more rows had left it all
    shrunk = (len(X) * unexplained + VARIANCE_PRIOR_ROWS) / (
        len(X) + VARIANCE_PRIOR_ROWS
    )
    floor = GAUSSIAN_VARIANCE_FLOOR
    start = floor + np.maximum(shrunk - floor, floor)
    variance = family.standardised_variance().detach().cpu().numpy()
    assert_allclose(variance, start, rtol=0.01)
    # A random start leaves every column at 1, and so do missing cells: the
    # components of mean-filled columns are not those of the observed cells.
    holed = X.copy()
    holed[::7, 2] = np.nan
    with pytest.warns(ConvergenceWarning):
        vae = make_vae(max_epochs=1, batch_size=len(X)).fit(holed)
    variance = vae.module_.likelihood.families[0].standardised_variance()
    assert_allclose(variance.detach().cpu().numpy(), 1.0, rtol=0.01)
    with pytest.warns(ConvergenceWarning):
        vae = make_vae(max_epochs=1, batch_size=len(X), init="random").fit(X)
    variance = vae.module_.likelihood.families[0].standardised_variance()
    assert_allclose(variance.detach().cpu().numpy(), 1.0, rtol=0.01)


def test_targets_of_rows_without_variance_are_zero():
    constant = np.ones((5, 4))
    assert_array_equal(_targets(constant, np.ones(5)), np.zeros((5, 2)))
    # Fewer components than asked for: one row, one feature.
    assert _targets(np.ones((1, 3)), np.ones(1)).shape == (1, 1)


@pytest.mark.short_fits
def test_alignment_maps_rows_to_their_targets(X, make_vae):
    vae = make_vae(max_epochs=1, init="random", device="cpu").fit(X)
    rows = DenseRows(torch.as_tensor(X, dtype=torch.float32))
    targets = torch.as_tensor(_targets(X, np.ones(len(X))), dtype=torch.float32)
    align_latent_means(
        vae.module_, rows, targets, 50, 1e-2, torch.Generator().manual_seed(0)
    )
    with torch.inference_mode():
        means = vae.module_.posterior_mean(rows.data)
    residual = (means - targets).square().sum() / targets.square().sum()
    assert residual < 0.05


@pytest.mark.short_fits
@pytest.mark.parametrize(("n_rows", "steps"), [(100, 100), (1_000, ALIGNMENT_STEPS)])
def test_alignment_runs_at_most_fifty_passes(X, make_vae, n_rows, steps):
    # Batches of 50: two per pass over 100 rows, so 50 passes are 100 steps.
    module = make_vae(max_epochs=1, init="random", device="cpu").fit(X).module_
    batches = []
    posterior_mean = module.posterior_mean

    def counted_posterior_mean(x):
        batches.append(len(x))
        return posterior_mean(x)

    module.posterior_mean = counted_posterior_mean
    rows = DenseRows(torch.as_tensor(np.resize(X, (n_rows, X.shape[1]))).float())
    align_latent_means(
        module, rows, torch.zeros(n_rows, 1), 50, 1e-2, torch.Generator()
    )
    assert len(batches) == steps


def _linear_fit_to_pca(X, Z) -> float:
    """R^2 of the best linear map from the first two principal components to Z."""
    pca = PCA(2).fit_transform(X)
    return LinearRegression().fit(pca, Z).score(pca, Z)


@pytest.mark.short_fits
def test_pca_init_starts_from_the_principal_components(X, make_vae):
    # One epoch of the ELBO barely moves the layout the alignment set up; from
    # random weights the layout is another one, which lines up with the
    # principal components by chance only.
    def fits(init):
        return [
            _linear_fit_to_pca(
                X, make_vae(max_epochs=1, init=init, random_state=seed).fit_transform(X)
            )
            for seed in range(5)
        ]

    assert min(fits("pca")) > 0.9
    assert np.mean(fits("random")) < 0.7


@pytest.mark.short_fits
def test_init_auto_starts_from_pca(binary_X, make_vae):
    params = dict(likelihood="bernoulli", max_epochs=3)
    auto = make_vae(**params).fit(binary_X).transform(binary_X)
    assert_array_equal(
        auto, make_vae(init="pca", **params).fit(binary_X).transform(binary_X)
    )
    random = make_vae(init="random", **params).fit(binary_X).transform(binary_X)
    assert not np.allclose(auto, random)


@pytest.mark.parametrize("init", ["auto", "random"])
@pytest.mark.parametrize("likelihood", ["gaussian", "poisson", "bernoulli"])
def test_the_container_does_not_change_the_model(binary_X, make_vae, init, likelihood):
    """Dense, CSR and pandas input of the same values give the same model."""
    pd = pytest.importorskip("pandas")
    params = dict(likelihood=likelihood, init=init, early_stopping=True)
    fitted = {
        name: make_vae(**params).fit(container(binary_X))
        for name, container in [
            ("dense", np.asarray),
            ("csr", sp.csr_matrix),
            ("pandas", pd.DataFrame),
        ]
    }
    dense = fitted.pop("dense")
    for model in fitted.values():
        assert_allclose(model.loss_curve_, dense.loss_curve_, rtol=1e-5)
        assert_allclose(model.transform(binary_X), dense.transform(binary_X), atol=1e-5)


@pytest.mark.narrow_sparse_as_dense
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_narrow_rows_give_the_same_model_bit_for_bit_in_any_container(
    binary_X, make_vae, likelihood
):
    """Sparse rows of few columns take the dense path a batch at a time, so
    rounding cannot grow, epoch after epoch, into another model."""
    pd = pytest.importorskip("pandas")
    containers = {"dense": np.asarray, "csr": sp.csr_matrix, "pandas": pd.DataFrame}
    fitted = {
        name: make_vae(likelihood=likelihood).fit(container(binary_X))
        for name, container in containers.items()
    }
    dense = fitted["dense"]
    for name, model in fitted.items():
        X = containers[name](binary_X)
        assert model.loss_curve_ == dense.loss_curve_
        assert_array_equal(model.transform(X), dense.transform(binary_X))
        assert_array_equal(model.score_samples(X), dense.score_samples(binary_X))


@pytest.mark.narrow_sparse_as_dense
@pytest.mark.parametrize("n_columns", [5, DENSE_BATCH_MAX_COLUMNS + 1])
def test_sparse_rows_go_out_dense_only_when_narrow(n_columns):
    X = sp.random(40, n_columns, density=0.05, format="csr", random_state=0)
    batch = SparseRows(X, torch.device("cpu")).take(torch.arange(10))
    assert batch.is_sparse == (n_columns > DENSE_BATCH_MAX_COLUMNS)
    assert_array_equal(batch.to_dense().numpy(), X[:10].toarray().astype(np.float32))


@pytest.mark.short_fits
def test_input_dropout_auto_follows_the_likelihood(X, binary_X, make_vae):
    assert make_vae(max_epochs=1).fit(X).input_dropout_ == 0.0
    bernoulli = make_vae(likelihood="bernoulli", max_epochs=1).fit(binary_X)
    assert bernoulli.input_dropout_ == 0.5
    assert make_vae(input_dropout=0.2, max_epochs=1).fit(X).input_dropout_ == 0.2
    for name in FAMILIES:
        on_unit_interval = name in ("bernoulli", "continuous_bernoulli")
        dropout = family_class(name).auto_input_dropout
        assert dropout == (0.5 if on_unit_interval else 0.0)


def test_dropout_drops_the_same_values_of_dense_and_sparse_rows(binary_X, make_vae):
    params = dict(likelihood="bernoulli", input_dropout=0.5, init="random")
    dense = make_vae(**params).fit(binary_X)
    sparse = make_vae(**params).fit(sp.csr_matrix(binary_X))
    assert_allclose(dense.transform(binary_X), sparse.transform(binary_X), atol=1e-5)
