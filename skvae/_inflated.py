"""Numbers with frequent exact values: a categorical choice beside a real value.

Integer columns of tables are often lumpy: 92 % of Adult's ``capital-gain`` is
exactly 0 and 47 % of its ``hours-per-week`` exactly 40. A Gaussian spreads
such a spike over its neighbours. ``InflatedFamily`` gives each of a column's
*atoms* (the values that hold at least ``ATOM_SHARE`` of its training cells)
a probability of its own, as a zero-inflated model does for 0, and models the
other values with a real-valued family: a mixture of point masses and a
density, whose ``log_prob`` is the log-probability of an atom and
``log P(other) + log p(x | other)`` elsewhere (a density with respect to
counting measure at the atoms plus Lebesgue measure, as for any zero-inflated
model). The encoder sees each cell as TVAE's mode-specific normalisation
does: which atom it is, or that it is none, one-hot, and the standardised
value of a non-atom cell.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import torch
from torch.distributions import Categorical, Laplace, Normal

from ._likelihoods import ALL, Family, RealValued

# A value is an atom of its column when it holds at least this share of the
# column's observed training cells (and two cells at least).
ATOM_SHARE = 0.05


def atoms_and_shares(column, weights, share: float = ATOM_SHARE):
    """A column's atoms and the share of its cells at each atom, then elsewhere.

    The atoms are the sorted values that hold at least ``share`` of the
    column's observed cells, weighted by ``weights``, and at least two cells
    of positive weight: a value seen once is no sign of a point mass, which
    matters in tables of fewer than ``2 / share`` rows. Returns the atoms and
    ``len(atoms) + 1`` shares.
    """
    observed = ~np.isnan(column)
    values, inverse = np.unique(column[observed], return_inverse=True)
    totals = np.bincount(inverse, weights[observed], minlength=len(values))
    cells = np.bincount(inverse, weights[observed] > 0, minlength=len(values))
    total = max(totals.sum(), 1e-300)
    is_atom = (totals >= share * total) & (cells >= 2)
    shares = np.append(totals[is_atom], totals[~is_atom].sum()) / total
    return values[is_atom], shares


class InflatedFamily(Family):
    """Real values with atoms: which atom (or none), and a real value if none.

    Each column takes ``width + 1`` decoder outputs, ``width`` being one more
    than the most atoms of any column: the logits of its ``K_j`` atoms, of
    "none" (at position ``K_j``) and of unused places (whose ``offset`` is
    ``-inf``), then, after those of every column, one output per column: the
    standardised mean of a :class:`~skvae._likelihoods.RealValued` family of
    the cells that are not atoms. The logits are offset by the training
    log-frequencies of the atoms and of none. A column without atoms is the
    real-valued family beside a certain "none".

    Parameters
    ----------
    atoms : list of ndarray
        The atoms of each column, sorted.
    log_frequencies : ndarray of shape (n_features, width)
        The offsets of the logits: log-frequencies, ``-inf`` at unused places.
    value : RealValued
        The values of the cells that are not atoms.
    value_range : ndarray of shape (n_features, 2)
        The lowest and highest training value of each column that is not an
        atom: ``sample`` draws the values within it.
    """

    name = "inflated"
    atom_values: torch.Tensor
    n_atoms: torch.Tensor
    none_place: torch.Tensor
    value_low: torch.Tensor
    value_high: torch.Tensor

    def __init__(
        self,
        atoms,
        log_frequencies: np.ndarray,
        value: RealValued,
        value_range: np.ndarray,
    ):
        n_features, self.width = log_frequencies.shape
        self.n_choices = n_features * self.width
        offset = np.concatenate([log_frequencies.ravel(), np.zeros(n_features)])
        super().__init__(n_features, offset, n_outputs=self.n_choices + n_features)
        self.atoms = [np.asarray(a, dtype=np.float64) for a in atoms]
        self.value = value
        n_atoms = np.array([len(a) for a in self.atoms])
        padded = np.full((n_features, self.width), np.nan)
        for j, a in enumerate(self.atoms):
            padded[j, : len(a)] = a
        # NaN where no atom: no value equals it.
        self.register_buffer(
            "atom_values", torch.as_tensor(padded, dtype=torch.float32)
        )
        self.register_buffer("n_atoms", torch.as_tensor(n_atoms))
        self.register_buffer(
            "none_place", torch.as_tensor(np.arange(self.width) == n_atoms[:, None])
        )
        low, high = np.asarray(value_range, dtype=np.float32).T
        self.register_buffer("value_low", torch.as_tensor(low))
        self.register_buffer("value_high", torch.as_tensor(high))

    @classmethod
    def from_data(cls, X, sample_weight=None, **options) -> InflatedFamily:
        """Atoms, their frequencies, and the moments of the other values of ``X``.

        ``options`` are the :class:`~skvae._likelihoods.RealValued` options of
        the other values (``noise``, ``variance``) and, optionally, the
        ``share`` that makes an atom.
        """
        share = options.pop("share", ATOM_SHARE)
        X = np.asarray(X, dtype=np.float64)
        weights = np.ones(len(X)) if sample_weight is None else sample_weight
        atoms, shares, others = [], [], X.copy()
        for j, column in enumerate(X.T):
            column_atoms, column_shares = atoms_and_shares(column, weights, share)
            atoms.append(column_atoms)
            shares.append(column_shares)
            others[np.isin(column, column_atoms), j] = np.nan  # values, not atoms
        width = max(len(a) for a in atoms) + 1
        log_frequencies = np.full((len(atoms), width), -np.inf)
        for j, column_shares in enumerate(shares):
            log_frequencies[j, : len(column_shares)] = np.log(
                np.maximum(column_shares, 1e-8)
            )
        # A column whose every cell of positive weight is an atom has no other
        # values to describe: its value is standard.
        weighed = ~np.isnan(others) & (weights > 0)[:, None]
        has_values = weighed.any(0)
        lowest = np.where(weighed, others, np.inf).min(0)
        highest = np.where(weighed, others, -np.inf).max(0)
        value_range = np.where(has_values[:, None], np.c_[lowest, highest], 0.0)
        others[:, ~has_values] = 0.0
        value = RealValued.from_data(others, weights, **options)
        return cls(atoms, log_frequencies, value, value_range)

    def describe(self) -> str:
        return f"{self.name}_{self.value.describe()}"

    def _split(self, parameter: torch.Tensor):
        """The logits, ``(..., n_features, width)``, and the standardised means."""
        logits = parameter[..., : self.n_choices]
        return (
            logits.unflatten(-1, (self.n_features, self.width)),
            parameter[..., self.n_choices :],
        )

    def _matches(self, x: torch.Tensor) -> torch.Tensor:
        """Which atom each value is, ``(..., n_features, width)``, all False if none."""
        return x.unsqueeze(-1) == self.atom_values

    def log_prob(self, parameter, x, features=ALL) -> torch.Tensor:
        """``log P(atom)`` at an atom; ``log P(none) + log p(x | none)`` elsewhere."""
        if features is not ALL:
            raise ValueError("Inflated columns take dense X.")
        logits, mean = self._split(parameter)
        matches = self._matches(x)
        other = ~matches.any(-1)
        codes = torch.where(other, self.n_atoms, matches.byte().argmax(-1))
        codes = codes.unsqueeze(-1).expand(*logits.shape[:-1], 1)
        chosen = logits.log_softmax(-1).gather(-1, codes).squeeze(-1)
        # An atom's cell is read at the values' offset, not at the atom: the
        # term is masked out, but an atom far from the other values (1e19
        # beside a constant) overflows it, and the mask passes on NaN
        # gradients from an infinite term.
        values = torch.where(other, x, self.value.offset.expand_as(x))
        return chosen + torch.where(other, self.value.log_prob(mean, values), 0.0)

    def mean(self, parameter) -> torch.Tensor:
        """``sum_k P(atom_k) atom_k + P(none) E[x | none]`` of each column."""
        logits, mean = self._split(parameter)
        p = logits.softmax(-1)
        at_atoms = (p * self.atom_values.nan_to_num(0.0)).sum(-1)
        none = (p * self.none_place).sum(-1)
        return at_atoms + none * self.value.mean(mean)

    def sample(self, parameter) -> torch.Tensor:
        """An atom, or a draw of the value where the choice is none.

        The value is drawn from its noise truncated to the range of the
        training values that are not atoms (by the inverse of its CDF): a draw
        beyond the range, which clipping would pile up at its ends, could
        otherwise land on an atom (0 for amounts that are mostly 0) and add to
        the probability the model gives it.
        """
        logits, mean = self._split(parameter)
        codes = Categorical(logits=logits, validate_args=False).sample()
        atoms = self.atom_values.expand(*codes.shape, -1)
        at_atoms = atoms.gather(-1, codes.unsqueeze(-1)).squeeze(-1)
        return torch.where(codes == self.n_atoms, self._values_in_range(mean), at_atoms)

    def _values_in_range(self, mean: torch.Tensor) -> torch.Tensor:
        """A draw of each value, truncated to the training values' range.

        In float64, in standard units, and reflected about the noise's centre
        where the range lies above it, so that the range is on the centre's
        side or below it, where the CDF keeps its precision (near 1 it
        rounds to 1 a few scales out). On the host for a model on Apple's
        MPS, which holds no float64.
        """
        noise = cast("Normal | Laplace", self.value.distribution(mean))
        cdf, icdf = _STANDARD_CDFS[type(noise)]
        device = torch.device("cpu") if mean.device.type == "mps" else mean.device
        centre = noise.loc.to(device, torch.float64)
        scale = noise.scale.to(device, torch.float64)
        low = self.value_low.to(device, torch.float64)
        high = self.value_high.to(device, torch.float64)
        reflect = (low + high) / 2 > centre
        sign = torch.where(reflect, -1.0, 1.0)
        lower = torch.where(reflect, high, low)  # the end the sign maps lower
        upper = torch.where(reflect, low, high)
        p_lower = cdf(sign * (lower - centre) / scale)
        p_upper = cdf(sign * (upper - centre) / scale)
        uniform = torch.rand_like(p_lower)
        values = centre + sign * scale * icdf(p_lower + (p_upper - p_lower) * uniform)
        # beyond float64's tail both ends have probability 0: the nearer end
        values = torch.where(values.isfinite(), values, centre.clamp(low, high))
        return values.clamp(low, high).to(mean.device, mean.dtype)

    def encoder_values(self, x):
        """Which atom, or none, one-hot; then the value, or its mean at atoms.

        A missing cell has no place one-hot and the mean as its value. Arrays
        (the PCA start's whole training table) are encoded on the host, with
        host copies of the atoms, whatever the network's device.
        """
        if torch.is_tensor(x):
            return _one_hot_and_values(
                x, self.atom_values, self.none_place, self.value.offset
            )
        encoded = _one_hot_and_values(
            torch.as_tensor(np.asarray(x, dtype=np.float32)),
            self.atom_values.cpu(),
            self.none_place.cpu(),
            self.value.offset.cpu(),
        )
        return encoded.double().numpy()

    def input_standardisation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one-hot places as they are, the values standardised."""
        shift, scale = self.value.input_standardisation()
        return (
            torch.cat([shift.new_zeros(self.n_choices), shift]),
            torch.cat([scale.new_ones(self.n_choices), scale]),
        )

    def start_variances(self, unexplained: np.ndarray) -> None:
        self.value.start_variances(unexplained[self.n_choices :])

    def centre_variance_prior(self, centre: np.ndarray) -> None:
        # the regression read the values as the encoder does, the atoms'
        # cells at the mean: the centre errs toward the whole variance
        self.value.centre_variance_prior(centre[self.n_choices :])

    def add_prior_gradient(self, weight: float) -> None:
        self.value.add_prior_gradient(weight)


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    """The standard Normal CDF through ``erfc``: precise far in the lower tail.

    (``torch.special.ndtr`` rounds to 0 from about -9 in float64.)
    """
    return 0.5 * torch.special.erfc(-z / math.sqrt(2.0))


def _laplace_cdf(z: torch.Tensor) -> torch.Tensor:
    """The standard Laplace CDF, without cancellation in the lower tail."""
    return torch.where(z < 0, 0.5 * torch.exp(z), 1.0 - 0.5 * torch.exp(-z))


def _laplace_icdf(p: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`_laplace_cdf`."""
    return torch.where(p < 0.5, torch.log(2.0 * p), -torch.log(2.0 - 2.0 * p))


# The standard CDF of each noise and its inverse, precise in the lower tail.
_STANDARD_CDFS = {
    Normal: (_normal_cdf, torch.special.ndtri),
    Laplace: (_laplace_cdf, _laplace_icdf),
}


def _one_hot_and_values(x, atom_values, none_place, offset) -> torch.Tensor:
    """:meth:`InflatedFamily.encoder_values` of the tensor ``x``, given the atoms.

    ``atom_values`` is ``(n_features, width)``, NaN-padded; ``none_place``
    marks each column's place for "none of the atoms"; ``offset`` is the
    values' mean, which stands in at atoms and where a cell is missing.
    """
    matches = x.unsqueeze(-1) == atom_values
    other = ~matches.any(-1) & ~x.isnan()
    places = matches | (other.unsqueeze(-1) & none_place)
    return torch.cat(
        [places.to(x.dtype).flatten(-2), torch.where(other, x, offset)], -1
    )
