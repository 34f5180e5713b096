"""The numbers are log-likelihoods in nats, with every constant in place."""

import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy import sparse, stats
from sklearn.decomposition import PCA

from skvae import VAETransformer
from skvae._columns import column_means, column_variances
from skvae._likelihoods import (
    GAUSSIAN_VARIANCE_FLOOR,
    BernoulliFamily,
    Likelihood,
    RealValued,
)


def test_score_matches_pca_on_linear_gaussian_data():
    """On data from a linear-Gaussian model both estimate the same density."""
    rng = np.random.RandomState(0)
    weights = rng.randn(2, 10)

    def draw(n):
        return rng.randn(n, 2) @ weights + 0.5 * rng.randn(n, 10) + 3.0

    X_train, X_test = draw(2000), draw(1000)
    pca_score = PCA(2).fit(X_train).score(X_test)
    vae = VAETransformer(
        2, hidden_layer_sizes=(16,), learning_rate=3e-3, max_epochs=100, random_state=0
    ).fit(X_train)
    assert vae.score(X_test) == pytest.approx(pca_score, rel=0.03)


def test_gaussian_log_prob_is_the_normal_density():
    X = np.array([[1.0, -2.0], [3.0, 0.0], [2.0, 5.0]])
    likelihood = Likelihood.from_data("gaussian", X)
    family = likelihood.families[0]
    decoder_output = torch.tensor([[0.5, -1.0]])
    px = family.distribution(family.link(decoder_output))
    loc = X.mean(0) + X.std(0) * np.array([0.5, -1.0])
    std = X.std(0) * math.sqrt(GAUSSIAN_VARIANCE_FLOOR + 1.0)
    expected = stats.norm(loc, std).logpdf(X)
    x = torch.tensor(X, dtype=torch.float32)
    assert_allclose(px.log_prob(x).detach().numpy(), expected, rtol=1e-5)
    # The family's own log-probability gives the same, summed over a row, also
    # with a leading axis of posterior draws.
    draws = decoder_output.expand(4, 3, 2)
    row_log_prob = likelihood.log_prob(draws, x).detach().numpy()
    assert row_log_prob.shape == (4, 3)
    assert_allclose(row_log_prob, np.tile(expected.sum(-1), (4, 1)), rtol=1e-5)


def test_gaussian_constant_column_stays_finite():
    X = np.column_stack([np.arange(5.0), np.full(5, 7.0)])
    family = RealValued.from_data(X)
    assert family.scale[1] == 1.0
    px = family.distribution(family.link(torch.zeros(1, 2)))
    assert px.scale[0, 1] >= math.sqrt(GAUSSIAN_VARIANCE_FLOOR)


@pytest.mark.parametrize("value", [0.7, 1 / 3, 3.0, 2.2, 1e6 + 0.1])
@pytest.mark.parametrize(
    "to_matrix", [np.asarray, sparse.csr_matrix, sparse.csc_matrix]
)
def test_a_constant_column_is_found_constant_whatever_its_value(value, to_matrix):
    # E[x**2] - E[x]**2 leaves rounding of about 1e-8 * |value| in the
    # standard deviation, which made the constant's scale 1e-7
    for n_rows in (40, 97, 100, 1000):
        X = np.column_stack([np.arange(n_rows) % 5, np.full(n_rows, value)])
        family = RealValued.from_data(
            to_matrix(X), sample_weight=np.arange(n_rows) + 1.0
        )
        assert family.scale[1] == 1.0
        assert family.scale[0] > 0.5


@pytest.mark.parametrize("scale", [1e-9, 1e-17, 1e20])
def test_units_change_the_score_by_the_log_of_the_scale_only(X, make_vae, scale):
    # Columns of tiny values that vary were once taken for constants: every
    # row got the same code and a row 50 times too large was not unusual.
    unit = make_vae().fit(X)
    scaled = make_vae().fit(X * scale)
    assert scaled.n_iter_ == unit.n_iter_
    assert_allclose(scaled.transform(X * scale), unit.transform(X), atol=1e-3)
    shift = X.shape[1] * math.log(scale)
    assert scaled.score(X * scale) == pytest.approx(unit.score(X) - shift, abs=0.01)


@pytest.mark.parametrize("scale", [1e-17, 1e-19, 1e-25])
def test_a_unit_variance_fits_columns_of_the_smallest_scales(X, make_vae, scale):
    # 1 / scale**2 overflows float32 below about 5e-20: such columns are
    # scaled by 1, as constants are
    vae = make_vae(likelihood="gaussian_fixed").fit(X * scale)
    assert np.isfinite(vae.score_samples(X * scale)).all()


@pytest.mark.parametrize(
    "to_matrix", [np.asarray, sparse.csr_matrix, sparse.csc_matrix]
)
def test_column_variances_are_the_weighted_variances_of_the_observed_cells(to_matrix):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)) * [1.0, 10.0, 0.1, 1.0] + [0.0, 5.0, 3.0, 0.0]
    X[rng.random(X.shape) < 0.5] = 0.0  # implicit zeros once sparse
    X[3, 1] = X[7, 3] = X[8, 3] = np.nan
    weights = rng.random(60)
    observed = ~np.isnan(X)
    mean = column_means(to_matrix(X), weights)
    expected = [
        np.cov(X[observed[:, j], j], aweights=weights[observed[:, j]], bias=True)
        for j in range(4)
    ]
    assert_allclose(column_variances(to_matrix(X), mean, weights), expected)


def test_bernoulli_log_prob_is_the_cross_entropy():
    logits = torch.tensor([[0.3, -2.0, 1.5]])
    x = torch.tensor([[1.0, 0.0, 1.0]])
    px = BernoulliFamily(3).distribution(logits)
    p = torch.sigmoid(logits)
    expected = x * torch.log(p) + (1 - x) * torch.log(1 - p)
    assert_allclose(px.log_prob(x).numpy(), expected.numpy(), rtol=1e-5)


@pytest.mark.short_fits
def test_kl_term_is_the_closed_form(X, make_vae):
    module = make_vae(max_epochs=2, device="cpu").fit(X).module_
    x = torch.tensor(X[:10], dtype=torch.float32)
    qz = module.encode(x)
    terms = module.elbo_terms(x, torch.zeros(10, 2))
    prior = torch.distributions.Normal(0.0, 1.0)
    expected = torch.distributions.kl_divergence(qz, prior).sum(-1)
    assert_allclose(terms.kl.detach().numpy(), expected.detach().numpy(), rtol=1e-5)


@pytest.mark.short_fits
def test_one_importance_draw_is_the_elbo_on_average(X, make_vae):
    """One draw puts log p(z) - log q(z | x) for the closed-form KL: same mean."""
    # The closed-form KL is against N(0, I), the prior that training assumes.
    module = make_vae(max_epochs=2, latent_prior="normal", device="cpu")
    module = module.fit(X).module_
    x = torch.tensor(X[:10], dtype=torch.float32)
    draws = torch.randn(2000, 1, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        iwae = torch.stack([module.log_marginal(x, noise) for noise in draws])
        elbo = torch.stack(
            [module.elbo_terms(x, noise.expand(10, 2)).elbo() for noise in draws]
        )
    assert_allclose(iwae.mean(0).numpy(), elbo.mean(0).numpy(), atol=0.1)
    assert not torch.allclose(iwae, elbo)  # yet each single estimate differs


def test_more_importance_draws_tighten_the_bound(X, make_vae):
    # The bound rises with the number of draws in expectation. A fitted model
    # scores every row with the same draws, so a single estimate with one draw
    # can land above the mean; average over the draws of 20 score seeds.
    vae = make_vae().fit(X)

    def mean_score(n_draws):
        vae.set_params(n_importance_samples=n_draws)
        scores = []
        for seed in range(20):
            vae._score_seed = seed
            scores.append(vae.score(X))
        return np.mean(scores)

    scores = [mean_score(k) for k in (1, 10, 100)]
    assert scores[0] < scores[1] < scores[2]


@pytest.mark.short_fits
def test_importance_weighted_bound_with_shared_draws_is_log_marginal(X, make_vae):
    """The training bound and the scoring estimate are one formula."""
    module = make_vae(max_epochs=2, device="cpu").fit(X).module_
    x = torch.tensor(X[:10], dtype=torch.float32)
    noise = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        bound = module.importance_weighted_bound(x, noise[:, None, :].expand(7, 10, 2))
        expected = module.log_marginal(x, noise)
    assert_allclose(bound.numpy(), expected.numpy(), rtol=1e-6)


def test_training_on_the_importance_weighted_bound_fits_the_density(make_vae):
    """More draws in training give a higher held-out log-likelihood (Burda et al.),
    under the prior that training assumes."""
    rng = np.random.RandomState(0)
    latent = rng.randn(1200, 2)
    X = np.tanh(latent @ rng.randn(2, 8)) + 0.05 * rng.randn(1200, 8)
    scores = {}
    for n_draws in (1, 10):
        # fits that run to the stopping rule's default window, not the quick one
        vae = make_vae(
            n_training_draws=n_draws,
            n_importance_samples=200,
            n_iter_no_change=10,
            max_epochs=300,
            latent_prior="normal",
        )
        scores[n_draws] = vae.fit(X[:1000]).score(X[1000:])
    assert scores[10] > scores[1]
