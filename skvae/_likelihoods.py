"""Observation models p(x | z): one small class per family.

Each class turns the decoder's raw output for a batch into a
:mod:`torch.distributions` object over the features of each row, so the
reconstruction term of the ELBO reads ``px.log_prob(x).sum(-1)`` with every
normalising constant included. Each class also says which values of ``X`` it
can describe (``check_domain``), how ``X`` is presented to the encoder
(``encoder_input``), and how to draw from it with a local random generator
(``sample``), so that no global random state is ever touched.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.distributions import Bernoulli, Distribution, Normal

# Per-feature variances of the Gaussian likelihood never fall below this, in
# units of the feature's variance: a constant or perfectly predicted column
# then adds at most -0.5 * log(2 * pi * 1e-3) ~ 2.5 nats to a row's
# log-likelihood instead of driving it to infinity.
GAUSSIAN_VARIANCE_FLOOR = 1e-3


def _value_range(X) -> tuple[float, float]:
    """Smallest and largest value of a dense array or sparse matrix."""
    if sp.issparse(X):
        values = X.data
        if X.nnz < math.prod(X.shape):  # implicit zeros are values too
            values = np.append(values, 0.0)
    else:
        values = np.asarray(X)
    return float(values.min()), float(values.max())


class Likelihood(nn.Module):
    """An observation model p(x | z) over rows of ``n_features`` features.

    Subclasses set ``name`` and ``n_params`` (decoder outputs per feature) and
    implement ``distribution`` and ``sample``.
    """

    name: ClassVar[str]
    n_params: ClassVar[int] = 1

    def __init__(self, n_features: int):
        super().__init__()
        self.n_features = n_features

    @classmethod
    def from_data(cls, X) -> Likelihood:
        """Build the likelihood for training data ``X`` (already domain-checked)."""
        return cls(X.shape[1])

    @classmethod
    def check_domain(cls, X) -> None:
        """Raise ``ValueError`` if ``X`` holds values this family cannot describe."""

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """Present a batch of rows to the encoder."""
        return x

    def distribution(self, decoder_output: torch.Tensor) -> Distribution:
        """The distribution of each feature given the decoder's raw output."""
        raise NotImplementedError

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """Draw one value per feature from ``px`` using ``generator``."""
        raise NotImplementedError


class Gaussian(Likelihood):
    """Normal likelihood with a learned variance per feature.

    The decoder works in standardised units: its output ``m`` means
    ``shift + scale * m`` in the units of ``X``, where ``shift`` and ``scale``
    are the training data's feature means and standard deviations (1 for
    constant features). The variance of feature ``j`` is a free parameter,
    ``scale_j**2 * (GAUSSIAN_VARIANCE_FLOOR + softplus(raw_j))``, shared by all
    rows, as in factor analysis. ``log_prob`` is therefore the exact density
    of ``X`` in its own units, comparable with ``PCA.score_samples``.
    """

    name = "gaussian"
    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, n_features: int, shift=None, scale=None):
        super().__init__(n_features)
        shift = np.zeros(n_features) if shift is None else shift
        scale = np.ones(n_features) if scale is None else scale
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        # softplus(log(e - 1)) = 1: every feature starts at unit variance.
        start = math.log(math.e - 1.0)
        self.raw_variance = nn.Parameter(torch.full((n_features,), start))

    @classmethod
    def from_data(cls, X) -> Gaussian:
        """Standardise with the feature means and standard deviations of ``X``."""
        if sp.issparse(X):
            mean = np.asarray(X.mean(axis=0)).ravel()
            mean_of_squares = np.asarray(X.multiply(X).mean(axis=0)).ravel()
            variance = np.maximum(mean_of_squares - mean**2, 0.0)
        else:
            mean, variance = X.mean(axis=0), X.var(axis=0)
        std = np.sqrt(variance)
        std[std <= 1e-8 * np.maximum(np.abs(mean), 1.0)] = 1.0
        return cls(X.shape[1], shift=mean, scale=std)

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise the batch."""
        return (x - self.shift) / self.scale

    def distribution(self, decoder_output: torch.Tensor) -> Normal:
        """Normal in the units of ``X``."""
        variance = GAUSSIAN_VARIANCE_FLOOR + nn.functional.softplus(self.raw_variance)
        loc = self.shift + self.scale * decoder_output
        return Normal(loc, self.scale * variance.sqrt(), validate_args=False)

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """``loc + scale * eps`` with ``eps ~ N(0, 1)``."""
        assert isinstance(px, Normal)
        noise = torch.randn(
            px.loc.shape, generator=generator, device=px.loc.device, dtype=px.loc.dtype
        )
        return px.loc + px.scale * noise


class BernoulliLikelihood(Likelihood):
    """Bernoulli likelihood on values in [0, 1]: the binary cross-entropy.

    For binary data this is an exact probability mass. For intensities strictly
    inside (0, 1), such as scaled pixels, it is the usual cross-entropy loss but
    not a normalised density, so its ``score`` is not comparable with that of a
    density model.
    """

    name = "bernoulli"

    @classmethod
    def check_domain(cls, X) -> None:
        """Values must lie in [0, 1]."""
        low, high = _value_range(X)
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"likelihood='bernoulli' needs values in [0, 1], but X has values "
                f"in [{low:g}, {high:g}]. Scale X to [0, 1] (for example with "
                f"MinMaxScaler) or use likelihood='gaussian'."
            )

    def distribution(self, decoder_output: torch.Tensor) -> Bernoulli:
        """Bernoulli with the decoder output as logits."""
        return Bernoulli(logits=decoder_output, validate_args=False)

    def sample(self, px: Distribution, generator: torch.Generator) -> torch.Tensor:
        """1 where a uniform draw falls below the success probability."""
        assert isinstance(px, Bernoulli)
        probs = px.probs
        uniform = torch.rand(
            probs.shape, generator=generator, device=probs.device, dtype=probs.dtype
        )
        return (uniform < probs).to(probs.dtype)


LIKELIHOODS: dict[str, type[Likelihood]] = {
    family.name: family for family in (Gaussian, BernoulliLikelihood)
}
