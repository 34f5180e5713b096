"""Every observation model: exact log-probabilities, domains, fits and draws."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose
from scipy import stats

from skvae import VAETransformer
from skvae._data import seeded_global_rng
from skvae._families import family_class
from skvae._likelihoods import (
    FAMILIES,
    VARIANCE_PRIOR_ROWS,
    Likelihood,
)
from skvae._module import _linear

DECODER_OUTPUT = torch.tensor([[0.3, -1.2, 2.0], [-0.5, 0.8, 0.1]])


def _counts():
    rng = np.random.RandomState(0)
    return rng.poisson(rng.gamma(2.0, 1.0, size=(300, 10))).astype(float)


def _unit_interval():
    rng = np.random.RandomState(0)
    return rng.beta(2.0, 5.0, size=(300, 10))


# Data each family can describe, and values it must reject.
DOMAINS = {
    "gaussian": (lambda: np.random.RandomState(0).randn(300, 10), None),
    "gaussian_fixed": (lambda: np.random.RandomState(0).randn(300, 10), None),
    "gaussian_standardised": (lambda: np.random.RandomState(0).randn(300, 10), None),
    "laplace": (lambda: np.random.RandomState(0).laplace(size=(300, 10)), None),
    "laplace_standardised": (
        lambda: np.random.RandomState(0).laplace(size=(300, 10)),
        None,
    ),
    "bernoulli": (_unit_interval, 1.5),
    "continuous_bernoulli": (_unit_interval, -0.2),
    "poisson": (_counts, -1.0),
    "negative_binomial": (_counts, 2.5),
    "multinomial": (_counts, -3.0),
}


def test_every_family_has_its_domain_listed():
    assert set(DOMAINS) == set(FAMILIES)


def _log_prob(name, X, decoder_output):
    likelihood = Likelihood.from_data(name, X)
    x = torch.tensor(X[: len(decoder_output)], dtype=torch.float32)
    with torch.no_grad():
        return likelihood, likelihood.log_prob(decoder_output, x).numpy()


def _family(likelihood):
    (family,) = likelihood.families
    return family


def test_gaussian_fixed_is_unit_variance_normal():
    X = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, 1.5], [2.0, 5.0, -1.0]])
    likelihood, log_prob = _log_prob("gaussian_fixed", X, DECODER_OUTPUT)
    loc = X.mean(0) + X.std(0) * DECODER_OUTPUT.numpy()
    expected = stats.norm(loc, 1.0).logpdf(X[:2]).sum(-1)
    assert_allclose(log_prob, expected, rtol=1e-5)
    assert not any(p.numel() for p in likelihood.parameters())
    # columns of spread 1e-18 scored at 100: standardised, the residual is
    # about 1e20, whose square overflows float32 (the log-density was -inf)
    tiny = X * 1e-18
    likelihood = Likelihood.from_data("gaussian_fixed", tiny)
    with torch.no_grad():
        log_prob = likelihood.log_prob(DECODER_OUTPUT, torch.full((2, 3), 100.0))
    loc = tiny.mean(0) + tiny.std(0) * DECODER_OUTPUT.numpy()
    expected = stats.norm(loc, 1.0).logpdf(100.0).sum(-1)
    assert_allclose(log_prob.numpy(), expected, rtol=1e-5)


def test_gaussian_standardised_has_the_training_variance_and_ignores_units():
    X = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, 1.5], [2.0, 5.0, -1.0]])
    likelihood, log_prob = _log_prob("gaussian_standardised", X, DECODER_OUTPUT)
    loc = X.mean(0) + X.std(0) * DECODER_OUTPUT.numpy()
    expected = stats.norm(loc, X.std(0)).logpdf(X[:2]).sum(-1)
    assert_allclose(log_prob, expected, rtol=1e-5)
    assert not any(p.numel() for p in likelihood.parameters())
    # Rescaling a feature shifts every row's density by the same log-Jacobian.
    _, rescaled = _log_prob("gaussian_standardised", X * [1000, 1, 1], DECODER_OUTPUT)
    assert_allclose(rescaled, log_prob - np.log(1000), rtol=1e-5)


def test_laplace_matches_scipy_with_its_learned_variance():
    X = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, 1.5], [2.0, 5.0, -1.0]])
    likelihood = Likelihood.from_data("laplace", X)
    with torch.no_grad():
        _family(likelihood).raw_variance.copy_(torch.tensor([-1.0, 0.0, 2.0]))
        log_prob = likelihood.log_prob(
            DECODER_OUTPUT, torch.tensor(X[:2], dtype=torch.float32)
        ).numpy()
        variance = _family(likelihood).distribution(DECODER_OUTPUT).variance[0].numpy()
    loc = X.mean(0) + X.std(0) * DECODER_OUTPUT.numpy()
    expected = stats.laplace(loc, np.sqrt(variance / 2)).logpdf(X[:2]).sum(-1)
    assert_allclose(log_prob, expected, rtol=1e-5)
    softplus = np.log1p(np.exp([-1.0, 0.0, 2.0]))
    assert_allclose(variance, X.var(0) * (1e-3 + softplus), rtol=1e-6)


def test_the_variance_prior_is_worth_its_rows_of_unit_variance():
    # n rows whose standardised residuals have mean square s2: the Gaussian
    # log-likelihood plus the prior peaks at (n * s2 + rows) / (n + rows).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3)) * [0.1, 1.0, 3.0]
    likelihood = Likelihood.from_data("gaussian", rng.normal(size=(100, 3)))
    family = _family(likelihood)
    standardised = (X - family.offset.numpy()) / family.scale.numpy()
    mean_square = (standardised**2).mean(0)
    peak = (len(X) * mean_square + VARIANCE_PRIOR_ROWS) / (len(X) + VARIANCE_PRIOR_ROWS)
    family.start_variances(peak)
    assert_allclose(family.standardised_variance().detach(), peak, rtol=1e-5)
    x = torch.tensor(X, dtype=torch.float32)

    def gradient_per_row(likelihood, parameter):
        """The training step's gradient: minus the mean ELBO's, then the prior's."""
        parameter.grad = None
        (-likelihood.log_prob(torch.zeros_like(x), x).mean()).backward()
        likelihood.add_prior_gradient(1.0 / len(X))
        return parameter.grad

    assert_allclose(gradient_per_row(likelihood, family.raw_variance), 0.0, atol=1e-4)
    # Off the peak, the gradient points back to it.
    family.start_variances(2 * peak)
    assert (gradient_per_row(likelihood, family.raw_variance) > 0).all()
    family.start_variances(peak / 2)
    assert (gradient_per_row(likelihood, family.raw_variance) < 0).all()
    # Parameters that are not variances have no prior.
    counts = Likelihood.from_data("negative_binomial", np.abs(X).round())
    dispersion = _family(counts).raw_dispersion
    (-counts.log_prob(torch.zeros_like(x), torch.abs(x).round()).mean()).backward()
    likelihood_only = dispersion.grad.clone()
    counts.add_prior_gradient(1.0 / len(X))
    assert torch.equal(dispersion.grad, likelihood_only)


def test_laplace_standardised_has_the_training_variance_and_ignores_units():
    X = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, 1.5], [2.0, 5.0, -1.0]])
    likelihood, log_prob = _log_prob("laplace_standardised", X, DECODER_OUTPUT)
    loc = X.mean(0) + X.std(0) * DECODER_OUTPUT.numpy()
    expected = stats.laplace(loc, X.std(0) / np.sqrt(2)).logpdf(X[:2]).sum(-1)
    assert_allclose(log_prob, expected, rtol=1e-5)
    assert not any(p.numel() for p in likelihood.parameters())
    _, rescaled = _log_prob("laplace_standardised", X * [1000, 1, 1], DECODER_OUTPUT)
    assert_allclose(rescaled, log_prob - np.log(1000), rtol=1e-5)


def test_laplace_draws_have_the_laplace_spread():
    likelihood = Likelihood.from_data("laplace_standardised", np.array([[0.0], [2.0]]))
    with seeded_global_rng(0, torch.device("cpu")):
        draws = likelihood.sample(torch.zeros(20_000, 1)).numpy().ravel()
    # Location 1, scale 1 / sqrt(2): a Kolmogorov-Smirnov test against it.
    assert stats.kstest(draws, stats.laplace(1.0, 1 / np.sqrt(2)).cdf).pvalue > 0.01


def test_continuous_bernoulli_is_normalised_and_matches_its_formula():
    X = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.0], [0.4, 0.4, 1.0]])
    likelihood, log_prob = _log_prob("continuous_bernoulli", X, DECODER_OUTPUT)
    lam = torch.sigmoid(_family(likelihood).offset + DECODER_OUTPUT).double().numpy()
    norm = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    x = X[:2]
    expected = (norm + x * np.log(lam) + (1 - x) * np.log(1 - lam)).sum(-1)
    assert_allclose(log_prob, expected, rtol=1e-4)
    # A density on [0, 1]: it integrates to 1.
    grid = torch.linspace(0, 1, 20001)[:, None]
    family = _family(likelihood)
    with torch.no_grad():
        logits = family.link(DECODER_OUTPUT[:1])
        density = family.log_prob(logits, grid).exp()
    assert_allclose(torch.trapezoid(density, grid, dim=0).numpy(), 1.0, rtol=1e-4)


def test_poisson_matches_scipy():
    X = np.array([[0.0, 3.0, 1.0], [7.0, 0.0, 2.0], [1.0, 1.0, 0.0]])
    likelihood, log_prob = _log_prob("poisson", X, DECODER_OUTPUT)
    rate = torch.exp(_family(likelihood).offset + DECODER_OUTPUT).numpy()
    expected = stats.poisson(rate).logpmf(X[:2]).sum(-1)
    assert_allclose(log_prob, expected, rtol=1e-5)


def test_negative_binomial_matches_scipy():
    X = np.array([[0.0, 3.0, 1.0], [7.0, 0.0, 12.0], [1.0, 1.0, 0.0]])
    likelihood, log_prob = _log_prob("negative_binomial", X, DECODER_OUTPUT)
    family = _family(likelihood)
    with torch.no_grad():
        family.raw_dispersion.copy_(torch.tensor([0.5, -1.0, 2.0]))
        log_prob = likelihood.log_prob(
            DECODER_OUTPUT, torch.tensor(X[:2], dtype=torch.float32)
        ).numpy()
        theta = family.dispersion().numpy()
    mu = torch.exp(family.offset + DECODER_OUTPUT).numpy()
    # scipy's nbinom(n, p) counts failures before n successes: p = theta / (theta + mu)
    expected = stats.nbinom(theta, theta / (theta + mu)).logpmf(X[:2]).sum(-1)
    assert_allclose(log_prob, expected, rtol=1e-4)


def test_multinomial_matches_scipy_with_each_rows_own_total():
    X = np.array([[0.0, 3.0, 1.0], [7.0, 0.0, 2.0], [1.0, 1.0, 0.0]])
    likelihood, log_prob = _log_prob("multinomial", X, DECODER_OUTPUT)
    probs = torch.softmax(_family(likelihood).offset + DECODER_OUTPUT, -1)
    probs = probs.double().numpy()
    probs /= probs.sum(-1, keepdims=True)  # exactly 1 in float64, as scipy asks
    expected = [
        stats.multinomial(row.sum(), p).logpmf(row)
        for row, p in zip(X[:2], probs, strict=True)
    ]
    assert_allclose(log_prob, expected, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(set(FAMILIES) - {"categorical"}))
def test_each_familys_mean_is_its_distributions(name):
    # a family may write its mean out (the multinomial does, as torch's
    # Multinomial checks its arguments whatever validate_args says)
    make_X, _ = DOMAINS[name]
    likelihood = Likelihood.from_data(name, make_X())
    family = _family(likelihood)
    with torch.no_grad():
        parameter = family.link(DECODER_OUTPUT.repeat(1, 4)[:, : family.n_outputs])
        expected = family.distribution(parameter).mean
        assert_allclose(family.mean(parameter).numpy(), expected.numpy(), rtol=1e-6)


def mostly_zero_rows(name):
    """A family's likelihood, six of its rows with half the values 0, and four
    random decoder outputs for them."""
    make_data, _ = DOMAINS[name]
    X = make_data()[:6]
    X[X < np.median(X)] = 0.0  # make it properly sparse
    likelihood = Likelihood.from_data(name, X)
    dense = torch.tensor(X, dtype=torch.float32)
    output = torch.randn(4, *X.shape, generator=torch.Generator().manual_seed(0))
    return likelihood, dense, output


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_sparse_rows_score_as_dense_rows(name):
    likelihood, dense, output = mostly_zero_rows(name)
    with torch.no_grad():
        expected = likelihood.log_prob(output, dense)
        got = likelihood.log_prob(output, dense.to_sparse())
    assert got.shape == (4, 6)
    assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_feature_log_probs_add_up_and_match_between_dense_and_sparse(name):
    likelihood, dense, output = mostly_zero_rows(name)
    with torch.no_grad():
        per_feature = likelihood.feature_log_prob(output, dense)
        from_sparse = likelihood.feature_log_prob(output, dense.to_sparse())
        whole_rows = likelihood.log_prob(output, dense)
    assert per_feature.shape == (4, *dense.shape)
    assert_allclose(from_sparse.numpy(), per_feature.numpy(), rtol=1e-5, atol=1e-5)
    if name == "multinomial":  # log n! of each row belongs to no feature
        whole_rows = whole_rows - torch.lgamma(dense.sum(-1) + 1)
    assert_allclose(
        per_feature.sum(-1).numpy(), whole_rows.numpy(), rtol=1e-5, atol=1e-4
    )


def log_prob_and_gradients(log_prob_of, hidden, layer):
    """A row log-probability and its gradients for the last layer and its input.

    Each row's log-probability gets a different weight, as rows do in training.
    """
    log_prob = log_prob_of(hidden)
    row_weights = torch.linspace(0.5, 2.0, len(log_prob))
    gradients = torch.autograd.grad(
        (row_weights * log_prob).sum(), [hidden, layer.weight, layer.bias]
    )
    return [log_prob.detach(), *gradients]


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("container", ["dense", "sparse"])
def test_log_prob_after_the_last_layer_is_log_prob_of_its_output(name, container):
    """Families may fuse the decoder's last layer with the log-probability
    (Bernoulli, Poisson and multinomial do, for sparse rows); values and
    gradients must be those of the two steps taken one after the other."""
    likelihood, dense, _ = mostly_zero_rows(name)
    generator = torch.Generator().manual_seed(1)
    layer = _linear(3, dense.shape[1], generator)
    hidden = torch.randn(len(dense), 3, generator=generator, requires_grad=True)
    x = dense.to_sparse() if container == "sparse" else dense
    got = log_prob_and_gradients(
        lambda h: likelihood.log_prob_after(layer, h, x), hidden, layer
    )
    expected = log_prob_and_gradients(
        lambda h: likelihood.log_prob(layer(h), dense), hidden, layer
    )
    for got_part, expected_part in zip(got, expected, strict=True):
        assert_allclose(got_part.numpy(), expected_part.numpy(), rtol=1e-5, atol=1e-5)


FUSED_FAMILIES = [name for name in FAMILIES if family_class(name).fused_sparse]


def test_the_families_linear_in_x_take_the_fused_sparse_step():
    assert sorted(FUSED_FAMILIES) == ["bernoulli", "multinomial", "poisson"]


@pytest.mark.parametrize("name", FUSED_FAMILIES)
def test_fused_sparse_step_is_the_same_in_blocks_of_rows(monkeypatch, name):
    """Wide rows have their log-partition taken a block of rows at a time."""
    likelihood, dense, _ = mostly_zero_rows(name)
    layer = _linear(3, dense.shape[1], torch.Generator().manual_seed(1))
    hidden = torch.randn(len(dense), 3, generator=torch.Generator().manual_seed(2))
    expected = likelihood.log_prob(layer(hidden), dense).detach()
    monkeypatch.setattr("skvae._sparse_log_prob._BLOCK_VALUES", 25)  # 2 rows
    got = likelihood.log_prob_after(layer, hidden, dense.to_sparse()).detach()
    assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", FUSED_FAMILIES)
def test_fused_sparse_step_backward_runs_once(name):
    """Its backward pass reuses the logits' memory, so a second one must refuse."""
    likelihood, dense, _ = mostly_zero_rows(name)
    layer = _linear(3, dense.shape[1], torch.Generator().manual_seed(1))
    hidden = torch.ones(len(dense), 3, requires_grad=True)
    total = likelihood.log_prob_after(layer, hidden, dense.to_sparse()).sum()
    total.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="once per forward pass"):
        total.backward()


@pytest.mark.short_fits
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_fits_scores_and_samples_in_its_domain(name):
    make_data, _ = DOMAINS[name]
    X = make_data()
    vae = VAETransformer(
        2, hidden_layer_sizes=(16,), likelihood=name, max_epochs=5, random_state=0
    ).fit(X)
    assert np.isfinite(vae.score_samples(X)).all()
    draws = vae.sample(200, random_state=0)
    means = vae.sample(200, random_state=0, return_mean=True)
    assert np.isfinite(draws).all() and np.isfinite(means).all()
    if name in ("bernoulli", "continuous_bernoulli"):
        assert draws.min() >= 0.0 and draws.max() <= 1.0
        assert ((means > 0) & (means < 1)).all()
    if name in ("poisson", "negative_binomial", "multinomial"):
        assert draws.min() >= 0.0 and (draws == np.round(draws)).all()
        assert draws.std() > 0
    if name == "bernoulli":
        assert set(np.unique(draws)) <= {0.0, 1.0}
    if name == "multinomial":
        total_count = vae.module_.likelihood.families[0].total_count.item()
        assert_allclose(draws.sum(1), total_count)


@pytest.mark.parametrize("name", [name for name in DOMAINS if DOMAINS[name][1]])
@pytest.mark.parametrize("container", [np.array, sp.csr_matrix])
def test_each_family_rejects_values_outside_its_domain(name, container):
    make_data, bad_value = DOMAINS[name]
    X = make_data()
    X[3, 4] = bad_value
    vae = VAETransformer(likelihood=name, max_epochs=1)
    with pytest.raises(ValueError, match=rf"likelihood='{name}' needs .*{bad_value:g}"):
        vae.fit(container(X))
    assert not hasattr(vae, "module_")


@pytest.mark.short_fits
def test_count_families_name_the_fractional_value():
    X = _counts()
    fitted = VAETransformer(likelihood="poisson", max_epochs=1, random_state=0).fit(X)
    X[0, 0] = 0.25
    with pytest.raises(ValueError, match="integer counts.*0.25") as error:
        fitted.score_samples(X)
    # rounding tf-idf weights below 1 would leave zeros: the counts instead
    assert "Pass the counts themselves" in str(error.value)
    X[0, 0] = 3 + 1e-9  # before: "values such as 3"
    with pytest.raises(ValueError, match=r"such as 3\.000000001 in row 0\."):
        fitted.score_samples(X)


@pytest.mark.short_fits
def test_continuous_bernoulli_scores_pixels_higher_than_bernoulli_can():
    """On intensities the Bernoulli 'likelihood' is not normalised: each of its
    terms is at most 0, while a normalised density on [0, 1] that has learned
    where bright pixels lie goes well above 1."""
    rng = np.random.RandomState(0)
    X = np.clip(0.95 + 0.03 * rng.randn(300, 8), 0, 1)
    scores = {
        name: VAETransformer(
            hidden_layer_sizes=(16,), likelihood=name, max_epochs=30, random_state=0
        )
        .fit(X)
        .score(X)
        for name in ("bernoulli", "continuous_bernoulli")
    }
    assert scores["bernoulli"] < 0
    assert scores["continuous_bernoulli"] > 5


def two_blocks():
    """Gaussian columns 0, 2, 4 and Poisson columns 1, 3, 5, in one likelihood."""
    rng = np.random.RandomState(0)
    X = np.empty((50, 6))
    X[:, [0, 2, 4]] = rng.randn(50, 3)
    X[:, [1, 3, 5]] = rng.poisson(3.0, size=(50, 3))
    gaussian = Likelihood.from_data("gaussian", X[:, [0, 2, 4]])
    poisson = Likelihood.from_data("poisson", X[:, [1, 3, 5]])
    blocks = Likelihood([([0, 2, 4], _family(gaussian)), ([1, 3, 5], _family(poisson))])
    return X, blocks, gaussian, poisson


def test_blocks_of_columns_add_up_their_families():
    X, blocks, gaussian, poisson = two_blocks()
    x = torch.tensor(X[:4], dtype=torch.float32)
    output = torch.randn(2, 4, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = gaussian.log_prob(output[..., :3], x[:, [0, 2, 4]]) + (
            poisson.log_prob(output[..., 3:], x[:, [1, 3, 5]])
        )
        assert_allclose(blocks.log_prob(output, x).numpy(), expected.numpy(), rtol=1e-6)
        per_column = blocks.feature_log_prob(output, x)
        assert_allclose(
            per_column[..., [1, 3, 5]].numpy(),
            poisson.feature_log_prob(output[..., 3:], x[:, [1, 3, 5]]).numpy(),
        )
        mean = blocks.mean(output)
        assert_allclose(
            mean[..., [0, 2, 4]].numpy(), gaussian.mean(output[..., :3]).numpy()
        )
        encoder_x, _ = blocks.encoder_input(x)
        assert_allclose(encoder_x[:, 3:].numpy(), torch.log1p(x[:, [1, 3, 5]]).numpy())
    assert blocks.describe() == [("gaussian", [0, 2, 4]), ("poisson", [1, 3, 5])]


def test_blocks_check_each_column_against_its_own_family():
    X, blocks, _, _ = two_blocks()
    X[7, 0] = -4.0  # fine for the Gaussian column
    blocks.check_domain(X)
    X[7, 3] = -1.0  # a negative count
    with pytest.raises(ValueError, match="'poisson' needs non-negative.*column 3"):
        blocks.check_domain(X)


def test_a_network_trains_on_blocks_of_columns():
    from skvae._data import rows_of
    from skvae._module import VAE
    from skvae._training import TrainingConfig, TrainingRun, make_optimizer, train

    X, blocks, _, _ = two_blocks()
    generator = torch.Generator().manual_seed(0)
    module = VAE(2, (16,), "relu", blocks, generator)
    config = TrainingConfig(
        batch_size=25, max_epochs=30, learning_rate=1e-2, beta=1.0, tol=0.0,
        n_iter_no_change=100,
    )  # fmt: skip
    run = TrainingRun(
        module,
        make_optimizer(module, config.learning_rate),
        generator,
        torch.Generator().manual_seed(1),
    )
    result = train(run, rows_of(X, torch.device("cpu")), config)
    assert result.loss_curve[-1] < result.loss_curve[0]


def test_the_categorical_mean_is_each_columns_mode_without_padding():
    # the mode column by column, as the padded distribution's, whose size
    # grows with the widest column times the number of columns
    from skvae._likelihoods import CategoricalFamily

    family = CategoricalFamily([2, 5, 3, 1])
    logits = torch.randn(
        4, 7, family.n_outputs, generator=torch.Generator().manual_seed(0)
    )
    log_p = family.link(logits)
    expected = family.distribution(log_p).mode.to(log_p.dtype)
    assert torch.equal(family.mean(log_p), expected)
    assert family.mean(log_p).shape == (4, 7, 4)


@pytest.mark.short_fits
def test_decoding_a_table_pads_no_column_to_the_widest(monkeypatch, make_vae):
    # the padded distribution took 742 MB for 500 rows of 300 two-level
    # columns beside one of 430 levels; neither the mean nor a draw builds it
    import pandas as pd

    from skvae._likelihoods import CategoricalFamily

    rng = np.random.RandomState(0)
    table = pd.DataFrame({"narrow": rng.choice(["p", "q"], 100), "x": rng.randn(100)})
    table["wide"] = [f"L{i}" for i in rng.randint(0, 50, 100)]
    vae = make_vae().fit(table)

    def padded(self, log_p):
        raise AssertionError("padded to the widest column")

    monkeypatch.setattr(CategoricalFamily, "distribution", padded)
    assert vae.inverse_transform(vae.transform(table)).shape == table.shape
    assert vae.sample(10).shape == (10, 3)


@pytest.mark.short_fits
@pytest.mark.parametrize("likelihood", ["gaussian", "laplace", "gaussian_standardised"])
def test_a_column_of_spread_1e20_fits_scores_and_samples(make_vae, likelihood):
    # scale**2 is inf in float32 from about 1.8e19: the fit diverged, and
    # the Laplace's draws were infinite
    X = np.random.RandomState(0).randn(60, 2)
    X[:, 0] *= 1e20
    vae = make_vae(likelihood=likelihood).fit(X)
    assert np.isfinite(vae.score_samples(X)).all()
    draws = vae.sample(50)
    assert np.isfinite(draws).all() and np.abs(draws[:, 0]).max() > 1e18


@pytest.mark.parametrize(
    "stored, fine",
    [
        ([0.5, 0.5], True),  # halves of one count, summed
        ([-1.0, 2.0], True),
        ([0.25, 0.5], False),
        ([2.0, -3.0], False),
    ],
)
def test_counts_are_checked_on_the_sums_of_duplicate_entries(stored, fine):
    # the quick pass over stored values only says yes: duplicates that are
    # not counts alone go to the checks per column, which sum them first
    from skvae._columns import _check_counts

    X = sp.csr_matrix((stored, [1, 1], [0, 2, 2]), shape=(2, 3))
    assert not X.has_canonical_format
    if fine:
        _check_counts("poisson", X, ["a", "b", "c"])
    else:
        with pytest.raises(ValueError, match="column 'b'"):
            _check_counts("poisson", X, ["a", "b", "c"])
    dense = X.toarray()
    dense[1, 0] = np.nan  # a missing cell is neither
    if fine:
        _check_counts("poisson", dense, ["a", "b", "c"])
    else:
        with pytest.raises(ValueError, match="column 'b'"):
            _check_counts("poisson", dense, ["a", "b", "c"])
