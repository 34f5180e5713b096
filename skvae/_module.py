"""The variational autoencoder as a :class:`torch.nn.Module`.

Kingma & Welling (2014), "Auto-Encoding Variational Bayes": an encoder maps a
row ``x`` to a diagonal Normal ``q(z | x)``, a decoder maps a latent point
``z`` to an observation model ``p(x | z)``, and the prior is ``p(z) = N(0, I)``.
Training maximises the evidence lower bound (ELBO) of every row::

    log p(x) >= E_q[log p(x | z)] - KL(q(z | x) || p(z))

and ``log_marginal`` tightens it with importance weighting (Burda et al.
2016, "Importance Weighted Autoencoders"). After training, the prior may be
replaced by a Gaussian mixture fitted to the training rows' latent codes
(``set_prior_mixture``; Ghosh et al. 2020, "From Variational to Deterministic
Autoencoders"): scoring and generating then use it, training does not.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import (
    Categorical,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

from ._likelihoods import Likelihood, stored_entries

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
}

# The encoder's standard deviations never fall below this, which keeps
# log q(z | x) finite when the posterior of a row is nearly a point.
MIN_POSTERIOR_SCALE = 1e-4

# Adam's step size when a row's posterior is refined after the encoder's
# (``VAE.refined_posterior``): the posterior means move by about this
# much a step, three hundredths of the scale the prior gives them.
REFINE_LEARNING_RATE = 0.03

# ``refining_draws`` makes the draws of this many refining steps at once.
REFINING_DRAWS_CHUNK = 1024

# The buffers of a Gaussian-mixture prior (``VAE.set_prior_mixture``).
_PRIOR_BUFFERS = ("prior_log_weights", "prior_means", "prior_scale_tril")


def _linear(n_in: int, n_out: int, generator: torch.Generator) -> nn.Linear:
    """A linear layer with PyTorch's default initialisation, drawn from ``generator``.

    ``nn.Linear`` would initialise itself from the global random state; building
    it uninitialised and filling it from a local generator keeps ``fit``
    reproducible without touching that state.
    """
    layer = nn.utils.skip_init(nn.Linear, n_in, n_out)
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1.0 / math.sqrt(n_in)
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def _mlp(
    sizes: Sequence[int], activation: str, generator: torch.Generator
) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [_linear(n_in, n_out, generator), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers[:-1])  # no activation after the output layer


class InputLayer(nn.Module):
    """The encoder's first linear layer, for dense or sparse batches of rows.

    The weight is stored as ``(n_in, n_out)``, so the weights of one input
    feature are contiguous: a sparse batch is then a sum of the rows of the
    weight that its stored values pick (an ``embedding_bag``), which costs time
    in proportion to the stored values, and whose gradient touches only those
    rows. A dense batch is the usual ``x @ weight + bias``.
    """

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.weight = nn.Parameter(linear.weight.detach().t().contiguous())
        self.bias = nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor, standardisation=None) -> torch.Tensor:
        """``((x - shift) / scale) @ weight + bias``; ``standardisation`` is the pair.

        Only a sparse ``x`` comes with a standardisation: it is folded into the
        weights, since applying it to ``x`` would make it dense.
        """
        if not x.is_sparse:
            return torch.addmm(self.bias, x, self.weight)
        weight, bias = self.weight, self.bias
        if standardisation is not None:
            shift, scale = standardisation
            weight = weight / scale[:, None]
            bias = bias - shift @ weight
        rows, columns, values = stored_entries(x)
        first_of_each_row = torch.searchsorted(
            rows, torch.arange(x.shape[0], device=x.device)
        )
        return bias + nn.functional.embedding_bag(
            columns,
            weight,
            first_of_each_row,
            mode="sum",
            per_sample_weights=values,
        )


def _self_normalised(log_weights: torch.Tensor) -> torch.Tensor:
    """Importance weights over the draws (axis 0) that sum to 1 for each row.

    A row to which every draw gives probability 0 in float32 (log weight
    ``-inf``; its cells lie too far from anything the decoder gives) has
    weights that say nothing: its draws are weighed equally, as they came
    from the encoder.
    """
    impossible = torch.isneginf(log_weights).all(0)
    return torch.softmax(log_weights.masked_fill(impossible, 0.0), dim=0)


def refining_draws(n_steps: int, latent_dim: int, seed: int, device):
    """The standard Normal draws of ``n_steps`` refining steps, one at a time.

    For :meth:`VAE.refined_posterior`. Made ``REFINING_DRAWS_CHUNK`` steps at
    a time from a generator seeded with ``seed``, so that memory does not grow
    with the number of steps; up to a chunk of steps, the draws are those of
    one ``torch.randn((n_steps, latent_dim))``. Each call starts again from
    ``seed``.
    """
    generator = torch.Generator(device).manual_seed(seed)
    for start in range(0, n_steps, REFINING_DRAWS_CHUNK):
        shape = (min(REFINING_DRAWS_CHUNK, n_steps - start), latent_dim)
        yield from torch.randn(shape, generator=generator, device=device)


def kl_to_standard_normal(mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, diag(scale**2)) || N(0, I))`` of each row, in closed form.

    ``0.5 * sum_k (mu_k**2 + sigma_k**2 - 1) - sum_k log sigma_k`` (Kingma &
    Welling 2014, appendix B): what ``kl_divergence(q, Normal(0, 1))`` gives,
    in fewer tensor operations, which matters on small networks.
    """
    return 0.5 * (mean.square() + scale.square() - 1.0).sum(-1) - scale.log().sum(-1)


@dataclass
class ELBOTerms:
    """Per-row terms of the evidence lower bound, in nats."""

    reconstruction: torch.Tensor
    """``log p(x | z)`` at one reparameterised draw ``z ~ q(z | x)``."""
    kl: torch.Tensor
    """``KL(q(z | x) || N(0, I))``, in closed form: training's prior, whatever
    the fitted ``latent_prior``."""

    def elbo(self, beta: float = 1.0) -> torch.Tensor:
        """The (beta-weighted) ELBO of each row."""
        return self.reconstruction - beta * self.kl


class VAE(nn.Module):
    """MLP encoder and decoder around a latent space of ``latent_dim`` Normals.

    Parameters
    ----------
    latent_dim : int
        Dimension of ``z``.
    hidden_layer_sizes : sequence of int
        Widths of the encoder's hidden layers; the decoder mirrors them.
    activation : str
        A key of ``ACTIVATIONS``.
    likelihood : Likelihood
        The observation model ``p(x | z)``, which also sets the widths of the
        encoder's input and the decoder's output.
    generator : torch.Generator
        Source of the initial weights.
    n_conditions : int, default=0
        Width of the encoded conditions of a conditional VAE (Sohn et al.
        2015), which both the encoder and the decoder read. They come as the
        last ``n_conditions`` columns of every batch ``x``, after the modelled
        columns; the likelihood sees the modelled columns only.
    """

    # The prior's mixture, once set_prior_mixture gave one.
    prior_log_weights: torch.Tensor
    prior_means: torch.Tensor
    prior_scale_tril: torch.Tensor

    def __init__(
        self,
        latent_dim: int,
        hidden_layer_sizes: Sequence[int],
        activation: str,
        likelihood: Likelihood,
        generator: torch.Generator,
        n_conditions: int = 0,
    ):
        super().__init__()
        self.n_conditions = n_conditions
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.activation = activation
        self.likelihood = likelihood
        hidden = self.hidden_layer_sizes
        self.encoder = _mlp(
            [likelihood.n_encoder_inputs + n_conditions, *hidden, 2 * latent_dim],
            activation,
            generator,
        )
        first_layer = self.encoder[0]
        assert isinstance(first_layer, nn.Linear)
        self.encoder[0] = InputLayer(first_layer)
        self.decoder = _mlp(
            [latent_dim + n_conditions, *hidden[::-1], likelihood.n_outputs],
            activation,
            generator,
        )

    def architecture(self) -> dict:
        """The settings that shape this network, as estimator parameter names."""
        return {
            "latent_dim": self.latent_dim,
            "hidden_layer_sizes": self.hidden_layer_sizes,
            "activation": self.activation,
            "likelihood": self.likelihood.describe(),
        }

    def split_conditions(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A batch's modelled columns and its conditions (None without any)."""
        if not self.n_conditions:
            return x, None
        return x[..., : -self.n_conditions], x[..., -self.n_conditions :]

    def _decoder_input(self, z: torch.Tensor, conditions) -> torch.Tensor:
        """``z``, followed by the rows' conditions for a conditional VAE."""
        if conditions is None:
            return z
        return torch.cat([z, conditions.expand(*z.shape[:-1], -1)], -1)

    def encode(self, x: torch.Tensor) -> Normal:
        """The approximate posterior ``q(z | x)``; ``x`` may be a sparse COO batch."""
        return Normal(*self._posterior_parameters(x), validate_args=False)

    def _posterior_parameters(
        self, x: torch.Tensor, maybe_missing: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The means and standard deviations of ``q(z | x)``.

        ``maybe_missing=False`` says that ``x`` holds no missing cell (NaN),
        which spares the encoder its reading of them.
        """
        loc, raw_scale = self._encoder_output(x, maybe_missing)
        return loc, nn.functional.softplus(raw_scale) + MIN_POSTERIOR_SCALE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior means of a dense batch: what ``transform`` returns.

        A ``forward`` makes the fitted network exportable on its own, with
        :func:`torch.export.export` or :func:`torch.onnx.export`.
        """
        return self.posterior_mean(x)

    def posterior_mean(
        self, x: torch.Tensor, maybe_missing: bool = True
    ) -> torch.Tensor:
        """The mean of ``q(z | x)``, without the work of its scale.

        ``maybe_missing`` as for ``_posterior_parameters``.
        """
        return self._encoder_output(x, maybe_missing)[0]

    def _encoder_output(
        self, x: torch.Tensor, maybe_missing: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's two halves: the posterior means and the raw scales."""
        x, conditions = self.split_conditions(x)
        values, standardisation = self.likelihood.encoder_input(x, maybe_missing)
        if conditions is not None:
            values = torch.cat([values, conditions], -1)
        hidden = self.encoder[0](values, standardisation)
        for layer in itertools.islice(self.encoder, 1, None):
            hidden = layer(hidden)
        loc, raw_scale = hidden.chunk(2, -1)
        return loc, raw_scale

    def decode_mean(self, z: torch.Tensor, conditions=None) -> torch.Tensor:
        """``E[x | z]``, or ``E[x | z, c]`` given ``conditions``."""
        return self.likelihood.mean(self.decoder(self._decoder_input(z, conditions)))

    def decode_sample(self, z: torch.Tensor, conditions=None) -> torch.Tensor:
        """A draw from ``p(x | z)`` or ``p(x | z, c)``, from the global generator."""
        output = self.decoder(self._decoder_input(z, conditions))
        return self.likelihood.sample(output)

    def set_prior_mixture(self, weights=None, means=None, scale_tril=None) -> None:
        """Make ``p(z)`` a Gaussian mixture, or ``N(0, I)`` again without arguments.

        ``weights`` ``(k,)``, ``means`` ``(k, latent_dim)`` and ``scale_tril``
        ``(k, latent_dim, latent_dim)``, the Cholesky factors of the
        components' covariances. They are stored as buffers, so they move and
        pickle with the network.
        """
        if weights is None:
            for name in _PRIOR_BUFFERS:
                self._buffers.pop(name, None)
            return
        like = next(self.parameters())
        as_tensor = lambda values: torch.as_tensor(  # noqa: E731
            values, dtype=like.dtype, device=like.device
        )
        self.register_buffer("prior_log_weights", as_tensor(weights).log())
        self.register_buffer("prior_means", as_tensor(means))
        self.register_buffer("prior_scale_tril", as_tensor(scale_tril))

    @property
    def has_prior_mixture(self) -> bool:
        """Whether ``set_prior_mixture`` replaced ``N(0, I)`` by a mixture."""
        return "prior_means" in self._buffers

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)``, summed over the latent dimensions."""
        if not self.has_prior_mixture:
            return Normal(0.0, 1.0, validate_args=False).log_prob(z).sum(-1)
        mixture = MixtureSameFamily(
            Categorical(logits=self.prior_log_weights, validate_args=False),
            MultivariateNormal(
                self.prior_means, scale_tril=self.prior_scale_tril, validate_args=False
            ),
            validate_args=False,
        )
        return mixture.log_prob(z)

    def draw_prior(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` draws of ``z ~ p(z)`` from ``generator``, as ``(n, latent_dim)``.

        Written out for the mixture, since ``torch.distributions`` draws
        from the global generator only: a component per draw, then its mean
        plus its Cholesky factor times a standard Normal draw.
        """
        device = generator.device
        if not self.has_prior_mixture:
            return torch.randn((n, self.latent_dim), generator=generator, device=device)
        weights = self.prior_log_weights.exp()
        component = torch.multinomial(weights, n, replacement=True, generator=generator)
        noise = torch.randn((n, self.latent_dim, 1), generator=generator, device=device)
        scale_tril = self.prior_scale_tril[component]
        return self.prior_means[component] + (scale_tril @ noise).squeeze(-1)

    def elbo_terms(
        self,
        x: torch.Tensor,
        noise: torch.Tensor,
        encoder_x: torch.Tensor | None = None,
        maybe_missing: bool = True,
    ) -> ELBOTerms:
        """ELBO terms of each row of ``x``; ``noise ~ N(0, I)`` has ``z``'s shape.

        ``encoder_x``, if given, is what the encoder sees instead of ``x`` (a
        corrupted copy, for denoising); the reconstruction is always of ``x``.
        ``maybe_missing=False`` says that neither holds a missing cell (NaN),
        which spares the encoder and the likelihood their masks for them.
        """
        mean, scale = self._posterior_parameters(
            x if encoder_x is None else encoder_x, maybe_missing
        )
        return self._elbo_terms_at(mean, scale, x, noise, maybe_missing=maybe_missing)

    def _elbo_terms_at(
        self,
        mean: torch.Tensor,
        scale: torch.Tensor,
        x: torch.Tensor,
        noise,
        decoder_fixed: bool = False,
        maybe_missing: bool = True,
    ) -> ELBOTerms:
        """ELBO terms of each row of ``x`` under ``q(z) = N(mean, diag(scale**2))``.

        ``decoder_fixed``: the backward pass computes no gradient of the
        decoder's last layer, where it would otherwise (the fused sparse step).
        ``maybe_missing`` as for ``elbo_terms``.
        """
        z = mean + scale * noise  # the reparameterisation trick
        x, conditions = self.split_conditions(x)
        *hidden_layers, output_layer = self.decoder
        assert isinstance(output_layer, nn.Linear)  # as _mlp ends every network
        hidden = self._decoder_input(z, conditions)
        for layer in hidden_layers:
            hidden = layer(hidden)
        return ELBOTerms(
            reconstruction=self.likelihood.log_prob_after(
                output_layer, hidden, x, decoder_fixed, maybe_missing
            ),
            kl=kl_to_standard_normal(mean, scale),
        )

    def refined_posterior(
        self, x: torch.Tensor, noise: Iterable[torch.Tensor], beta: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and scales of ``q(z | x)`` refined row by row: one step per draw.

        Starts from the encoder's ``q(z | x)`` and takes an Adam step on its
        mean and log-scale for each draw of ``noise`` (``latent_dim`` standard
        Normal values; a tensor of shape ``(steps, latent_dim)``, or an
        iterable such as ``refining_draws``), ascending the row's
        ``beta``-weighted ELBO with the decoder fixed (Krishnan et al. 2018).
        Every row of ``x`` sees the same draws and has its own parameters, so
        a row's result does not depend on the batch it comes in.
        """
        # torch.autograd.grad computes the gradients of the posterior's
        # parameters alone; the fused sparse step is told (decoder_fixed).
        with torch.inference_mode(False), torch.enable_grad():
            # Tensors made under inference_mode (the batches of map_batches)
            # cannot be saved for backward: x and the draws enter as copies.
            x = x.clone()
            with torch.no_grad():
                mean, scale = (p.clone() for p in self._posterior_parameters(x))
            log_scale = scale.log().requires_grad_()
            mean.requires_grad_()
            optimizer = torch.optim.Adam([mean, log_scale], lr=REFINE_LEARNING_RATE)
            for step_noise in noise:
                terms = self._elbo_terms_at(
                    mean, log_scale.exp(), x, step_noise.clone(), decoder_fixed=True
                )
                loss = -terms.elbo(beta).sum()
                mean.grad, log_scale.grad = torch.autograd.grad(loss, [mean, log_scale])
                optimizer.step()
        return mean.detach(), log_scale.detach().exp()

    def log_marginal(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Importance-weighted estimate of ``log p(x)`` for each row of ``x``.

        ``noise`` of shape ``(n_draws, latent_dim)`` holds the standard Normal
        draws; every row uses the same ones, so a row's estimate does not depend
        on which other rows share its batch. With one draw this is an unbiased
        estimate of the ELBO; more draws give a tighter bound (Burda et al. 2016).
        """
        _, log_weights = self._importance_draws(x, noise)
        estimate = torch.logsumexp(log_weights, dim=0) - math.log(noise.shape[0])
        # Nothing observed has probability 1: log p = 0 exactly, not an estimate.
        return estimate.masked_fill(self._nothing_observed(x), 0.0)

    def _nothing_observed(self, x: torch.Tensor) -> torch.Tensor:
        """Which rows of ``x`` have no observed modelled cell (all NaN)."""
        if not x.is_sparse:
            modelled, _ = self.split_conditions(x)
            return modelled.isnan().all(-1)
        rows, _, values = stored_entries(x)
        return torch.bincount(rows[values.isnan()], minlength=x.shape[0]) == x.shape[1]

    def feature_log_likelihoods(
        self, x: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """Each feature's ``log p(x_j | z)``, averaged over the posterior.

        The average weighs the draws of ``log_marginal`` by their normalised
        importance weights, so it is taken over the best available estimate of
        ``p(z | x)``. Returns a dense ``(n_rows, n_features)`` tensor.
        """
        decoder_output, log_weights = self._importance_draws(x, noise)
        weights = _self_normalised(log_weights)[..., None]
        per_feature = self.likelihood.feature_log_prob(
            decoder_output, self.split_conditions(x)[0]
        )
        # a draw of weight 0 adds nothing, even where its cell's term is -inf
        return torch.where(weights > 0, weights * per_feature, 0.0).sum(0)

    def conditional_mean(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``E[x | observed cells of x]`` of each cell, missing ones included.

        Self-normalised importance sampling (Mattei and Frellsen 2019, MIWAE):
        the decoder's means at the draws of ``log_marginal``, weighed by their
        normalised importance weights, which the observed cells alone set.
        """
        decoder_output, log_weights = self._importance_draws(x, noise)
        weights = _self_normalised(log_weights)
        return self.likelihood.weighted_mean(decoder_output, weights)

    def conditional_sample(
        self, x: torch.Tensor, noise: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """A draw of every cell from ``p(x | observed cells of x)``, missing ones too.

        Sampling-importance-resampling (Mattei and Frellsen 2019): one of the
        draws of ``z ~ q(z | x)`` in ``noise`` is picked with probability its
        normalised importance weight (``generator`` picks), then each cell is
        drawn from ``p(x | z)`` at it, from torch's global generator.
        """
        decoder_output, log_weights = self._importance_draws(x, noise)
        weights = _self_normalised(log_weights).T  # (n_rows, n_draws)
        picked = torch.multinomial(weights, 1, generator=generator)[:, 0]
        rows = torch.arange(len(picked), device=picked.device)
        return self.likelihood.sample(decoder_output[picked, rows])

    def importance_weighted_bound(
        self,
        x: torch.Tensor,
        noise: torch.Tensor,
        encoder_x: torch.Tensor | None = None,
        beta: float = 1.0,
    ) -> torch.Tensor:
        """The importance-weighted bound on ``log p(x)`` that training maximises.

        ``noise`` of shape ``(n_draws, n_rows, latent_dim)`` holds each row's
        own draws, so the bound is a differentiable, reparameterised estimate
        (Burda et al. 2016); one draw gives the ELBO. ``beta`` weighs
        ``log p(z) - log q(z | x)`` in each log weight, as it weighs the KL
        term of the ELBO; ``encoder_x`` is as for ``elbo_terms``.
        """
        _, log_weights = self._importance_draws(x, noise, encoder_x, beta)
        return torch.logsumexp(log_weights, dim=0) - math.log(noise.shape[0])

    def _proposal(self, x: torch.Tensor, encoder_x: torch.Tensor | None):
        """The mean and scale of the importance draws of each row of ``x``.

        ``q(z | x)`` from the encoder, but ``N(0, I)`` for a row with nothing
        observed: its posterior is the prior (training's ``N(0, I)``; a
        mixture prior, where one is set, is reached through the weights), and
        the encoder, which never trained on such rows, can give it any width.
        A proposal narrower than the prior gives weights of infinite
        variance, and fills and draws that miss the model's marginal.
        """
        loc, scale = self._posterior_parameters(x if encoder_x is None else encoder_x)
        if not (stored_entries(x)[2] if x.is_sparse else x).isnan().any():
            return loc, scale
        empty = self._nothing_observed(x)[:, None]
        return loc.masked_fill(empty, 0.0), scale.masked_fill(empty, 1.0)

    def _importance_draws(
        self,
        x: torch.Tensor,
        noise: torch.Tensor,
        encoder_x: torch.Tensor | None = None,
        beta: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder outputs and log importance weights at ``z ~ q(z | x)``.

        ``noise`` is ``(n_draws, latent_dim)``, the same draws for every row,
        or ``(n_draws, n_rows, latent_dim)``. Both results have a leading axis
        of ``n_draws``; the weights are
        ``log p(x | z) + beta * (log p(z) - log q(z | x))``.
        """
        loc, scale = self._proposal(x, encoder_x)
        if noise.dim() == 2:
            noise = noise[:, None, :]
        z = loc + scale * noise  # (n_draws, n_rows, latent_dim)
        x, conditions = self.split_conditions(x)
        decoder_output = self.decoder(self._decoder_input(z, conditions))
        # log q(z | x) from the noise itself: qz.log_prob(z) squares z - loc,
        # which overflows float32 for rows far outside the training data.
        standard = Normal(0.0, 1.0, validate_args=False)
        log_q = (standard.log_prob(noise) - scale.log()).sum(-1)
        log_ratio = self.log_prior(z) - log_q
        log_weights = self.likelihood.log_prob(decoder_output, x) + beta * log_ratio
        # NaN comes only from inf - inf in a network that a row far outside the
        # training data made overflow: as far as float32 tells, probability 0.
        return decoder_output, log_weights.masked_fill(log_weights.isnan(), -math.inf)
