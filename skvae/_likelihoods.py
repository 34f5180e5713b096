"""Observation models p(x | z): one small class per family.

Each class turns the decoder's raw output into a :mod:`torch.distributions`
object over the features of each row (``distribution``) and scores rows with
every normalising constant included (``log_prob``), so the reconstruction term
of the ELBO is a log-likelihood in nats. Each class also says which values of
``X`` it can describe (``check_domain``), how ``X`` is presented to the encoder
(``encoder_input`` and ``input_standardisation``),
and how to draw from it with a local random generator (``sample``), so that no
global random state is ever touched.

Rows may come as a dense tensor or as a sparse COO tensor. For sparse rows,
``log_prob`` adds ``log p(0)`` over every feature and corrects it at the
stored values only, so no dense copy of the batch is made.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    ContinuousBernoulli,
    Distribution,
    Multinomial,
    NegativeBinomial,
    Normal,
    Poisson,
)
from torch.distributions import Laplace as LaplaceDistribution
from torch.nn import functional as F

from ._sparse_log_prob import (
    LinearSparseLogProb,
    LogPartition,
    bernoulli_log_partition_,
    multinomial_log_partition_,
    poisson_log_partition_,
    row_sums,
)

# Per-feature variances of the Gaussian likelihood never fall below this, in
# units of the feature's variance: a constant or perfectly predicted column
# then adds at most -0.5 * log(2 * pi * 1e-3) ~ 2.5 nats to a row's
# log-likelihood instead of driving it to infinity.
GAUSSIAN_VARIANCE_FLOOR = 1e-3

_ALL_FEATURES = slice(None)
_LOG_2PI = math.log(2.0 * math.pi)


def _values(X) -> np.ndarray:
    """The distinct kinds of value in ``X``: its stored values, plus 0 if sparse."""
    if sp.issparse(X):
        has_implicit_zeros = X.nnz < math.prod(X.shape)
        return np.append(X.data, 0.0) if has_implicit_zeros else X.data
    return np.asarray(X)


def _column_means(X, sample_weight=None) -> np.ndarray:
    """Weighted mean of each column of a dense array or sparse matrix."""
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0])
    weights = np.asarray(sample_weight, dtype=np.float64) / np.sum(sample_weight)
    if sp.issparse(X):
        return np.asarray(weights @ X, dtype=np.float64).ravel()
    # Not ``weights @ X``: NumPy would hand that to a multi-threaded BLAS whose
    # threads then spin for a while after the call, taking cores from training.
    return np.einsum("i,ij->j", weights, X)


def _smoothed_means(X, sample_weight=None) -> np.ndarray:
    """Each feature's mean, pulled away from 0 by half a count."""
    n = X.shape[0]
    return (_column_means(X, sample_weight) * n + 0.5) / (n + 1)


def _as_buffer(values, n_features: int, default: float) -> torch.Tensor:
    values = np.full(n_features, default) if values is None else values
    return torch.as_tensor(values, dtype=torch.float32)


def nonzeros(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows, columns and values of the stored entries of a sparse COO batch."""
    x = x.coalesce()
    rows, columns = x.indices()
    return rows, columns, x.values()


def map_values(x: torch.Tensor, function) -> torch.Tensor:
    """Apply a zero-preserving elementwise ``function`` to a dense or sparse batch."""
    if not x.is_sparse:
        return function(x)
    x = x.coalesce()
    return torch.sparse_coo_tensor(
        x.indices(),
        function(x.values()),
        x.shape,
        is_coalesced=True,
        check_invariants=False,
    )


class Likelihood(nn.Module):
    """An observation model p(x | z) over rows of ``n_features`` features.

    The decoder predicts one number per feature, read as a departure from
    ``offset`` (a per-feature baseline set from the training data, so training
    starts from the feature averages). Subclasses set ``name`` and implement
    ``distribution`` and ``sample``.
    """

    name: ClassVar[str]
    offset: torch.Tensor
    # Families whose log-probability is linear in the row given the logits set
    # this to their log-partition function; sparse rows then train through
    # ``LinearSparseLogProb`` (see :mod:`skvae._sparse_log_prob`).
    sparse_log_partition_: ClassVar[LogPartition | None] = None
    # The input dropout that ``input_dropout='auto'`` picks: 0.5, the rate of
    # Mult-VAE's denoising (Liang et al. 2018), where it was measured to help
    # (Bernoulli and continuous Bernoulli pixels: a better held-out likelihood
    # and 2-D map); none where it was measured to hurt (counts: 2 to 19 nats
    # per row of held-out likelihood) or where a zero is an arbitrary value
    # (real-valued data).
    auto_input_dropout: ClassVar[float] = 0.0

    def __init__(self, n_features: int, offset=None):
        super().__init__()
        self.n_features = n_features
        self.register_buffer("offset", _as_buffer(offset, n_features, 0.0))

    @classmethod
    def from_data(cls, X, sample_weight=None) -> Likelihood:
        """Build the likelihood for training data ``X`` (already domain-checked).

        Statistics of ``X`` that set the baseline are weighted by
        ``sample_weight``, so rows of weight 0 play no part.
        """
        return cls(X.shape[1])

    @classmethod
    def check_domain(cls, X) -> None:
        """Raise ``ValueError`` if ``X`` holds values this family cannot describe."""

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """The batch as the encoder sees it, before standardisation."""
        return x

    def input_standardisation(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(shift, scale)`` if the encoder sees ``(input - shift) / scale``."""
        return None

    def distribution(
        self, decoder_output: torch.Tensor, features=_ALL_FEATURES
    ) -> Distribution:
        """The distribution of each feature given the decoder's raw output.

        ``features`` says which feature each of the last axis's entries belongs
        to (all of them, in order, by default).
        """
        raise NotImplementedError

    def log_prob(self, decoder_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` of each row, summed over features.

        ``decoder_output`` may carry leading axes (one per posterior draw) in
        front of ``x``'s shape.
        """
        if not x.is_sparse:
            return self.distribution(decoder_output).log_prob(x).sum(-1)
        rows, columns, values = nonzeros(x)
        at_zero = self.log_prob_of_zeros(decoder_output)
        px = self.distribution(decoder_output[..., rows, columns], columns)
        correction = px.log_prob(values) - px.log_prob(torch.zeros_like(values))
        return at_zero.index_add(-1, rows, correction)

    def log_prob_after(
        self, output_layer: nn.Linear, hidden: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        """``log p(x | z)`` of each row, from the decoder's last hidden layer.

        ``output_layer(hidden)`` is the decoder's output. For sparse rows,
        families with a ``sparse_log_partition_`` compute the two together,
        with one dense ``(rows, features)`` array instead of half a dozen; the
        result is ``log_prob``'s.
        """
        log_partition_ = type(self).sparse_log_partition_
        if not x.is_sparse or log_partition_ is None:
            return self.log_prob(output_layer(hidden), x)
        rows, columns, values = nonzeros(x)
        fused = LinearSparseLogProb.apply(
            hidden,
            output_layer.weight,
            output_layer.bias,
            self.offset,
            rows,
            columns,
            values,
            log_partition_,
        )
        return fused + self.log_base_measure(rows, values, x.shape[0])

    def log_base_measure(
        self, rows: torch.Tensor, values: torch.Tensor, n_rows: int
    ) -> torch.Tensor | float:
        """The terms of ``log p(x | z)`` free of the logits, for sparse rows.

        ``rows`` and ``values`` are the stored entries; 0 unless the family
        overrides it. Only families with a ``sparse_log_partition_`` use it.
        """
        return 0.0

    def feature_log_prob(
        self, decoder_output: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        """``log p(x_j | z)`` of each feature of each row, as a dense tensor.

        For a sparse ``x``: ``log p(0 | z)`` everywhere, replaced at the stored
        values.
        """
        px = self.distribution(decoder_output)
        if not x.is_sparse:
            return px.log_prob(x)
        per_feature = px.log_prob(torch.zeros_like(decoder_output))
        rows, columns, values = nonzeros(x)
        stored = self.distribution(decoder_output[..., rows, columns], columns)
        per_feature[..., rows, columns] = stored.log_prob(values)
        return per_feature

    def log_prob_of_zeros(self, decoder_output: torch.Tensor) -> torch.Tensor:
        """``log p(0, ..., 0 | z)``: the log-probability of an all-zero row."""
        px = self.distribution(decoder_output)
        return px.log_prob(torch.zeros_like(decoder_output)).sum(-1)

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """Draw one row from each row's distribution ``px`` using ``generator``."""
        raise NotImplementedError


class _RealValued(Likelihood):
    """Families of real values spread around the decoder's mean, feature by feature.

    The decoder works in standardised units: its output ``m`` means
    ``offset + scale * m`` in the units of ``X``, where ``offset`` and ``scale``
    are the training data's feature means and standard deviations (1 for
    constant features). The variance of feature ``j`` is a free parameter,
    ``scale_j**2 * (GAUSSIAN_VARIANCE_FLOOR + softplus(raw_j))``, shared by all
    rows, as in factor analysis. ``log_prob`` is therefore the exact density
    of ``X`` in its own units, comparable with ``PCA.score_samples``.
    Subclasses give the density of the residuals ``x - mean``.
    """

    learns_variance: ClassVar[bool] = True
    scale: torch.Tensor

    def __init__(self, n_features: int, offset=None, scale=None):
        super().__init__(n_features, offset)
        self.register_buffer("scale", _as_buffer(scale, n_features, 1.0))
        if self.learns_variance:
            # softplus(log(e - 1)) = 1: every feature starts at unit variance.
            start = math.log(math.e - 1.0)
            self.raw_variance = nn.Parameter(torch.full((n_features,), start))

    @classmethod
    def from_data(cls, X, sample_weight=None) -> _RealValued:
        """Standardise with the feature means and standard deviations of ``X``."""
        mean = _column_means(X, sample_weight)
        squares = X.multiply(X) if sp.issparse(X) else X**2
        mean_of_squares = _column_means(squares, sample_weight)
        std = np.sqrt(np.maximum(mean_of_squares - mean**2, 0.0))
        std[std <= 1e-8 * np.maximum(np.abs(mean), 1.0)] = 1.0
        return cls(X.shape[1], offset=mean, scale=std)

    def input_standardisation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder sees standardised features."""
        return self.offset, self.scale

    def variance(self, features=_ALL_FEATURES) -> torch.Tensor:
        """Variance of each feature given ``z``, in the units of ``X``."""
        raw = self.raw_variance[features]
        return self.scale[features].square() * (
            GAUSSIAN_VARIANCE_FLOOR + F.softplus(raw)
        )

    def log_prob(self, decoder_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` of each row; dense rows take the closed form.

        The closed form keeps the spreads as one vector rather than broadcast
        to the batch: the same number as the distribution's ``log_prob``
        summed over features, in fewer tensor operations, which is what a
        small network's training step spends its time on.
        """
        if x.is_sparse:
            return super().log_prob(decoder_output, x)
        return self.log_density_of_residuals(
            x - self.offset - self.scale * decoder_output
        )

    def log_density_of_residuals(self, residual: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` of each row from ``x - mean``, in the units of ``X``."""
        raise NotImplementedError


class Gaussian(_RealValued):
    """Normal likelihood with a learned variance per feature (see ``_RealValued``)."""

    name = "gaussian"

    def log_density_of_residuals(self, residual: torch.Tensor) -> torch.Tensor:
        """``-0.5 * sum_j ((x_j - mean_j)**2 / var_j + log(2 * pi * var_j))``."""
        variance = self.variance()
        squared_error = (residual.square() / variance).sum(-1)
        return -0.5 * (
            squared_error + variance.log().sum() + residual.shape[-1] * _LOG_2PI
        )

    def distribution(self, decoder_output, features=_ALL_FEATURES) -> Normal:
        """Normal in the units of ``X``."""
        loc = self.offset[features] + self.scale[features] * decoder_output
        scale = self.variance(features).sqrt().expand_as(loc)
        return Normal(loc, scale, validate_args=False)

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """``loc + scale * eps`` with ``eps ~ N(0, 1)``."""
        assert isinstance(px, Normal)
        noise = torch.randn(
            px.loc.shape, generator=generator, device=px.loc.device, dtype=px.loc.dtype
        )
        return px.loc + px.scale * noise


class FixedVarianceGaussian(Gaussian):
    """Normal likelihood with variance 1 in the units of ``X``.

    ``-log p(x | z)`` is then half the squared error plus a constant: the MSE
    loss of most VAE tutorials, written as the likelihood it implies. How much
    the reconstruction weighs against the KL term depends on the units of
    ``X``; the learned-variance ``'gaussian'`` family does not have that flaw.
    """

    name = "gaussian_fixed"
    learns_variance = False

    def variance(self, features=_ALL_FEATURES) -> torch.Tensor:
        """1 for every feature."""
        return torch.ones_like(self.scale[features])


class _TrainingVariance:
    """Mixin for a real-valued family: variances fixed at the training variances.

    Every feature then weighs the same, however well the decoder predicts it.
    """

    learns_variance = False
    scale: torch.Tensor

    def variance(self, features=_ALL_FEATURES) -> torch.Tensor:
        """The feature's variance in the training data."""
        return self.scale[features].square()


class StandardisedGaussian(_TrainingVariance, FixedVarianceGaussian):
    """Normal likelihood with each feature's variance fixed at its training variance.

    ``-log p(x | z)`` is half the squared error of the *standardised* features
    plus a constant: the MSE of a VAE fitted after ``StandardScaler``, but
    reported as a density in the units of ``X`` and the same whatever those
    units are. Every feature weighs the same, however well the decoder
    predicts it; the learned-variance ``'gaussian'`` family lets predictable
    features weigh more.
    """

    name = "gaussian_standardised"


class Laplace(_RealValued):
    """Laplace likelihood with a learned spread per feature: the L1 loss, as a density.

    Standardised and parameterised as ``'gaussian'`` is (see ``_RealValued``),
    with a learned variance per feature; a Laplace of variance ``v`` has scale
    ``b = sqrt(v / 2)``. ``-log p(x | z)`` grows with the absolute error, not
    its square, so a row far off in a few features costs less than under the
    Gaussian, and weighs less in the fit: the robust choice when training rows
    include outliers.
    """

    name = "laplace"

    def spread(self, features=_ALL_FEATURES) -> torch.Tensor:
        """The Laplace scale ``b`` of each feature, in the units of ``X``."""
        return (self.variance(features) / 2.0).sqrt()

    def log_density_of_residuals(self, residual: torch.Tensor) -> torch.Tensor:
        """``-sum_j (|x_j - mean_j| / b_j + log(2 b_j))`` of each row."""
        spread = self.spread()
        return -((residual.abs() / spread).sum(-1) + (2.0 * spread).log().sum())

    def distribution(
        self, decoder_output, features=_ALL_FEATURES
    ) -> LaplaceDistribution:
        """Laplace in the units of ``X``."""
        loc = self.offset[features] + self.scale[features] * decoder_output
        spread = self.spread(features).expand_as(loc)
        return LaplaceDistribution(loc, spread, validate_args=False)

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """The inverse CDF of a uniform draw, as ``Laplace.rsample`` takes it."""
        assert isinstance(px, LaplaceDistribution)
        tiny = torch.finfo(px.loc.dtype).eps
        uniform = torch.rand(
            px.loc.shape, generator=generator, device=px.loc.device, dtype=px.loc.dtype
        )
        u = (2.0 * uniform - 1.0).clamp(min=tiny - 1.0)  # in (-1, 1)
        return px.loc - px.scale * u.sign() * torch.log1p(-u.abs())


class StandardisedLaplace(_TrainingVariance, Laplace):
    """Laplace likelihood with each feature's variance fixed at its training variance.

    ``-log p(x | z)`` is the absolute error of the standardised features, times
    ``sqrt(2)``, plus a constant. Every feature weighs the same, as in
    ``'gaussian_standardised'``, but errors count linearly: the
    :class:`~skvae.VAEOutlierDetector`'s default.
    """

    name = "laplace_standardised"


class _UnitInterval(Likelihood):
    """Families of values in [0, 1], with logits offset by the feature means."""

    auto_input_dropout = 0.5

    @classmethod
    def check_domain(cls, X) -> None:
        """Values must lie in [0, 1]."""
        values = _values(X)
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"likelihood={cls.name!r} needs values in [0, 1], but X has values "
                f"in [{low:g}, {high:g}]. Scale X to [0, 1] (for example with "
                f"MinMaxScaler) or use likelihood='gaussian'."
            )

    @classmethod
    def from_data(cls, X, sample_weight=None) -> _UnitInterval:
        """Offset the logits by the log-odds of each feature's (smoothed) mean."""
        mean = _smoothed_means(X, sample_weight)
        return cls(X.shape[1], offset=np.log(mean) - np.log1p(-mean))

    def logits(self, decoder_output, features=_ALL_FEATURES) -> torch.Tensor:
        return self.offset[features] + decoder_output


class BernoulliLikelihood(_UnitInterval):
    """Bernoulli likelihood on values in [0, 1]: the binary cross-entropy.

    For binary data this is an exact probability mass. For intensities strictly
    inside (0, 1), such as scaled pixels, it is the usual cross-entropy loss but
    not a normalised density; ``'continuous_bernoulli'`` is.
    """

    name = "bernoulli"
    sparse_log_partition_ = bernoulli_log_partition_

    def distribution(self, decoder_output, features=_ALL_FEATURES) -> Bernoulli:
        """Bernoulli with the decoder output as (offset) logits."""
        return Bernoulli(
            logits=self.logits(decoder_output, features), validate_args=False
        )

    def log_prob_of_zeros(self, decoder_output: torch.Tensor) -> torch.Tensor:
        """``sum_j log(1 - sigmoid(logits_j)) = -sum_j softplus(logits_j)``."""
        return -F.softplus(self.logits(decoder_output)).sum(-1)

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """1 where a uniform draw falls below the success probability."""
        assert isinstance(px, Bernoulli)
        probs = px.probs
        uniform = torch.rand(
            probs.shape, generator=generator, device=probs.device, dtype=probs.dtype
        )
        return (uniform < probs).to(probs.dtype)


class ContinuousBernoulliLikelihood(_UnitInterval):
    """Continuous Bernoulli likelihood: a normalised density on [0, 1].

    ``p(x | lambda) = C(lambda) * lambda**x * (1 - lambda)**(1 - x)``, the
    cross-entropy with the constant ``C`` that makes it integrate to 1
    (Loaiza-Ganem & Cunningham, 2019). The principled choice for intensities
    such as scaled pixels, and comparable with other densities.
    """

    name = "continuous_bernoulli"

    def distribution(
        self, decoder_output, features=_ALL_FEATURES
    ) -> ContinuousBernoulli:
        return ContinuousBernoulli(
            logits=self.logits(decoder_output, features), validate_args=False
        )

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """The inverse CDF at a uniform draw."""
        assert isinstance(px, ContinuousBernoulli)
        probs = px.probs
        uniform = torch.rand(
            probs.shape, generator=generator, device=probs.device, dtype=probs.dtype
        )
        return px.icdf(uniform)


class _Counts(Likelihood):
    """Families of non-negative integer counts; the encoder sees ``log1p(x)``."""

    @classmethod
    def check_domain(cls, X) -> None:
        """Values must be non-negative integers."""
        values = _values(X)
        low, high = float(values.min()), float(values.max())
        if low < 0.0:
            raise ValueError(
                f"likelihood={cls.name!r} needs non-negative counts, but X has "
                f"values in [{low:g}, {high:g}]."
            )
        fractional = values[values != np.round(values)]
        if fractional.size:
            raise ValueError(
                f"likelihood={cls.name!r} needs integer counts, but X has values "
                f"such as {fractional[0]:g}. Round X, or use likelihood='gaussian'."
            )

    @classmethod
    def from_data(cls, X, sample_weight=None) -> _Counts:
        """Offset the log-rates by the log of each feature's (smoothed) mean."""
        return cls(X.shape[1], offset=np.log(_smoothed_means(X, sample_weight)))

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """``log1p(x)``, which tames large counts and keeps zeros at zero."""
        return map_values(x, torch.log1p)

    def log_mean(self, decoder_output, features=_ALL_FEATURES) -> torch.Tensor:
        return self.offset[features] + decoder_output

    def log_base_measure(self, rows, values, n_rows) -> torch.Tensor:
        """``-sum_j log x_j!`` of each row; zeros add nothing."""
        return row_sums(rows, -torch.lgamma(values + 1), n_rows)


class PoissonLikelihood(_Counts):
    """Poisson counts with log-rate predicted by the decoder."""

    name = "poisson"
    sparse_log_partition_ = poisson_log_partition_

    def distribution(self, decoder_output, features=_ALL_FEATURES) -> Poisson:
        return Poisson(
            self.log_mean(decoder_output, features).exp(), validate_args=False
        )

    def log_prob_of_zeros(self, decoder_output: torch.Tensor) -> torch.Tensor:
        """``sum_j log p(0 | rate_j) = -sum_j rate_j``."""
        return -self.log_mean(decoder_output).exp().sum(-1)

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        assert isinstance(px, Poisson)
        return torch.poisson(px.rate, generator=generator)


class NegativeBinomialLikelihood(_Counts):
    """Over-dispersed counts: negative binomial, mean ``mu``, dispersion ``theta``.

    The decoder predicts ``log mu``; each feature learns its own ``theta``
    (the variance is ``mu + mu**2 / theta``), as in scVI's gene-wise
    dispersion. Large ``theta`` recovers the Poisson.
    """

    name = "negative_binomial"

    def __init__(self, n_features: int, offset=None):
        super().__init__(n_features, offset)
        # softplus(log(e - 1)) = 1: every feature starts at theta = 1.
        self.raw_dispersion = nn.Parameter(
            torch.full((n_features,), math.log(math.e - 1.0))
        )

    def dispersion(self, features=_ALL_FEATURES) -> torch.Tensor:
        """``theta`` of each feature."""
        return F.softplus(self.raw_dispersion[features]) + 1e-4

    def distribution(self, decoder_output, features=_ALL_FEATURES) -> NegativeBinomial:
        theta = self.dispersion(features)
        log_mu = self.log_mean(decoder_output, features)
        return NegativeBinomial(
            total_count=theta.expand_as(log_mu),
            logits=log_mu - theta.log(),
            validate_args=False,
        )

    def log_prob_of_zeros(self, decoder_output: torch.Tensor) -> torch.Tensor:
        """``sum_j log p(0 | mu_j, theta_j) = -sum_j theta_j softplus(logit_j)``.

        The closed form of what ``NegativeBinomial.log_prob`` gives at zero,
        without its three ``lgamma`` terms over every feature (they cancel).
        """
        theta = self.dispersion()
        logits = self.log_mean(decoder_output) - theta.log()
        return -(theta * F.softplus(logits)).sum(-1)

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """Gamma-Poisson mixture: ``rate ~ Gamma(theta, theta / mu)``, then Poisson."""
        assert isinstance(px, NegativeBinomial)
        gamma = torch._standard_gamma(px.total_count, generator=generator)
        return torch.poisson(gamma * px.logits.exp(), generator=generator)


class MultinomialLikelihood(_Counts):
    """Rows of counts spread over features by a softmax: the Mult-VAE likelihood.

    ``log p(x | z) = log n! - sum_j log x_j! + sum_j x_j log pi_j`` with
    ``pi = softmax(decoder output)`` and ``n`` the row's total (Liang et al.,
    2018). Only how a row's total is shared among features is modelled, not
    the total itself. ``sample`` and the mean of ``inverse_transform`` use the
    average row total of the training data.
    """

    name = "multinomial"
    sparse_log_partition_ = multinomial_log_partition_
    total_count: torch.Tensor

    def __init__(self, n_features: int, offset=None, total_count: float = 1.0):
        super().__init__(n_features, offset)
        self.register_buffer("total_count", torch.tensor(float(total_count)))

    @classmethod
    def from_data(cls, X, sample_weight=None) -> MultinomialLikelihood:
        """Offset logits by log feature frequencies; remember the average row total."""
        row_totals = np.asarray(X.sum(axis=1)).ravel()
        row_total = float(np.average(row_totals, weights=sample_weight))
        return cls(
            X.shape[1],
            offset=np.log(_smoothed_means(X, sample_weight)),
            total_count=max(1.0, round(row_total)),
        )

    def distribution(self, decoder_output, features=_ALL_FEATURES) -> Multinomial:
        return Multinomial(
            int(self.total_count),
            logits=self.log_mean(decoder_output, features),
            validate_args=False,
        )

    def log_prob(self, decoder_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The multinomial log-probability of each row's own counts.

        ``log n!`` of the row's total ``n``, plus each feature's term.
        """
        if x.is_sparse:
            rows, _, values = nonzeros(x)
            totals = row_sums(rows, values, x.shape[0])
        else:
            totals = x.sum(-1)
        per_feature = self.feature_log_prob(decoder_output, x)
        return torch.lgamma(totals + 1) + per_feature.sum(-1)

    def log_base_measure(self, rows, values, n_rows) -> torch.Tensor:
        """``log n! - sum_j log x_j!`` of each row, ``n`` the row's total."""
        totals = row_sums(rows, values, n_rows)
        return torch.lgamma(totals + 1) + super().log_base_measure(rows, values, n_rows)

    def feature_log_prob(
        self, decoder_output: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        """``x_j log pi_j - log x_j!``: each feature's part of ``log_prob``.

        The row's ``log n!`` belongs to no single feature and is left out.
        """
        log_pi = torch.log_softmax(self.log_mean(decoder_output), dim=-1)
        if not x.is_sparse:
            return x * log_pi - torch.lgamma(x + 1)
        rows, columns, values = nonzeros(x)
        per_feature = torch.zeros_like(log_pi)
        per_feature[..., rows, columns] = values * log_pi[
            ..., rows, columns
        ] - torch.lgamma(values + 1)
        return per_feature

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """``total_count`` draws of a feature per row, counted."""
        assert isinstance(px, Multinomial)
        probs = px.probs.reshape(-1, px.probs.shape[-1])
        picks = torch.multinomial(
            probs, int(self.total_count), replacement=True, generator=generator
        )
        counts = torch.zeros_like(probs).scatter_add_(
            1, picks, torch.ones_like(picks, dtype=probs.dtype)
        )
        return counts.reshape(px.probs.shape)


LIKELIHOODS: dict[str, type[Likelihood]] = {
    family.name: family
    for family in (
        Gaussian,
        FixedVarianceGaussian,
        StandardisedGaussian,
        Laplace,
        StandardisedLaplace,
        BernoulliLikelihood,
        ContinuousBernoulliLikelihood,
        PoissonLikelihood,
        NegativeBinomialLikelihood,
        MultinomialLikelihood,
    )
}
