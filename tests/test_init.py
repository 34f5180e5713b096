"""How training starts: the PCA layout (``init``) and ``input_dropout='auto'``."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression

from skvae._base import _principal_component_targets
from skvae._data import DenseRows
from skvae._likelihoods import LIKELIHOODS
from skvae._training import TrainingConfig, align_latent_means


def _targets(features, weights, n_components=2):
    return _principal_component_targets(
        features.astype(np.float32), weights, n_components, random_state=0
    )


def test_targets_are_the_whitened_pca_scores(X):
    targets = _targets(X, np.ones(len(X)))
    expected = PCA(2, whiten=True).fit_transform(X)
    # Components have arbitrary signs; PCA whitens to variance 1 with n - 1.
    signs = np.sign((targets * expected).sum(0))
    assert_allclose(
        targets * signs, expected * np.sqrt(len(X) / (len(X) - 1)), atol=1e-4
    )
    assert_allclose(targets.var(0), 1.0, rtol=1e-4)


def test_targets_ignore_rows_of_weight_zero(X):
    wild = np.vstack([np.full((20, X.shape[1]), 1e3), X])
    weights = np.r_[np.zeros(20), np.ones(len(X))]
    targets = _targets(wild, weights)
    assert_allclose(np.abs(targets[20:]), np.abs(_targets(X, np.ones(len(X)))))


def test_targets_of_rows_without_variance_are_zero():
    constant = np.ones((5, 4))
    assert_array_equal(_targets(constant, np.ones(5)), np.zeros((5, 2)))
    # Fewer components than asked for: one row, one feature.
    assert _targets(np.ones((1, 3)), np.ones(1)).shape == (1, 1)


def test_alignment_maps_rows_to_their_targets(X, make_vae):
    vae = make_vae(max_epochs=1, init="random").fit(X)
    rows = DenseRows(torch.as_tensor(X, dtype=torch.float32))
    targets = torch.as_tensor(_targets(X, np.ones(len(X))))
    config = TrainingConfig(
        batch_size=50, max_epochs=1, learning_rate=1e-2, beta=1.0, tol=0.0,
        n_iter_no_change=1,
    )  # fmt: skip
    align_latent_means(
        vae.module_, rows, targets, config, torch.Generator().manual_seed(0)
    )
    with torch.inference_mode():
        means = vae.module_.posterior_mean(rows.data)
    residual = (means - targets).square().sum() / targets.square().sum()
    assert residual < 0.05


def _linear_fit_to_pca(X, Z) -> float:
    """R^2 of the best linear map from the first two principal components to Z."""
    pca = PCA(2).fit_transform(X)
    return LinearRegression().fit(pca, Z).score(pca, Z)


def test_pca_init_starts_from_the_principal_components(X, make_vae):
    # One epoch of the ELBO barely moves the layout the alignment set up.
    for seed in (0, 1, 2):
        vae = make_vae(max_epochs=1, init="pca", random_state=seed).fit(X)
        assert _linear_fit_to_pca(X, vae.transform(X)) > 0.9, seed
    # From random weights the layout is another one.
    vae = make_vae(max_epochs=1, init="random", random_state=1).fit(X)
    assert _linear_fit_to_pca(X, vae.transform(X)) < 0.6


def test_init_auto_is_pca_for_dense_and_random_for_sparse(binary_X, make_vae):
    params = dict(likelihood="bernoulli", max_epochs=3)
    auto = make_vae(**params).fit(binary_X).transform(binary_X)
    assert_array_equal(
        auto, make_vae(init="pca", **params).fit(binary_X).transform(binary_X)
    )
    sparse = sp.csr_matrix(binary_X)
    assert_array_equal(
        make_vae(**params).fit(sparse).transform(sparse),
        make_vae(init="random", **params).fit(sparse).transform(sparse),
    )


def test_init_pca_refuses_sparse_input_and_keeps_the_fitted_model(binary_X, make_vae):
    vae = make_vae(likelihood="bernoulli", max_epochs=2).fit(binary_X)
    before = vae.transform(binary_X)
    vae.set_params(init="pca")
    with pytest.raises(ValueError, match="init='pca' needs dense X"):
        vae.fit(sp.csr_matrix(binary_X))
    assert_array_equal(vae.transform(binary_X), before)


def test_input_dropout_auto_follows_the_likelihood(X, binary_X, make_vae):
    assert make_vae(max_epochs=1).fit(X).input_dropout_ == 0.0
    bernoulli = make_vae(likelihood="bernoulli", max_epochs=1).fit(binary_X)
    assert bernoulli.input_dropout_ == 0.5
    assert make_vae(input_dropout=0.2, max_epochs=1).fit(X).input_dropout_ == 0.2
    for name, likelihood in LIKELIHOODS.items():
        on_unit_interval = name in ("bernoulli", "continuous_bernoulli")
        assert likelihood.auto_input_dropout == (0.5 if on_unit_interval else 0.0)


def test_dropout_drops_the_same_values_of_dense_and_sparse_rows(binary_X, make_vae):
    params = dict(likelihood="bernoulli", input_dropout=0.5, init="random")
    dense = make_vae(**params).fit(binary_X)
    sparse = make_vae(**params).fit(sp.csr_matrix(binary_X))
    assert_allclose(dense.transform(binary_X), sparse.transform(binary_X), atol=1e-5)
