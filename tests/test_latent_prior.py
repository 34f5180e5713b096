"""latent_prior: a Gaussian mixture of the aggregate posterior, to score and sample."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.mixture import GaussianMixture
from sklearn.utils._param_validation import InvalidParameterError

from skvae import VAEImputer, VAETransformer
from skvae._latent_prior import MAX_DRAWS_PER_ROW, MIXTURE_DRAWS, rows_to_draw_from
from skvae._module import VAE


@pytest.fixture
def clusters():
    """Three tight clusters in six features."""
    rng = np.random.RandomState(0)
    centres = rng.normal(scale=3.0, size=(3, 6))
    return np.vstack([c + 0.3 * rng.normal(size=(100, 6)) for c in centres])


@pytest.fixture
def mixture():
    rng = np.random.RandomState(0)
    codes = np.vstack([rng.normal(m, s, size=(300, 2)) for m, s in ((-2, 0.3), (2, 1))])
    return GaussianMixture(2, random_state=0).fit(codes)


def module_with(mixture) -> VAE:
    module = (
        VAETransformer(latent_dim=2, hidden_layer_sizes=(4,), device="cpu")
        .fit(np.random.RandomState(0).normal(size=(20, 3)))
        .module_
    )
    module.set_prior_mixture(
        mixture.weights_, mixture.means_, np.linalg.cholesky(mixture.covariances_)
    )
    return module


@pytest.mark.short_fits
def test_log_prior_is_the_mixtures_log_density(mixture):
    module = module_with(mixture)
    z = np.random.RandomState(1).normal(scale=2.0, size=(50, 2))
    got = module.log_prior(torch.as_tensor(z, dtype=torch.float32)).numpy()
    assert_allclose(got, mixture.score_samples(z), rtol=1e-5)
    module.set_prior_mixture()
    standard = module.log_prior(torch.as_tensor(z, dtype=torch.float32)).numpy()
    assert_allclose(standard, -0.5 * (z**2).sum(1) - np.log(2 * np.pi), rtol=1e-5)


@pytest.mark.short_fits
def test_prior_draws_follow_the_mixture_and_their_generator(mixture):
    module = module_with(mixture)
    draws = module.draw_prior(40_000, torch.Generator().manual_seed(0)).numpy()
    assert_array_equal(
        draws, module.draw_prior(40_000, torch.Generator().manual_seed(0)).numpy()
    )
    mean = mixture.weights_ @ mixture.means_
    second_moments = mixture.covariances_ + np.einsum(
        "ki,kj->kij", mixture.means_, mixture.means_
    )
    covariance = np.einsum("k,kij->ij", mixture.weights_, second_moments)
    covariance -= np.outer(mean, mean)
    assert_allclose(draws.mean(0), mean, atol=0.03)
    assert_allclose(np.cov(draws.T), covariance, atol=0.05)


def test_training_transform_and_decoding_do_not_change(clusters, make_vae):
    standard = make_vae(latent_dim=2, latent_prior="normal").fit(clusters)
    mixed = make_vae(latent_dim=2, latent_prior=3).fit(clusters)
    assert_array_equal(mixed.transform(clusters), standard.transform(clusters))
    assert mixed.loss_curve_ == standard.loss_curve_
    Z = np.zeros((2, 2))
    assert_array_equal(mixed.inverse_transform(Z), standard.inverse_transform(Z))
    # Scores and draws use the mixture fitted to the latent means.
    assert mixed.module_.has_prior_mixture and not standard.module_.has_prior_mixture
    assert mixed.score(clusters) > standard.score(clusters)
    assert_array_equal(mixed.sample(20), mixed.sample(20))
    assert not np.array_equal(mixed.sample(20), standard.sample(20))


def test_sampled_codes_stay_near_the_clusters(clusters, make_vae):
    mixed = make_vae(latent_dim=2, latent_prior=3).fit(clusters)
    codes = mixed.transform(clusters)
    drawn = mixed.transform(mixed.sample(600, random_state=0))
    standard = mixed.set_params(latent_prior="normal").fit(clusters)
    from_normal = standard.transform(standard.sample(600, random_state=0))

    def distance_to_nearest(Z):
        return np.sqrt(((Z[:, None, :] - codes[None]) ** 2).sum(-1)).min(1).mean()

    assert distance_to_nearest(drawn) < distance_to_nearest(from_normal)


@pytest.mark.short_fits
def test_continued_training_assumes_the_normal_prior(clusters, make_vae):
    # With importance-weighted training the prior enters the training loss:
    # a warm start must train as a model without the mixture does.
    params = dict(latent_dim=2, n_training_draws=3, max_epochs=5, warm_start=True)
    mixed = make_vae(latent_prior=3, **params).fit(clusters).fit(clusters)
    standard = make_vae(latent_prior="normal", **params).fit(clusters).fit(clusters)
    assert_array_equal(mixed.transform(clusters), standard.transform(clusters))
    assert mixed.module_.has_prior_mixture


def test_partial_fit_fits_the_mixture_on_each_calls_rows(clusters, make_vae):
    vae = make_vae(latent_dim=2, latent_prior=2).partial_fit(clusters[:100])
    first = vae.module_.prior_means.clone()
    vae.partial_fit(clusters)
    assert vae.module_.prior_means.shape == (2, 2)
    assert not torch.equal(vae.module_.prior_means, first)


def test_the_mixture_pickles_with_the_model(clusters, make_vae):
    vae = make_vae(latent_dim=2, latent_prior=3).fit(clusters)
    copy = pickle.loads(pickle.dumps(vae))
    assert_array_equal(copy.sample(10, random_state=0), vae.sample(10, random_state=0))
    assert copy.score(clusters) == vae.score(clusters)


def test_the_mixture_matches_the_aggregate_posteriors_moments(clusters, make_vae):
    # The aggregate posterior's covariance is, by the law of total variance,
    # the covariance of the posterior means plus the mean posterior variance.
    vae = make_vae(latent_dim=2, latent_prior=3, device="cpu").fit(clusters)
    posterior = vae.module_.encode(torch.as_tensor(clusters, dtype=torch.float32))
    loc, scale = posterior.loc.detach().numpy(), posterior.scale.detach().numpy()
    module = vae.module_
    weights = module.prior_log_weights.exp().numpy()
    means = module.prior_means.numpy()
    tril = module.prior_scale_tril.numpy()
    covariances = tril @ tril.transpose(0, 2, 1)
    mean = weights @ means
    centred = means - mean
    covariance = np.einsum("k,kij->ij", weights, covariances)
    covariance += np.einsum("k,ki,kj->ij", weights, centred, centred)
    assert_allclose(mean, loc.mean(0), atol=0.05)
    expected = np.cov(loc.T, bias=True) + np.diag((scale**2).mean(0))
    assert_allclose(covariance, expected, rtol=0.05, atol=0.01)


@pytest.mark.parametrize("stream", [False, True], ids=["fit", "partial_fit"])
def test_the_mixture_describes_the_rows_by_their_weights(clusters, make_vae, stream):
    # The first cluster weighs eight times each of the others: the prior's
    # mean is the weighted mean of the codes, as for the cluster repeated
    # eight times, and samples come from it eight times as often.
    order = np.random.RandomState(1).permutation(len(clusters))
    X, weights = clusters[order], np.repeat([8.0, 1.0, 1.0], 100)[order]
    vae = make_vae(latent_dim=2, latent_prior=3, device="cpu")
    if stream:  # each call's weights count relative to their mean
        chunks = np.array_split(np.arange(len(X)), 2)
        for rows in chunks:
            vae.partial_fit(X[rows], sample_weight=weights[rows])
        weights = np.concatenate([weights[r] / weights[r].mean() for r in chunks])
    else:
        vae.fit(X, sample_weight=weights)
    loc = vae.module_.encode(torch.as_tensor(X, dtype=torch.float32)).loc
    module = vae.module_
    prior_mean = module.prior_log_weights.exp().numpy() @ module.prior_means.numpy()
    expected = np.average(loc.detach().numpy(), axis=0, weights=weights)
    assert_allclose(prior_mean, expected, atol=0.05)
    unweighted = loc.detach().numpy().mean(0)
    assert np.linalg.norm(expected - unweighted) > 0.5  # the weights matter here


@pytest.mark.parametrize(
    ("n_rows", "n_draws"),
    [(40, 40 * MAX_DRAWS_PER_ROW), (1_000, 10_000), (12_000, MIXTURE_DRAWS)],
)
def test_the_mixture_reads_at_most_a_few_draws_per_row(n_rows, n_draws):
    # 10,000 draws spread over the rows, at most 20 from a row of a small
    # table, one from each of 10,000 rows of a large one; as many from rows
    # of unequal weights, in proportion to them.
    rng = np.random.default_rng(0)
    rows, draws = rows_to_draw_from(np.ones(n_rows), rng)
    assert len(rows) * draws == n_draws and draws <= MAX_DRAWS_PER_ROW
    weights = np.arange(1.0, n_rows + 1)
    rows, draws = rows_to_draw_from(weights, rng)
    assert np.sum(draws) == n_draws
    # drawn in proportion to the weights: E[w^2] / E[w], about 4/3 E[w]
    assert np.average(weights[rows], weights=draws) > 1.2 * weights.mean()


# The next two tests compare pickles byte for byte, which holds on the CPU
# only: a network on a GPU is pickled as a fresh CPU copy, and the pickle
# names that copy's storages.


def test_a_mixture_with_more_components_than_draws_is_refused_first(make_vae):
    X = np.random.RandomState(0).normal(size=(50, 3))
    vae = make_vae(latent_prior=2, device="cpu").fit(X)
    before = pickle.dumps(vae)
    # partial_fit fits the mixture to every row trained on: 51 rows, 20 draws each
    with pytest.raises(ValueError, match=r"latent_prior=2000 .* 51 row\(s\) .* 1020"):
        vae.set_params(latent_prior=2000).partial_fit(X[:1])
    with pytest.raises(ValueError, match=r"latent_prior=30 .* 1 row\(s\) .* give 20"):
        vae.set_params(latent_prior=30).fit(X[:1])
    assert pickle.dumps(vae.set_params(latent_prior=2)) == before
    fresh = make_vae(latent_prior=50)
    with pytest.raises(ValueError, match="latent_prior=50"):
        fresh.fit(X[:2])
    assert not hasattr(fresh, "module_")


def test_a_failed_mixture_leaves_the_model_as_it_was(make_vae, monkeypatch):
    X = np.random.RandomState(0).normal(size=(50, 3))
    vae = make_vae(latent_prior=2, device="cpu").fit(X)
    before = pickle.dumps(vae)

    def fail(*args, **kwargs):
        raise RuntimeError("EM failed")

    monkeypatch.setattr(GaussianMixture, "fit", fail)
    for train in (vae.partial_fit, vae.fit, make_vae(latent_prior=2, device="cpu").fit):
        with pytest.raises(RuntimeError, match="EM failed"):
            train(X)
    assert pickle.dumps(vae) == before


@pytest.mark.short_fits
def test_wide_posteriors_keep_their_scores(make_vae):
    # Pixels near 0.95 leave the decoder nothing to read from z: every
    # posterior is wide and about where the others are. A mixture of the
    # posterior means alone would be far narrower than them, and the
    # importance weights under it would wreck the score.
    X = np.clip(0.95 + 0.03 * np.random.RandomState(0).randn(300, 8), 0, 1)
    params = dict(
        likelihood="continuous_bernoulli", hidden_layer_sizes=(16,), device="cpu"
    )
    mixed = make_vae(latent_prior=10, max_epochs=30, **params).fit(X)
    standard = make_vae(latent_prior="normal", max_epochs=30, **params).fit(X)
    posterior = mixed.module_.encode(torch.as_tensor(X, dtype=torch.float32))
    spread_of_means = posterior.loc.std(0).detach().numpy()
    assert (spread_of_means < 0.1 * posterior.scale.mean(0).detach().numpy()).all()
    assert mixed.score(X) > standard.score(X) - 0.1


@pytest.mark.short_fits
def test_the_imputer_weighs_its_fills_with_the_mixture(clusters):
    holed = clusters.copy()
    holed[::7, 0] = np.nan
    params = dict(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
    standard = VAEImputer(**params).fit_transform(holed)
    mixed = VAEImputer(latent_prior=3, **params).fit_transform(holed)
    missing = np.isnan(holed)
    assert_array_equal(mixed[~missing], standard[~missing])
    assert not np.allclose(mixed[missing], standard[missing])


@pytest.mark.short_fits
def test_refined_recommendations_climb_the_training_bound(make_vae):
    # Refinement climbs the ELBO that training climbs, under N(0, I): the
    # mixture fitted afterwards changes neither the encoder nor the ranking.
    clicks = (np.random.RandomState(0).rand(60, 12) < 0.3).astype(float)
    params = dict(likelihood="multinomial", max_epochs=2, random_state=0)
    mixed = make_vae(latent_prior=2, **params).fit(clicks)
    standard = make_vae(latent_prior="normal", **params).fit(clicks)
    for refine_steps in (0, 5):
        got = mixed.recommend(clicks[:4], n=3, refine_steps=refine_steps)
        expected = standard.recommend(clicks[:4], n=3, refine_steps=refine_steps)
        assert_array_equal(got[0], expected[0])
        assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("value", [0, "mixture", 2.5])
def test_bad_values_are_refused(clusters, value):
    with pytest.raises(InvalidParameterError, match="latent_prior"):
        VAETransformer(latent_prior=value).fit(clusters)
