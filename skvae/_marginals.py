"""Generated numbers that follow each column's training distribution.

A real-valued column's draws from ``p(x | z)``, pooled over ``z ~ p(z)``,
follow the model's marginal: a mixture of Normal (or Laplace) bumps, which
smooths what the training column holds, such as a spike of 92 % of its rows
at 0, skew, or a hard bound. ``VAETransformer.sample`` maps each such draw
through a monotone function of its column (quantile mapping): the draw's
quantile among the model's own draws, then the training rows' value at that
quantile. Each column then follows the training rows' distribution, while
the order of its draws, and so the dependence between columns that the
model learned (a copula), stays the model's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._data import relative_to_their_mean
from ._likelihoods import Likelihood, RealValued

MAX_QUANTILES = 1_000
"""The most quantiles kept of one column; no more than the training rows read."""
MAX_KEPT_VALUES = 500_000
"""About the most quantiles kept of all columns together (4 MB of float64 for
the training rows', as much for the draws'); each column keeps 2 at least."""
MODEL_DRAWS = 10_000
"""The most rows drawn from the model to find its quantiles."""
MAX_DRAWN_VALUES = 5_000_000
"""About the most values of mapped columns drawn (40 MB of float64); 1,000
rows are drawn at least."""
SORTED_VALUES = 2**22
"""The most values copied and sorted at once (32 MB of float64) where the
columns are sorted together."""


def real_valued_columns(likelihood: Likelihood) -> np.ndarray:
    """Positions, among the modelled columns, of those of a Normal or Laplace family."""
    columns = [
        block
        for block, family in zip(likelihood.columns, likelihood.families, strict=True)
        if isinstance(family, RealValued)
    ]
    return np.sort(np.concatenate(columns)) if columns else np.empty(0, np.intp)


def weighted_quantiles(values, weights, levels: np.ndarray) -> np.ndarray:
    """The quantiles of ``values`` at ``levels``, each value counting by its weight.

    Each sorted value stands at the middle of its share of the total weight
    (Hazen's plotting positions, ``(i + 1/2) / n`` for equal weights), and
    the quantiles between them are interpolated; below the first and above
    the last are the smallest and the largest values.
    """
    if np.all(weights == weights[0]):
        # equal weights: ties in any order give the same quantiles, and a
        # sort takes a tenth of the time of a stable argsort
        values = np.sort(values)
        positions = (np.arange(values.size) + 0.5) / values.size
    else:
        order = np.argsort(values, kind="stable")
        # divided by their mean first, so that weights of 1e308 do not overflow
        values, weights = values[order], relative_to_their_mean(weights[order])
        cumulative = np.cumsum(weights)
        positions = (cumulative - weights / 2) / cumulative[-1]
    return np.interp(levels, positions, values)


@dataclass(frozen=True)
class MarginalMap:
    """The quantile map of each real-valued column, from the model's draws to X's.

    Parameters
    ----------
    columns : ndarray of shape (n_columns,)
        The mapped columns' positions among the modelled columns.
    levels : ndarray of shape (n_levels,)
        The quantile levels, from 0 to 1.
    drawn : ndarray of shape (n_levels, n_columns)
        The model's draws' quantiles at ``levels``.
    training : ndarray of shape (n_levels, n_columns)
        The training rows' quantiles at ``levels``, by their weights, over
        the observed cells.
    """

    columns: np.ndarray
    levels: np.ndarray
    drawn: np.ndarray
    training: np.ndarray

    @classmethod
    def fit(
        cls,
        X,
        weights: np.ndarray,
        columns: np.ndarray,
        draw: Callable[[int, np.ndarray], np.ndarray],
    ) -> MarginalMap | None:
        """The map of ``columns`` of ``X`` (training rows), or None without any.

        ``weights`` are the rows' (positive) weights; ``draw(n, columns)``
        returns those columns of ``n`` rows drawn from the model, as
        ``sample`` draws them before they are mapped: as many rows as ``X``
        has, from 1,000 to ``MODEL_DRAWS`` (fewer, down to 1,000, where more
        than 500 columns are mapped). A column with no observed
        training cell, or no finite draw, is left as drawn.
        """
        X = X.tocsc() if sp.issparse(X) else X
        # no more quantiles than there are training rows to tell apart
        n_levels = max(
            2,
            min(MAX_QUANTILES, MAX_KEPT_VALUES // max(columns.size, 1), X.shape[0]),
        )
        levels = np.linspace(0.0, 1.0, n_levels)
        training = _training_quantiles(X, weights, columns, levels)
        if not training:
            return None
        n_draws = min(MODEL_DRAWS, X.shape[0], MAX_DRAWN_VALUES // len(training))
        trained = np.fromiter(training, dtype=np.intp)
        draws = draw(max(1_000, n_draws), trained)
        # a draw beyond float32 (inf) is left out of the drawn quantiles, as NaN
        draws[~np.isfinite(draws)] = np.nan
        drawn = {  # each column's quantiles among the model's draws
            trained[i]: quantiles
            for i, quantiles in _column_quantiles(
                draws, range(trained.size), levels
            ).items()
        }
        if not drawn:
            return None
        mapped = np.fromiter(drawn, dtype=np.intp)
        return cls(
            mapped,
            levels,
            np.column_stack(list(drawn.values())),
            np.column_stack([training[j] for j in mapped]),
        )

    def apply(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``rows`` (drawn from the model) with the mapped columns mapped, in place.

        A draw equal to several of the model's quantiles (draws of float32
        that tie, for a column whose spread is small beside its mean) takes
        a level drawn uniformly between the lowest and the highest of them
        (``rng``), not the highest, which ``np.interp`` gives: then the
        mapped column follows the training distribution still. Other draws
        take their one level.
        """
        for i, j in enumerate(self.columns):
            drawn, values = self.drawn[:, i], rows[:, j]
            highest = np.interp(values, drawn, self.levels)
            # np.interp of the reversed, negated quantiles: the lowest level
            lowest = np.interp(-values, -drawn[::-1], self.levels[::-1])
            uniform = rng.uniform(size=len(values))
            quantile = lowest + uniform * (highest - lowest)
            rows[:, j] = np.interp(quantile, self.levels, self.training[:, i])
        return rows


MIN_ROWS_PER_CONDITION = 50
"""The fewest training rows of one value of the conditions that get a map."""

SAME_CONDITION_TOLERANCE = 1e-5
"""Encoded conditions this close (the largest difference over their columns)
are one value. A stream's sample of rows and float32 input hold them in
float32, and standardise a numeric condition in float32, while ``sample``
encodes the conditions it is given in float64: the two differ by a few
units of float32's last place (about 1e-7 of a standardised value)."""


@dataclass(frozen=True)
class MapsByCondition:
    """A conditional model's quantile maps, one for each value of its conditions.

    A value of the conditions (their encoded row: a categorical condition's
    level, a boolean, a number) that at least ``MIN_ROWS_PER_CONDITION``
    training rows hold gets its own :class:`MarginalMap`, from those rows and
    from the model's draws under that value: the columns' training
    distributions differ from one value to another, and a map of all the
    rows would give each value the mixture of them. Rows generated under
    other values (a numeric condition's, most often) stay as drawn.

    Parameters
    ----------
    values : ndarray of shape (n_maps, n_encoded)
        The mapped values, as encoded rows.
    maps : tuple of MarginalMap
        Each value's map.
    """

    values: np.ndarray
    maps: tuple

    @classmethod
    def fit(
        cls,
        X,
        encoded: np.ndarray,
        weights: np.ndarray,
        columns: np.ndarray,
        draw_under: Callable[[np.ndarray], Callable[[int, np.ndarray], np.ndarray]],
    ) -> MapsByCondition | None:
        """The maps of the values of ``encoded`` (the rows' encoded conditions).

        ``X``, ``weights`` and ``columns`` are as for :meth:`MarginalMap.fit`;
        ``draw_under(value)`` is its ``draw`` for rows generated under
        ``value``. None where no value gets a map.
        """
        values, of_row, counts = np.unique(
            np.asarray(encoded, dtype=np.float64),
            axis=0,
            return_inverse=True,
            return_counts=True,
        )
        mapped, maps = [], []
        for k in np.flatnonzero(counts >= MIN_ROWS_PER_CONDITION):
            rows = np.flatnonzero(of_row.ravel() == k)
            fitted = MarginalMap.fit(
                X[rows], weights[rows], columns, draw_under(values[k])
            )
            if fitted is not None:
                mapped.append(values[k])
                maps.append(fitted)
        return cls(np.array(mapped), tuple(maps)) if maps else None

    def map_for(self, value: np.ndarray) -> MarginalMap | None:
        """The map of an encoded row of conditions, or None if it has none."""
        distances = np.abs(self.values - value).max(axis=1)
        nearest = int(np.argmin(distances))
        if distances[nearest] > SAME_CONDITION_TOLERANCE:
            return None
        return self.maps[nearest]

    def apply(
        self, rows: np.ndarray, encoded: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """``rows``, generated under ``encoded`` conditions, mapped by their values.

        In place; values in the order of their first row, so that a seeded
        ``rng`` maps the same rows the same way.
        """
        values, first, of_row = np.unique(
            np.asarray(encoded, dtype=np.float64),
            axis=0,
            return_index=True,
            return_inverse=True,
        )
        for k in np.argsort(first):
            fitted = self.map_for(values[k])
            if fitted is not None:
                taken = np.flatnonzero(of_row.ravel() == k)
                rows[taken] = fitted.apply(rows[taken], rng)
        return rows


def _training_quantiles(
    X, weights: np.ndarray, columns: np.ndarray, levels: np.ndarray
) -> dict[int, np.ndarray]:
    """Each of ``columns``' quantiles over its observed training cells, by weight.

    Columns with no observed cell are left out.
    """
    if not sp.issparse(X) and np.all(weights == weights[0]):
        return _column_quantiles(X, columns, levels)
    training = {}
    for j in columns:
        values, value_weights = _observed(X, j, weights)
        if values.size:
            training[j] = weighted_quantiles(values, value_weights, levels)
    return training


def _column_quantiles(
    X: np.ndarray, columns: Iterable[int], levels: np.ndarray
) -> dict[int, np.ndarray]:
    """``weighted_quantiles`` of each of ``columns`` of ``X`` with equal weights.

    NaN is left out, and so are columns with no other value. The columns are
    copied and sorted together, ``SORTED_VALUES`` values or fewer at a time:
    in about half the time of a sort of each column alone.
    """
    columns = np.fromiter(columns, dtype=np.intp)
    step = max(1, SORTED_VALUES // max(X.shape[0], 1))
    quantiles = {}
    for start in range(0, len(columns), step):
        part = columns[start : start + step]
        ordered = X.T[part]  # a contiguous copy of each column
        ordered.sort(axis=1)  # NaN last
        for j, values in zip(part, ordered, strict=True):
            n = int(np.searchsorted(values, np.nan))  # the observed values
            if n:
                positions = (np.arange(n) + 0.5) / n
                quantiles[j] = np.interp(levels, positions, values[:n])
    return quantiles


def _observed(X, j: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column ``j``'s observed values in ``X`` and their weights.

    A sparse ``X`` (by columns) is not densified: its stored values come
    first, then a 0 for each row without one.
    """
    if not sp.issparse(X):
        values = np.asarray(X[:, j], dtype=np.float64)
        kept = ~np.isnan(values)
        return values[kept], weights[kept]
    stored = slice(X.indptr[j], X.indptr[j + 1])
    values = X.data[stored].astype(np.float64)
    rows = X.indices[stored]
    implicit = np.ones(X.shape[0], dtype=bool)
    implicit[rows] = False
    kept = ~np.isnan(values)
    return (
        np.concatenate([values[kept], np.zeros(implicit.sum())]),
        np.concatenate([weights[rows][kept], weights[implicit]]),
    )
