"""Observation models p(x | z): one small class per family, and blocks of columns.

A *family* models a block of columns. The decoder predicts one raw number per
column; the family's ``link`` turns it into the family's parameter (a mean in
the units of ``X``, logits, log-rates or log-probabilities), ``log_prob`` gives
``log p(x_j | z)`` of each value in nats with every normalising constant, and
``distribution`` the matching :mod:`torch.distributions` object, whose ``mean``
and ``sample`` the estimators use. Each family also says which values it can
describe (``check_domain``) and how the encoder sees its columns
(``encoder_values`` and ``input_standardisation``).

``Likelihood`` is what the network holds: a list of ``(columns, family)``
blocks. It sums the blocks' log-probabilities over a row's columns, scores
sparse rows without densifying them (``log p(0)`` over every column, corrected
at the stored values), and is the one place that knows how many blocks there
are.

``log_prob`` broadcasts its arguments: the sparse path asks for the
log-probability of a scalar 0 under every column's parameter, which costs the
per-column work (a variance's logarithm, a dispersion's ``lgamma``) once per
column rather than once per value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import ClassVar, cast

import numpy as np
import scipy.sparse as sp
import sklearn
import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    Categorical,
    ContinuousBernoulli,
    Distribution,
    Laplace,
    Multinomial,
    NegativeBinomial,
    Normal,
    Poisson,
)
from torch.nn import functional as F

from ._columns import (
    _check_counts,
    _check_real,
    _check_unit_interval,
    _column_moments,
    _log_means,
    _log_odds_of_means,
    column_means,
)
from ._data import canonical_csr
from ._missing import (
    filled_with,
    first_column_with_missing,
    has_missing,
)
from ._sparse_log_prob import (
    FusedSparseTerms,
    bernoulli_log_partition_,
    linear_sparse_log_prob,
    multinomial_log_partition_,
    poisson_log_partition_,
    row_sums,
)

# Per-feature variances of the real-valued families never fall below this, in
# units of the feature's variance: a constant or perfectly predicted column
# then adds at most -0.5 * log(2 * pi * 1e-3) ~ 2.5 nats to a row's
# log-likelihood instead of driving it to infinity.
GAUSSIAN_VARIANCE_FLOOR = 1e-3

# Each learned variance has a prior worth this many rows that leave the
# column's whole variance unexplained (1, in standardised units), or in a
# conditional model the share its conditions leave (c): an inverse-gamma
# prior, under which n rows that leave a mean square s2 make
# (n * s2 + VARIANCE_PRIOR_ROWS * c) / (n + VARIANCE_PRIOR_ROWS) the most
# probable variance. A column nearly constant in training (a pixel set in two
# images) then keeps a variance that held-out rows can fall outside of.
VARIANCE_PRIOR_ROWS = 50

ALL = slice(None)
_LOG_2PI = math.log(2.0 * math.pi)


def _of_features(values: torch.Tensor, features) -> torch.Tensor:
    """``values[features]``, with no indexing (one operation less) for ``ALL``.

    Training steps read every column on every step, where one more operation
    per parameter is a measurable share of a small network's step.
    """
    return values if features is ALL else values[features]


def _identity(values):
    return values


def _log1p(values):
    """``log1p`` of a NumPy array, a SciPy sparse matrix or a torch tensor."""
    if torch.is_tensor(values):
        return map_values(values, torch.log1p)
    if sp.issparse(values):
        # SciPy's log1p sums duplicates and sorts indices in place first: on a
        # canonical copy where needed, not on the caller's matrix.
        return canonical_csr(values).log1p()
    return np.log1p(values)


# ------------------------------------------------------------------ torch helpers


def stored_entries(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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


def _buffer(values, n_features: int, default: float) -> torch.Tensor:
    values = np.full(n_features, default) if values is None else values
    return torch.as_tensor(values, dtype=torch.float32)


# ----------------------------------------------------------------------- families


class Family(nn.Module):
    """An observation model for a block of ``n_features`` columns.

    The decoder predicts one number per column, read as a departure from
    ``offset``, a per-column baseline set from the training data (the mean,
    its log-odds or its logarithm), so training starts from the column
    averages. Subclasses set ``name`` and write ``log_prob`` and
    ``distribution``; the class attributes below say the rest.
    """

    name: ClassVar[str]
    offset: torch.Tensor
    check_domain: ClassVar[Callable] = staticmethod(_check_real)
    """``check_domain(name, X, column_names, row_name)`` raises a ``ValueError``
    naming the first column that holds a value the family cannot describe, and
    the first such value with its row (``row_name(position)``)."""
    encoder_values: ClassVar[Callable] = staticmethod(_identity)
    """The zero-preserving map from a column's values to what the encoder sees
    (before ``input_standardisation``), for arrays, sparse matrices and tensors."""
    baseline: ClassVar[Callable | None] = None
    """``baseline(X, sample_weight)``: the ``offset`` for training data ``X``."""
    accepts_missing: ClassVar[bool] = True
    """Whether a cell may be missing (NaN): given ``z`` the columns are
    independent, so a missing cell is marginalised by leaving out its term."""
    auto_input_dropout: ClassVar[float] = 0.0
    """What ``input_dropout='auto'`` picks: 0.5, Mult-VAE's rate, where it was
    measured to help (Bernoulli and continuous Bernoulli pixels); none where it
    hurt (counts) or where a zero is an arbitrary value (real-valued data)."""
    fused_sparse: ClassVar[FusedSparseTerms | None] = None
    """For families whose log-probability is linear in ``x`` given the logits:
    the terms of the fused sparse step (see :mod:`skvae._sparse_log_prob`)."""

    def __init__(self, n_features: int, offset=None, n_outputs: int | None = None):
        super().__init__()
        self.n_features = n_features
        self.n_outputs = n_features if n_outputs is None else n_outputs
        """The decoder outputs of the block, as wide as what the encoder sees:
        one per column, or one per level of a categorical column."""
        self.register_buffer("offset", _buffer(offset, self.n_outputs, 0.0))

    @classmethod
    def from_data(cls, X, sample_weight=None, **options) -> Family:
        """The family for training data ``X`` (already domain-checked).

        Statistics that set the baseline are weighted by ``sample_weight``, so
        rows of weight 0 play no part.
        """
        offset = None if cls.baseline is None else cls.baseline(X, sample_weight)
        return cls(X.shape[1], offset=offset, **options)

    def link(self, output: torch.Tensor) -> torch.Tensor:
        """The family's parameter of each column, from the decoder's raw output."""
        return self.offset + output

    def log_prob(
        self, parameter: torch.Tensor, x: torch.Tensor, features=ALL
    ) -> torch.Tensor:
        """``log p(x_j | parameter_j)`` of each value, broadcast over both.

        ``features`` says which column each entry of the last axis belongs to
        (all of them, in order, by default), for the families with per-column
        parameters of their own (a variance, a dispersion).
        """
        raise NotImplementedError

    def distribution(self, parameter: torch.Tensor) -> Distribution:
        """The distribution of every column given its parameter."""
        raise NotImplementedError

    def mean(self, parameter: torch.Tensor) -> torch.Tensor:
        """``E[x_j | z]`` of each column: what ``inverse_transform`` decodes to."""
        return self.distribution(parameter).mean

    def sample(self, parameter: torch.Tensor) -> torch.Tensor:
        """A draw of each column, from torch's global generator."""
        return self.distribution(parameter).sample()

    def weighted_mean(self, parameter: torch.Tensor, weights: torch.Tensor):
        """The mean of each column under a mixture over ``parameter``'s first axis.

        ``weights`` of shape ``(n_draws, n_rows, 1)`` sum to 1 over the draws.
        """
        return (weights * self.mean(parameter)).sum(0)

    def row_log_prob(self, x: torch.Tensor) -> torch.Tensor | float:
        """A term of each row's log-probability that belongs to no single column."""
        return 0.0

    def add_prior_gradient(self, weight: float) -> None:
        """Add ``weight`` times the gradient of minus the parameters' log-prior.

        Training calls it after each backward pass of the mean negative ELBO,
        with ``weight`` one over the rows, so that the step descends on minus
        the ELBO summed over the rows and the log-prior, per row. Written as
        a gradient, outside autograd, because the prior does not depend on
        the batch. Families without a prior add nothing.
        """

    def start_variances(self, unexplained: np.ndarray) -> None:
        """Start learned variances at the share of variance the PCA leaves out.

        ``unexplained`` has one entry per encoder input of the block, from the
        PCA start. Families without a learned variance ignore it.
        """

    def centre_variance_prior(self, centre: np.ndarray) -> None:
        """Centre the learned variances' prior on ``centre`` instead of 1.

        ``centre`` has one entry per encoder input of the block: the share of
        each column's variance that a conditional model's conditions leave,
        which is all its noise can be. Families without a learned variance
        ignore it.
        """

    def input_standardisation(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(shift, scale)`` if the encoder sees ``(values - shift) / scale``."""
        return None

    def describe(self) -> str:
        """The ``likelihood`` parameter this family was built from."""
        return self.name


class RealValued(Family):
    """Real values: Normal or Laplace noise around a mean the decoder predicts.

    The network works in standardised units: the encoder sees each column as
    ``(x - offset) / scale``, with the training data's column means and
    standard deviations (1 for constant columns), and the decoder's output
    ``m`` is the mean in those units, ``offset + scale * m`` in the units of
    ``X``. ``log_prob`` is the density of ``X`` in its own units (the
    standardised density divided by ``scale``), comparable with
    ``PCA.score_samples``.

    Parameters
    ----------
    noise : {'normal', 'laplace'}
        The shape of the noise: squared or absolute errors. A Laplace of
        variance ``v`` has scale ``b = sqrt(v / 2)``.
    variance : {'learned', 'data', 'unit'}
        Each column's variance given ``z``, shared by all rows: learned, as in
        factor analysis (``scale**2 * (GAUSSIAN_VARIANCE_FLOOR + softplus(raw))``);
        fixed at the column's training variance (the error of standardised
        columns, every column weighing the same); or 1 in the units of ``X``
        (the tutorials' mean squared error).
    """

    NAMES: ClassVar[dict[tuple[str, str], str]] = {
        ("normal", "learned"): "gaussian",
        ("normal", "unit"): "gaussian_fixed",
        ("normal", "data"): "gaussian_standardised",
        ("laplace", "learned"): "laplace",
        ("laplace", "data"): "laplace_standardised",
    }
    name = "real"
    scale: torch.Tensor
    variance_prior_centre: torch.Tensor

    def __init__(
        self, n_features, offset=None, scale=None, noise="normal", variance="learned"
    ):
        super().__init__(n_features, offset)
        self.noise = noise
        self.variance_kind = variance
        self.register_buffer("scale", _buffer(scale, n_features, 1.0))
        if variance == "learned":
            # softplus(log(e - 1)) = 1: every column starts at unit variance.
            start = math.log(math.e - 1.0)
            self.raw_variance = nn.Parameter(torch.full((n_features,), start))
            self.register_buffer("variance_prior_centre", torch.ones(n_features))

    @classmethod
    def from_data(cls, X, sample_weight=None, **options) -> RealValued:
        """Standardise with the column means and standard deviations of ``X``."""
        mean, std = _column_moments(X, sample_weight)
        return cls(X.shape[1], offset=mean, scale=std, **options)

    def describe(self) -> str:
        return self.NAMES[self.noise, self.variance_kind]

    def start_variances(self, unexplained: np.ndarray) -> None:
        """Start each learned variance at the share the PCA start leaves out.

        This is the noise variance of a probabilistic PCA of each standardised
        column: training then starts from a noise level that the first
        principal components already reach, not from each column's whole
        variance. A column without variance (unexplained 1) starts at 1: its
        training rows tell nothing about its noise. The start stays above
        ``GAUSSIAN_VARIANCE_FLOOR`` by the floor again.
        """
        if self.variance_kind != "learned":
            return
        above_floor = torch.as_tensor(
            np.maximum(unexplained - GAUSSIAN_VARIANCE_FLOOR, GAUSSIAN_VARIANCE_FLOOR),
            dtype=torch.float32,
        )
        with torch.no_grad():  # the inverse of softplus
            self.raw_variance.copy_(above_floor + torch.log(-torch.expm1(-above_floor)))

    def __setstate__(self, state) -> None:
        """Restore; a family pickled before its prior had a centre takes 1."""
        super().__setstate__(state)
        if self.variance_kind == "learned" and "variance_prior_centre" not in (
            self._buffers
        ):
            centre = torch.ones_like(self.raw_variance.detach())
            self.register_buffer("variance_prior_centre", centre)

    def centre_variance_prior(self, centre: np.ndarray) -> None:
        """Centre the prior on ``centre``, floored at ``GAUSSIAN_VARIANCE_FLOOR``."""
        if self.variance_kind != "learned":
            return
        floored = np.clip(centre, GAUSSIAN_VARIANCE_FLOOR, 1.0)
        self.variance_prior_centre.copy_(torch.as_tensor(floored, dtype=torch.float32))

    def add_prior_gradient(self, weight: float) -> None:
        """Add the gradient of the learned variances' prior, ``weight`` times.

        Minus the inverse-gamma log-prior of each standardised variance ``v``
        about its centre ``c`` (1 unless ``centre_variance_prior`` set it) is
        ``(VARIANCE_PRIOR_ROWS / 2) * (log v + c / v)`` up to a constant; its
        derivative in ``v`` is ``(VARIANCE_PRIOR_ROWS / 2) * (v - c) / v**2``,
        and ``v = GAUSSIAN_VARIANCE_FLOOR + softplus(raw)`` moves with
        ``sigmoid(raw)``. Nothing for variances that are not learned.
        """
        if self.variance_kind != "learned":
            return
        raw = self.raw_variance
        with torch.no_grad():
            variance = self.standardised_variance()
            slope = (variance - self.variance_prior_centre) / variance.square()
            if raw.grad is None:
                raw.grad = torch.zeros_like(raw)
            raw.grad.addcmul_(
                slope, torch.sigmoid(raw), value=VARIANCE_PRIOR_ROWS / 2 * weight
            )

    def standardised_variance(self, features=ALL) -> torch.Tensor:
        """Each column's variance given ``z``, in standardised units."""
        if self.variance_kind == "learned":
            raw = _of_features(self.raw_variance, features)
            return GAUSSIAN_VARIANCE_FLOOR + F.softplus(raw)
        scale = _of_features(self.scale, features)
        if self.variance_kind == "unit":
            return scale.square().reciprocal()
        return torch.ones_like(scale)

    def link(self, output) -> torch.Tensor:
        """The mean in standardised units: the decoder's output itself."""
        return output

    def log_prob(self, standardised_mean, x, features=ALL) -> torch.Tensor:
        """Each value's log-density, in the units of ``X``.

        With ``u = (x - offset) / scale``, ``m`` the standardised mean and
        ``v`` the standardised variance: Normal ``-((u - m)**2 / v + log(2 pi
        v)) / 2 - log(scale)``; Laplace ``-(|u - m| / b + log(2 b)) -
        log(scale)``, with ``b = sqrt(v / 2)``. The logarithm of ``scale``
        is taken alone: ``scale**2`` overflows float32 from about 1.8e19.
        A unit variance in the units of ``X`` (``'gaussian_fixed'``) is
        ``-((x - mean)**2 + log(2 pi)) / 2`` in those units, where no
        standardised residual can overflow.
        """
        scale = _of_features(self.scale, features)
        offset = _of_features(self.offset, features)
        if self.variance_kind == "unit":
            residual = x - (offset + scale * standardised_mean)
            return -0.5 * (residual.square() + _LOG_2PI)
        residual = (x - offset) / scale - standardised_mean
        variance = self.standardised_variance(features)
        if self.noise == "laplace":
            spread = (variance / 2.0).sqrt()
            return -(residual.abs() / spread + (2.0 * spread).log() + scale.log())
        log_normaliser = variance.log() + 2.0 * scale.log() + _LOG_2PI
        return -0.5 * (residual.square() / variance + log_normaliser)

    def distribution(self, standardised_mean) -> Distribution:
        mean = self.offset + self.scale * standardised_mean
        if self.variance_kind == "unit":
            return Normal(mean, torch.ones_like(mean), validate_args=False)
        # the spread in X's units, without squaring scale (see log_prob)
        spread = (self.scale * self.standardised_variance().sqrt()).expand_as(mean)
        if self.noise == "laplace":
            return Laplace(mean, spread / math.sqrt(2.0), validate_args=False)
        return Normal(mean, spread, validate_args=False)

    def input_standardisation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder sees standardised columns."""
        return self.offset, self.scale


class BernoulliFamily(Family):
    """Values in [0, 1] as Bernoulli probabilities: the binary cross-entropy.

    An exact probability for binary data. For intensities strictly inside
    (0, 1), such as scaled pixels, it is the usual cross-entropy loss but not a
    normalised density; ``'continuous_bernoulli'`` is. The decoder's output is
    a departure from the logit of the column's mean.
    """

    name = "bernoulli"
    check_domain = staticmethod(_check_unit_interval)
    baseline = staticmethod(_log_odds_of_means)
    auto_input_dropout = 0.5
    fused_sparse = FusedSparseTerms(bernoulli_log_partition_)

    def log_prob(self, logits, x, features=ALL) -> torch.Tensor:
        """``x log sigmoid(l) + (1 - x) log sigmoid(-l)``."""
        logits, x = torch.broadcast_tensors(logits, x)
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none")

    def distribution(self, logits) -> Bernoulli:
        return Bernoulli(logits=logits, validate_args=False)


class ContinuousBernoulliFamily(Family):
    """The continuous Bernoulli: a normalised density on [0, 1].

    ``p(x | lambda) = C(lambda) lambda**x (1 - lambda)**(1 - x)``, the
    cross-entropy with the constant ``C`` that makes it integrate to 1
    (Loaiza-Ganem & Cunningham, 2019): the principled choice for intensities
    such as scaled pixels, comparable with other densities.
    """

    name = "continuous_bernoulli"
    check_domain = staticmethod(_check_unit_interval)
    baseline = staticmethod(_log_odds_of_means)
    auto_input_dropout = 0.5

    def log_prob(self, logits, x, features=ALL) -> torch.Tensor:
        """:class:`torch.distributions.ContinuousBernoulli`'s ``log_prob``."""
        return self.distribution(logits).log_prob(x)

    def distribution(self, logits) -> ContinuousBernoulli:
        return ContinuousBernoulli(logits=logits, validate_args=False)


def _counts_log_base_measure(rows, values, n_rows) -> torch.Tensor:
    """``-sum_j log x_j!`` of each sparse row; zeros add nothing."""
    return row_sums(rows, -torch.lgamma(values + 1), n_rows)


class PoissonFamily(Family):
    """Poisson counts, with log-rates predicted around the log of the column mean."""

    name = "poisson"
    check_domain = staticmethod(_check_counts)
    encoder_values = staticmethod(_log1p)
    baseline = staticmethod(_log_means)
    fused_sparse = FusedSparseTerms(poisson_log_partition_, _counts_log_base_measure)

    def log_prob(self, log_rate, x, features=ALL) -> torch.Tensor:
        """``x log(rate) - rate - log x!``."""
        return x * log_rate - log_rate.exp() - torch.lgamma(x + 1.0)

    def distribution(self, log_rate) -> Poisson:
        return Poisson(log_rate.exp(), validate_args=False)


class NegativeBinomialFamily(Family):
    """Over-dispersed counts: negative binomial with mean ``mu``, dispersion ``theta``.

    The decoder predicts ``log mu``; each column learns its own ``theta`` (the
    variance is ``mu + mu**2 / theta``), as in scVI's gene-wise dispersion.
    Large ``theta`` recovers the Poisson.
    """

    name = "negative_binomial"
    check_domain = staticmethod(_check_counts)
    encoder_values = staticmethod(_log1p)
    baseline = staticmethod(_log_means)

    def __init__(self, n_features: int, offset=None):
        super().__init__(n_features, offset)
        # softplus(log(e - 1)) = 1: every column starts at theta = 1.
        self.raw_dispersion = nn.Parameter(
            torch.full((n_features,), math.log(math.e - 1.0))
        )

    def dispersion(self, features=ALL) -> torch.Tensor:
        """``theta`` of each column."""
        return F.softplus(_of_features(self.raw_dispersion, features)) + 1e-4

    def log_prob(self, log_mean, x, features=ALL) -> torch.Tensor:
        """Each count's log-probability.

        With ``l = log(mu / theta)``: ``theta log(theta / (theta + mu)) + x
        log(mu / (theta + mu))`` is ``x l - (x + theta) softplus(l)``; then
        ``log Gamma(x + theta) - log Gamma(theta) - log x!``.
        """
        theta = self.dispersion(features)
        logits = log_mean - theta.log()
        return (
            x * logits
            - (x + theta) * F.softplus(logits)
            + (torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1.0))
        )

    def distribution(self, log_mean) -> NegativeBinomial:
        theta = self.dispersion()
        return NegativeBinomial(
            total_count=theta.expand_as(log_mean),
            logits=log_mean - theta.log(),
            validate_args=False,
        )


def _multinomial_log_base_measure(rows, values, n_rows) -> torch.Tensor:
    """``log n! - sum_j log x_j!`` of each sparse row, ``n`` the row's total."""
    totals = row_sums(rows, values, n_rows)
    return torch.lgamma(totals + 1) + _counts_log_base_measure(rows, values, n_rows)


class MultinomialFamily(Family):
    """Rows of counts spread over columns by a softmax: the Mult-VAE likelihood.

    ``log p(x | z) = log n! + sum_j (x_j log pi_j - log x_j!)`` with
    ``pi = softmax(offset + decoder output)`` and ``n`` the row's own total
    (Liang et al., 2018). Only how a row's total is shared among columns is
    modelled, not the total itself: ``distribution``, and so ``sample`` and the
    mean of ``inverse_transform``, use the training rows' average total.
    """

    name = "multinomial"
    accepts_missing = False
    check_domain = staticmethod(_check_counts)
    encoder_values = staticmethod(_log1p)
    baseline = staticmethod(_log_means)
    fused_sparse = FusedSparseTerms(
        multinomial_log_partition_, _multinomial_log_base_measure
    )
    total_count: torch.Tensor

    def __init__(self, n_features: int, offset=None, total_count: float = 1.0):
        super().__init__(n_features, offset)
        self.register_buffer("total_count", torch.tensor(float(total_count)))

    @classmethod
    def from_data(cls, X, sample_weight=None, **options) -> MultinomialFamily:
        """Offset logits by log column frequencies; keep the average row total."""
        row_total = np.average(np.asarray(X.sum(axis=1)).ravel(), weights=sample_weight)
        return cls(
            X.shape[1],
            offset=_log_means(X, sample_weight),
            total_count=max(1.0, round(float(row_total))),
        )

    def link(self, output) -> torch.Tensor:
        """``log pi``: the log-softmax over the row's columns."""
        return torch.log_softmax(self.offset + output, dim=-1)

    def log_prob(self, log_pi, x, features=ALL) -> torch.Tensor:
        """``x_j log pi_j - log x_j!``: each column's part of a row's term.

        ``row_log_prob`` adds the row's ``log n!``.
        """
        return x * log_pi - torch.lgamma(x + 1.0)

    def row_log_prob(self, x) -> torch.Tensor:
        """``log n!`` of each row's total ``n``."""
        if x.is_sparse:
            rows, _, values = stored_entries(x)
            return torch.lgamma(row_sums(rows, values, x.shape[0]) + 1.0)
        return torch.lgamma(x.sum(-1) + 1.0)

    def distribution(self, log_pi) -> Multinomial:
        return Multinomial(int(self.total_count), logits=log_pi, validate_args=False)

    def mean(self, log_pi) -> torch.Tensor:
        """``n pi_j``: the distribution's mean, written out.

        ``Multinomial`` builds a ``Categorical`` and a ``Binomial`` that check
        their arguments whatever ``validate_args`` says, passes over every
        row's items that the mean does not need.
        """
        return self.total_count * log_pi.exp()


class CategoricalFamily(Family):
    """Columns of levels, each a softmax over its own levels.

    A column with ``K`` levels holds their codes, 0 to ``K - 1``. The encoder
    sees it one-hot; the decoder gives one logit per level, a departure from
    the log-frequency of the level among the training rows (``offset``), and
    ``log p(x_j | z)`` is the log-softmax of the row's level among the
    column's levels. The decoded mean of a column is its most probable level.
    """

    name = "categorical"
    starts: torch.Tensor
    stops: torch.Tensor

    def __init__(self, n_levels: Sequence[int], offset=None):
        super().__init__(len(n_levels), offset, n_outputs=int(sum(n_levels)))
        self.n_levels = [int(k) for k in n_levels]
        stops = np.cumsum(self.n_levels)
        # Also kept on the host: a buffer on a GPU has no NumPy view.
        self.host_starts = stops - self.n_levels
        self.register_buffer(
            "starts", torch.as_tensor(self.host_starts, dtype=torch.long)
        )
        self.register_buffer("stops", torch.as_tensor(stops, dtype=torch.long))

    @classmethod
    def from_data(cls, X, sample_weight=None, **options) -> CategoricalFamily:
        """Offset each level's logit by its log-frequency in ``X``'s codes.

        ``options["n_levels"]`` gives the number of levels of each column,
        and ``options["absent"]``, if given, marks the levels (of all the
        columns, in order) that ``categories`` declared and no training row
        holds, such as a stream's first chunk lacks. Those start at the
        frequency of a level that one more row would hold, ``1 / (n + 1)``
        of a column's ``n`` observed rows, as a rare level does: at the
        floor of 1e-8 their logits would start 18 below the others, which
        training could not make up in hundreds of steps. Other levels of
        frequency 0 (held only by rows of weight 0) keep the floor.
        """
        n_levels = options["n_levels"]
        absent = np.split(
            np.asarray(options.get("absent", np.zeros(sum(n_levels), bool))),
            np.cumsum(n_levels)[:-1],
        )
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        frequencies = []
        for j, k in enumerate(n_levels):
            observed = ~np.isnan(X[:, j])
            codes, w = X[observed, j].astype(np.intp), weights[observed]
            frequency = np.bincount(codes, w, minlength=k) / w.sum()
            frequencies.append(np.where(absent[j], 1 / (observed.sum() + 1), frequency))
        offset = np.log(np.maximum(np.concatenate(frequencies), 1e-8))
        return cls(n_levels, offset=offset)

    def encoder_values(self, codes):
        """The columns one-hot (all zeros where missing), for arrays or tensors."""
        if sp.issparse(codes) or (torch.is_tensor(codes) and codes.is_sparse):
            raise ValueError("Categorical columns take dense X.")
        if torch.is_tensor(codes):
            observed = ~codes.isnan()
            index = self.starts + torch.where(observed, codes, 0.0).long()
            one_hot = codes.new_zeros(*codes.shape[:-1], self.n_outputs)
            return one_hot.scatter_(-1, index, observed.to(codes.dtype))
        return self.sparse_encoder_values(codes).toarray()

    def sparse_encoder_values(self, codes: np.ndarray) -> sp.csr_matrix:
        """The columns one-hot as a sparse matrix: one stored 1 per observed cell."""
        rows, columns = np.nonzero(~np.isnan(codes))
        index = self.host_starts[columns] + codes[rows, columns].astype(np.intp)
        return sp.csr_matrix(
            (np.ones(len(rows)), (rows, index)), shape=(len(codes), self.n_outputs)
        )

    def link(self, output) -> torch.Tensor:
        """Each column's log-probabilities of its levels, side by side."""
        logits = (self.offset + output).split(self.n_levels, dim=-1)
        return torch.cat([torch.log_softmax(part, dim=-1) for part in logits], -1)

    def log_prob(self, log_p, codes, features=ALL) -> torch.Tensor:
        """The log-probability of each column's level."""
        index = self.starts + codes.long()
        return log_p.gather(-1, index.expand(*log_p.shape[:-1], index.shape[-1]))

    def distribution(self, log_p) -> Categorical:
        """Every column's levels, padded to the widest column with zero mass."""
        widest = max(self.n_levels)
        padded = [
            F.pad(part, (0, widest - part.shape[-1]), value=-math.inf)
            for part in log_p.split(self.n_levels, dim=-1)
        ]
        return Categorical(logits=torch.stack(padded, dim=-2), validate_args=False)

    def mean(self, log_p) -> torch.Tensor:
        """The most probable level of each column, as its code.

        Column by column, as ``link`` works: ``distribution(log_p).mode``
        would pad every column to the widest, which for a column of
        thousands of levels beside hundreds of narrow ones costs each of them
        as much.
        """
        parts = log_p.split(self.n_levels, dim=-1)
        return torch.stack([part.argmax(-1) for part in parts], -1).to(log_p.dtype)

    def sample(self, log_p) -> torch.Tensor:
        """A level of each column, as its code, from torch's global generator.

        The inverse of each column's distribution function at a uniform draw:
        the columns' cumulative probabilities lie end to end, and each draw is
        scaled into its column's stretch and searched for. Unlike
        ``distribution(log_p).sample()``, no column is padded to the widest,
        which would make a column of thousands of levels beside narrow ones
        cost each of them as much. The sums are in float64 where the device
        has it.
        """
        precise = torch.float32 if log_p.device.type == "mps" else torch.float64
        cdf = F.pad(log_p.to(precise).exp().cumsum(-1), (1, 0))
        low, high = cdf[..., self.starts], cdf[..., self.stops]
        uniform = torch.rand(low.shape, dtype=precise, device=low.device)
        found = torch.searchsorted(cdf, low + uniform * (high - low), right=True) - 1
        level = torch.minimum(torch.maximum(found, self.starts), self.stops - 1)
        return (level - self.starts).to(log_p.dtype)

    def weighted_mean(self, log_p, weights) -> torch.Tensor:
        """The most probable level of each column under the mixture, as its code."""
        mixture = (weights * log_p.exp()).sum(0).clamp_min(1e-30).log()
        return self.mean(mixture)


FAMILIES: dict[str, tuple[type[Family], dict]] = {
    **{
        name: (RealValued, {"noise": noise, "variance": variance})
        for (noise, variance), name in RealValued.NAMES.items()
    },
    **{
        family.name: (family, {})
        for family in (
            BernoulliFamily,
            ContinuousBernoulliFamily,
            PoissonFamily,
            NegativeBinomialFamily,
            MultinomialFamily,
        )
    },
}
"""Each ``likelihood`` name that can model every column of any ``X``, dense or
sparse: the family's class and its constructor options."""

# ------------------------------------------------------------------------- blocks


class Likelihood(nn.Module):
    """``p(x | z)`` over whole rows: a list of ``(columns, family)`` blocks.

    Each block models some columns of ``X`` with one family. The decoder's
    output holds each block's raw outputs one after the other, in the order of
    the blocks; a row's log-probability is the sum of its blocks'. Results with
    one entry per column (``feature_log_prob``, ``mean``, ``sample``) come back
    in the column order of ``X``.

    Parameters
    ----------
    blocks : list of (sequence of int, Family)
        The columns of ``X`` each family models; together, every column once.
    missing_indicators : bool, default=False
        Whether the encoder also sees, for each column, whether the cell is
        missing (NaN). Missing cells always count for nothing in the
        log-probability and reach the encoder as 0: the training mean of a
        real-valued column, which the encoder sees standardised; no count,
        no level or 0 for the other families.
    """

    order: torch.Tensor

    def __init__(
        self,
        blocks: Sequence[tuple[Sequence[int], Family]],
        missing_indicators: bool = False,
    ):
        super().__init__()
        self.missing_indicators = missing_indicators
        # A ModuleList, so that the families' parameters are the module's.
        self.families = cast(
            Sequence[Family], nn.ModuleList(family for _, family in blocks)
        )
        self.columns = [np.asarray(columns, dtype=np.intp) for columns, _ in blocks]
        order = np.concatenate(self.columns)
        self.n_features = len(order)
        if not np.array_equal(np.sort(order), np.arange(self.n_features)):
            raise ValueError("The blocks must hold every column of X exactly once.")
        # One block of every column in order needs no gathering or scattering.
        self.whole_rows = len(blocks) == 1 and np.array_equal(
            order, np.arange(self.n_features)
        )
        self.register_buffer("order", torch.as_tensor(order), persistent=False)

    @classmethod
    def from_data(cls, name: str, X, sample_weight=None) -> Likelihood:
        """One family, ``likelihood=name``, for every column of ``X``."""
        family, options = FAMILIES[name]
        return cls([(range(X.shape[1]), family.from_data(X, sample_weight, **options))])

    def describe(self) -> str | list[tuple[str, list[int]]]:
        """The family's name, or each block's family name and columns."""
        if self.whole_rows:
            return self.families[0].describe()
        return [
            (family.describe(), columns.tolist())
            for columns, family in zip(self.columns, self.families, strict=True)
        ]

    @property
    def n_outputs(self) -> int:
        """The width of the decoder's output."""
        return sum(family.n_outputs for family in self.families)

    @property
    def n_encoder_inputs(self) -> int:
        """The width of the encoder's input."""
        return self.n_outputs + (self.n_features if self.missing_indicators else 0)

    @property
    def auto_input_dropout(self) -> float:
        """The ``input_dropout`` that ``'auto'`` picks: the families' smallest."""
        return min(family.auto_input_dropout for family in self.families)

    def _blocks(self, x: torch.Tensor | None, output: torch.Tensor | None):
        """Each block's family, its columns of ``x`` and its part of ``output``."""
        if self.whole_rows:
            yield self.families[0], x, output
            return
        column, start = 0, 0
        for family in self.families:
            columns = self.order[column : column + family.n_features]
            stop = start + family.n_outputs
            yield (
                family,
                None if x is None else x.index_select(-1, columns),
                None if output is None else output[..., start:stop],
            )
            column, start = column + family.n_features, stop

    def _in_column_order(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """Blocks' per-column results, joined in the column order of ``X``."""
        if self.whole_rows:
            return parts[0]
        joined = torch.cat(parts, dim=-1)
        return torch.empty_like(joined).index_copy_(-1, self.order, joined)

    # ------------------------------------------------------------- log-probability

    def log_prob(
        self, output: torch.Tensor, x: torch.Tensor, maybe_missing: bool = True
    ) -> torch.Tensor:
        """``log p(x | z)`` of each row of ``x``, a dense or sparse COO batch.

        ``output`` may carry leading axes (one per posterior draw) in front of
        ``x``'s shape. ``maybe_missing=False`` says that ``x`` holds no missing
        cell (NaN), which spares the search for them.
        """
        parts = [
            _block_log_prob(family, output_block, x_block, maybe_missing)
            for family, x_block, output_block in self._blocks(x, output)
        ]
        return parts[0] if len(parts) == 1 else torch.stack(parts).sum(0)

    def add_prior_gradient(self, weight: float) -> None:
        """``Family.add_prior_gradient`` for every block."""
        for family in self.families:
            family.add_prior_gradient(weight)

    def log_prob_after(
        self,
        output_layer: nn.Linear,
        hidden: torch.Tensor,
        x: torch.Tensor,
        layer_fixed: bool = False,
        maybe_missing: bool = True,
    ) -> torch.Tensor:
        """``log_prob(output_layer(hidden), x, maybe_missing)``, for the training step.

        Sparse rows of one block whose family has ``fused_sparse`` terms take
        the fused step of :mod:`skvae._sparse_log_prob`: the decoder's last
        layer and the log-probability together, with one dense ``(rows,
        columns)`` array instead of half a dozen. ``layer_fixed``: the
        backward pass computes no gradient of the layer's weights.
        """
        terms = self.families[0].fused_sparse
        if not (x.is_sparse and self.whole_rows and terms is not None):
            return self.log_prob(output_layer(hidden), x, maybe_missing)
        rows, columns, values = stored_entries(x)
        if maybe_missing and values.isnan().any():  # the fused step reads none
            return self.log_prob(output_layer(hidden), x)
        fused = linear_sparse_log_prob(
            output_layer,
            hidden,
            self.families[0].offset,
            rows,
            columns,
            values,
            terms.log_partition_,
            layer_fixed,
        )
        return fused + terms.log_base_measure(rows, values, x.shape[0])

    def feature_log_prob(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x_j | z)`` of each column of each row, as a dense tensor.

        A row's term that belongs to no column (the multinomial's ``log n!``)
        is left out.
        """
        parts = []
        for family, x_block, output_block in self._blocks(x, output):
            parameter = family.link(output_block)
            if not x_block.is_sparse:
                terms = _observed_log_prob(family, parameter, x_block)
                parts.append(terms.masked_fill(x_block.isnan(), math.nan))
                continue
            at_zero = family.log_prob(parameter, _zero(parameter))
            per_column = at_zero.expand_as(parameter).clone()
            rows, columns, values = stored_entries(x_block)
            stored = parameter[..., rows, columns]
            terms = _observed_log_prob(family, stored, values, columns)
            per_column[..., rows, columns] = terms.masked_fill(values.isnan(), math.nan)
            parts.append(per_column)
        return self._in_column_order(parts)

    # ---------------------------------------------------------- means and draws

    def mean(self, output: torch.Tensor) -> torch.Tensor:
        """``E[x | z]`` of each column."""
        return self._in_column_order(
            [
                family.mean(family.link(output_block))
                for family, _, output_block in self._blocks(None, output)
            ]
        )

    def weighted_mean(self, output: torch.Tensor, weights: torch.Tensor):
        """Each column's mean under a mixture of the draws on ``output``'s first axis.

        The most probable level for a categorical column. ``weights`` of shape
        ``(n_draws, n_rows)`` sum to 1 over the draws.
        """
        return self._in_column_order(
            [
                family.weighted_mean(family.link(output_block), weights[..., None])
                for family, _, output_block in self._blocks(None, output)
            ]
        )

    def sample(self, output: torch.Tensor) -> torch.Tensor:
        """One draw of each row from ``p(x | z)``, from torch's global generator.

        Callers that must leave the global state alone draw under
        :func:`torch.random.fork_rng`.
        """
        return self._in_column_order(
            [
                family.sample(family.link(output_block))
                for family, _, output_block in self._blocks(None, output)
            ]
        )

    # ------------------------------------------------------------- the encoder

    def encoder_input(self, x: torch.Tensor, maybe_missing: bool = True):
        """The batch as the encoder's first layer takes it: ``(values, shift_scale)``.

        Dense batches come back standardised, with ``None``, a missing cell
        (NaN) at 0; ``maybe_missing=False`` says that there is none, and spares
        the search where nothing is standardised. A sparse batch comes back as
        its family's ``encoder_values`` with the ``(shift, scale)`` still to
        apply, which the first layer folds into its weights so that the batch
        stays sparse.
        """
        if x.is_sparse:
            return self._sparse_encoder_input(x)
        parts = []
        for family, x_block, _ in self._blocks(x, None):
            values = family.encoder_values(x_block)
            standardisation = family.input_standardisation()
            if standardisation is not None:
                shift, scale = standardisation
                # a value standardised beyond float32 (inf) reads as its limit
                values = ((values - shift) / scale).nan_to_num(0.0)
            elif maybe_missing:
                values = values.nan_to_num(0.0)
            parts.append(values)
        if self.missing_indicators:
            parts.append(x.isnan().to(x.dtype))
        return (parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)), None

    def _sparse_encoder_input(self, x: torch.Tensor):
        """``encoder_input`` of a sparse batch, one family for all its columns.

        A missing cell (a stored NaN) reaches the first layer as the shift of
        its column, which the standardisation takes to 0 as for dense rows,
        and the missing indicators follow as sparse columns of their own.
        """
        if not self.whole_rows:
            raise ValueError("Sparse X takes one likelihood for all its columns.")
        family = self.families[0]
        rows, columns, values = stored_entries(family.encoder_values(x))
        standardisation = family.input_standardisation()
        missing = values.isnan()
        shift = 0.0 if standardisation is None else standardisation[0][columns]
        values = torch.where(missing, shift, values)
        n_rows, n_features = x.shape
        indices = torch.stack([rows, columns])
        if self.missing_indicators:
            indicator_indices = indices[:, missing]
            indicator_indices[1] += n_features
            indices = torch.cat([indices, indicator_indices], dim=1)
            values = torch.cat([values, torch.ones_like(values[missing])])
            if standardisation is not None:
                shift, scale = standardisation
                standardisation = (
                    torch.cat([shift, torch.zeros_like(shift)]),
                    torch.cat([scale, torch.ones_like(scale)]),
                )
        encoded = torch.sparse_coo_tensor(
            indices,
            values,
            (n_rows, self.n_encoder_inputs),
            is_coalesced=not self.missing_indicators,  # else sorted just below
            check_invariants=False,
        )
        return encoded.coalesce(), standardisation

    def encoder_features(self, X):
        """``X`` as the encoder sees it, on the host, but for the shift.

        Returns ``(values, scale, missing)``: each family's ``encoder_values``
        of its columns (a NumPy array, or a SciPy sparse matrix for sparse
        ``X``), missing cells at their column's mean; the scale that divides
        each of them; and which of the dense values were missing (None where
        none was, or where the values are sparse). The shift of the
        standardisation is left out: the principal components of the PCA
        start centre the columns anyway.
        """
        values, scales, missing = [], [], []
        for columns, family in zip(self.columns, self.families, strict=True):
            block = X if self.whole_rows else X[:, columns]
            if isinstance(family, CategoricalFamily) and _exceeds_working_memory(
                block.shape[0] * family.n_outputs
            ):
                # columns of thousands of levels cost memory by their rows
                values.append(family.sparse_encoder_values(block))
                missing.append(None)
            else:
                encoded = family.encoder_values(block)
                dense_missing = not sp.issparse(encoded) and has_missing(encoded)
                missing.append(np.isnan(encoded) if dense_missing else None)
                values.append(_mean_for_missing(encoded))
            standardisation = family.input_standardisation()
            scale = np.ones(family.n_outputs)
            if standardisation is not None:
                scale = standardisation[1].detach().cpu().double().numpy()
            scales.append(scale)
        scale = np.concatenate(scales)
        if any(sp.issparse(block) for block in values):
            joined = values[0] if len(values) == 1 else sp.hstack(values, format="csr")
            return joined, scale, None
        joined = values[0] if len(values) == 1 else np.hstack(values)
        if all(cells is None for cells in missing):
            return joined, scale, None
        cells = [
            np.zeros(block.shape, dtype=bool) if block_cells is None else block_cells
            for block, block_cells in zip(values, missing, strict=True)
        ]
        return joined, scale, np.hstack(cells)

    # ---------------------------------------------------------------- the domain

    def check_domain(
        self,
        X,
        names: Sequence | None = None,
        row_name: Callable[[int], str] = str,
    ) -> None:
        """Raise a ``ValueError`` naming the first column outside its family's domain.

        ``names`` are the column names of ``X`` (its indices by default), and
        ``row_name`` names a row by its position.
        """
        if names is None:
            names = range(X.shape[1])
        for columns, family in zip(self.columns, self.families, strict=True):
            block = X if self.whole_rows else X[:, columns]
            block_names = [names[j] for j in columns]
            check_block(type(family), family.describe(), block, block_names, row_name)


def check_block(
    family: type[Family],
    name: str,
    X,
    names: Sequence,
    row_name: Callable[[int], str] = str,
) -> None:
    """Raise a ``ValueError`` if a column of ``X`` is outside ``family``'s domain.

    Also if it has a missing cell (NaN) that the family cannot leave out.
    """
    j = None if family.accepts_missing else first_column_with_missing(X)
    if j is not None:
        raise ValueError(
            f"likelihood={name!r} models each row's total, which a missing cell "
            f"leaves unknown, but column {names[j]!r} of X has NaN. Fill the "
            "missing cells, or use likelihood='poisson'."
        )
    family.check_domain(name, X, names, row_name)


def _zero(like: torch.Tensor) -> torch.Tensor:
    return torch.zeros((), dtype=like.dtype, device=like.device)


def _observed_log_prob(
    family: Family, parameter, x: torch.Tensor, features=ALL, maybe_missing=True
):
    """``family.log_prob`` of each value of dense ``x``, 0 where a value is NaN.

    ``x`` is a dense batch, or the stored values of a sparse one with their
    ``features``. ``maybe_missing=False`` says that no value is NaN.
    """
    if not maybe_missing:
        return family.log_prob(parameter, x, features)
    missing = x.isnan()
    if not missing.any():
        return family.log_prob(parameter, x, features)
    terms = family.log_prob(parameter, x.masked_fill(missing, 0.0), features)
    return terms.masked_fill(missing, 0.0)


def _block_log_prob(
    family: Family, output: torch.Tensor, x: torch.Tensor, maybe_missing: bool = True
):
    """``log p(x | z)`` of each row under one family, for dense or sparse ``x``.

    Missing cells (NaN) are marginalised out: given ``z`` the columns are
    independent, so a row's term is the sum over its observed cells.
    ``maybe_missing=False`` says that ``x`` has none.
    """
    parameter = family.link(output)
    if not x.is_sparse:
        observed = _observed_log_prob(family, parameter, x, maybe_missing=maybe_missing)
        return observed.sum(-1) + family.row_log_prob(x)
    rows, columns, values = stored_entries(x)
    zero = _zero(parameter)
    at_zero = family.log_prob(parameter, zero).expand_as(parameter).sum(-1)
    stored = parameter[..., rows, columns]
    correction = _observed_log_prob(family, stored, values, columns) - family.log_prob(
        stored, zero, columns
    )
    return at_zero.index_add(-1, rows, correction) + family.row_log_prob(x)


def _exceeds_working_memory(n_values: int) -> bool:
    """Whether ``n_values`` float64 values exceed scikit-learn's ``working_memory``."""
    return n_values * 8 > sklearn.get_config()["working_memory"] * 2**20


def _mean_for_missing(values):
    """``values`` with each missing cell at its column's mean.

    A cell at its column's mean moves no principal component. Sparse values
    stay sparse.
    """
    if not has_missing(values):
        return values
    return filled_with(values, column_means(values))
