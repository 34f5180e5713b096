"""Missing cells of dense arrays and sparse matrices, on the host.

A missing cell is NaN. In a sparse matrix it is a stored NaN; an entry that is
not stored is a zero, and observed. The helpers here give dense and sparse
``X`` the same meaning, so that the same values give the same model whatever
their container.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

from ._data import canonical_csr, has_missing


def missing_cells(X):
    """Where ``X`` is missing: a boolean array, or a CSR matrix of its stored NaN."""
    if not sp.issparse(X):
        return np.isnan(X)
    X = canonical_csr(X)
    nan, rows = stored_nan(X)
    return sp.csr_matrix(
        (np.ones(len(nan), dtype=bool), (rows, X.indices[nan])), shape=X.shape
    )


def stored_nan(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Where a canonical CSR matrix stores NaN: positions in ``X.data``, and rows.

    Both come in order of rows.
    """
    nan = np.flatnonzero(np.isnan(X.data))
    return nan, np.searchsorted(X.indptr, nan, side="right") - 1


def zero_filled(X):
    """``X`` with its missing cells at 0; ``X`` itself if it has none."""
    if not has_missing(X):
        return X
    if not sp.issparse(X):
        return np.where(np.isnan(X), 0.0, X)
    X = canonical_csr(X).copy()
    X.data[np.isnan(X.data)] = 0.0
    return X


def filled_with(X, column_values: np.ndarray):
    """``X`` with each missing cell at its column's entry of ``column_values``.

    Sparse ``X`` stays sparse: only its stored NaN change.
    """
    if not has_missing(X):
        return X
    if not sp.issparse(X):
        return np.where(np.isnan(X), column_values, X)
    X = canonical_csr(X).copy()
    missing = np.isnan(X.data)
    X.data[missing] = column_values[X.indices[missing]]
    return X


def count_true(mask, axis: int) -> np.ndarray:
    """The number of True cells of a dense or sparse boolean mask along ``axis``."""
    return np.asarray(mask.sum(axis=axis)).ravel()


def rows_with_nothing_observed(X) -> np.ndarray:
    """Positions of the rows of ``X`` with no observed cell (all NaN)."""
    if not has_missing(X):
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(count_true(missing_cells(X), axis=1) == X.shape[1])


def check_missing_cells(
    X,
    empty: np.ndarray | None = None,
    remedy: str = "Drop them",
    missing: str = "NaN",
    conditional: bool = False,
    row_name: Callable[[int], str] = str,
) -> None:
    """Refuse rows of ``X`` with no observed cell, or those of ``empty`` if given.

    Without ``empty``, skipped under ``assume_finite=True``, as scikit-learn's
    scan for NaN is. ``remedy`` is what the message tells the user to do;
    ``missing`` what made the cells missing. ``X`` of a ``conditional`` model
    holds its modelled columns alone, and the message says so. ``row_name``
    names a row of the caller's ``X`` (see :func:`row_namer`).
    """
    if empty is None:
        if get_config()["assume_finite"]:
            return
        empty = rows_with_nothing_observed(X)
    if empty.size:
        cell, missing = (
            ("modelled cell", f"{missing}; its conditions are read, not modelled")
            if conditional
            else ("cell", missing)
        )
        raise ValueError(
            f"Row {row_name(empty[0])} of X has no observed {cell} (all {missing}); "
            f"{empty.size} row(s) are like it. {remedy}: a model has nothing "
            "to read in them."
        )


# The largest magnitude the network's float32 arithmetic holds.
FLOAT32_LIMIT = float(np.finfo(np.float32).max)


def first_cell_beyond_float32(X) -> tuple[int, int, float] | None:
    """Row, column and value of the first cell float32 cannot hold, or None.

    ``inf`` or a finite value beyond float32's range (about 3.4e38), which
    would become one in the network; NaN, a missing cell, is not such a cell.
    None too under ``assume_finite=True``, where scikit-learn skips its scan.
    """
    if get_config()["assume_finite"]:
        return None
    values = X.data if sp.issparse(X) else X
    if values.size == 0:
        return None
    if values.dtype == np.float32:  # a finite float32 fits, by definition
        if not np.isinf(values).any():
            return None
    else:  # two passes that allocate nothing and skip NaN
        low, high = np.fmin.reduce(values, axis=None), np.fmax.reduce(values, axis=None)
        if (-FLOAT32_LIMIT <= low and high <= FLOAT32_LIMIT) or np.isnan(high):
            return None  # every value fits, or every value is missing
    if sp.issparse(X):
        cells = sp.coo_matrix(X)
        beyond = np.abs(cells.data) > FLOAT32_LIMIT
        rows, columns = cells.row[beyond], cells.col[beyond]
        first = np.lexsort((columns, rows))[0]
        return rows[first], columns[first], cells.data[beyond][first]
    row, column = np.argwhere(np.abs(X) > FLOAT32_LIMIT)[0]
    return row, column, X[row, column]


def refuse_cells_beyond_float32(
    X, names: Sequence, row_name: Callable[[int], str] = str
) -> None:
    """Refuse ``inf``, and values float32 cannot hold, naming the first cell.

    NaN is a missing cell; an infinite value is neither a value nor missing.
    See :func:`first_cell_beyond_float32`; ``row_name`` as for
    :func:`check_missing_cells`.
    """
    cell = first_cell_beyond_float32(X)
    if cell is None:
        return
    row, column, value = cell
    where = f"Column {names[column]!r} of X holds"
    if np.isinf(value):
        raise ValueError(
            f"{where} {value} in row {row_name(row)}: infinite values cannot be "
            "modelled. Mark a missing cell as NaN."
        )
    raise ValueError(
        f"{where} {value:g} in row {row_name(row)}, beyond the "
        f"float32 range the network computes in (±{FLOAT32_LIMIT:.1e}). "
        "Rescale the column."
    )


FLOAT32_STEPS_PER_SPREAD = 100
"""Fewer float32 steps than this across a column's standard deviation, at its
largest values, and the network sees its variation only coarsely."""


FLOAT32_CHECK_ROWS = 10_000
"""The check reads a strided subsample of about this many rows: the spread it
compares with float32's steps needs no more, and fit pays nothing more for
a large table."""


def refuse_values_far_from_their_mean(
    X, names: Sequence, sample_weight: np.ndarray
) -> None:
    """Refuse a column with a value farther from the column's mean than float32 holds.

    A real-valued family standardises each value by its column's (weighted)
    mean in float32: ``3.3e38`` and ``-3.3e38`` beside a mean of ``2.5e37``
    would be ``-inf`` there, and training would diverge without naming the
    column. ``X`` is dense (a sparse matrix is not read); only the rows of
    positive weight count. Columns whose range spans less than float32's
    largest value are not read further.
    """
    if sp.issparse(X) or not X.size:
        return
    rows = sample_weight > 0
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        # every row's range first, without copying X: it holds the range of
        # the rows of positive weight, which only wide ones are read for
        spans = np.fmax.reduce(X, axis=0).astype(np.float64) - np.fmin.reduce(X, axis=0)
        for j in np.flatnonzero(spans > FLOAT32_LIMIT):
            column = X[rows, j].astype(np.float64)
            observed = ~np.isnan(column)
            values, weights = column[observed], sample_weight[rows][observed]
            if not values.size:
                continue
            low, high = values.min(), values.max()
            mean = np.average(values, weights=weights)
            if max(high - mean, mean - low) > FLOAT32_LIMIT:
                raise ValueError(
                    f"Column {names[int(j)]!r} of X has values from {low:.3g} to "
                    f"{high:.3g}, farther from their mean ({mean:.3g}) than "
                    f"float32, in which the network standardises them, holds "
                    f"(±{FLOAT32_LIMIT:.1e}). Rescale the column (divide it by "
                    "1e10, say)."
                )


def columns_finer_than_float32(
    X, names: Sequence, sample_weight: np.ndarray
) -> str | None:
    """A description of the first column whose spread float32 blurs, or None.

    The network computes in float32, whose steps at 1e12 are 65,536 apart: a
    column of values near 1e12 that vary by 300 reaches it as a constant.
    ``X`` is dense; its (weighted) standard deviations and largest
    magnitudes are those of the observed cells of rows of positive weight,
    among every ``len(X) // FLOAT32_CHECK_ROWS``-th row.
    """
    if sp.issparse(X):
        return None
    every = slice(None, None, max(1, X.shape[0] // FLOAT32_CHECK_ROWS))
    weights = sample_weight[every]
    X, weights = X[every][weights > 0], weights[weights > 0]
    if X.shape[0] < 2:
        return None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        # by weight, as training reads the rows: a few far rows of tiny
        # weight do not hide a column's own spread
        cell_weights = np.where(np.isnan(X), 0.0, weights[:, None])
        totals = cell_weights.sum(0)
        mean = np.nansum(cell_weights * X, axis=0) / totals
        spread = np.sqrt(np.nansum(cell_weights * (X - mean) ** 2, axis=0) / totals)
        magnitude = np.fmax(np.abs(np.nanmin(X, axis=0)), np.abs(np.nanmax(X, axis=0)))
    step = np.spacing(np.nan_to_num(magnitude).astype(np.float32)).astype(np.float64)
    # a spread of float64's rounding errors (0.1 + 0.2 beside 0.3) is none
    varies = spread > 64 * np.finfo(np.float64).eps * np.abs(mean)
    blurred = np.flatnonzero(varies & (step * FLOAT32_STEPS_PER_SPREAD > spread))
    if not blurred.size:
        return None
    j = blurred[0]
    return (
        f"Column {names[j]!r} of X varies by {spread[j]:.3g} (its standard "
        f"deviation) at values up to {magnitude[j]:.3g}, where float32, in which "
        f"the network computes, holds steps of {step[j]:.3g}: the model sees its "
        "variation coarsely or not at all. Subtract a reference value (its "
        "minimum, say) from the column first."
    )


def refuse_overflowed_rows(
    overflowed: np.ndarray,
    row_numbers,
    outcome: str,
    row_name: Callable[[int], str] = str,
) -> None:
    """Raise a ``ValueError`` naming the first row the network overflowed on.

    Only a row so far outside the training data that the network's float32
    arithmetic overflows on it (cells near float32's limit) gives a result
    that is not finite. ``overflowed`` marks such rows among those computed,
    ``row_numbers`` are their numbers in ``X``, and ``outcome`` says what the
    overflow costs the row; ``row_name`` as for :func:`check_missing_cells`.
    """
    rows = np.flatnonzero(overflowed)
    if rows.size:
        raise ValueError(
            f"Row {row_name(row_numbers[rows[0]])} of X lies so far outside the "
            "training data that the network's float32 arithmetic overflows on it: "
            f"{outcome}. Check its cells for placeholder values near float32's "
            "limit (about 3.4e38), and mark them missing."
        )


def refuse_empty_columns(X, names: Sequence, sample_weight: np.ndarray) -> None:
    """Refuse training columns with no observed cell of positive weight."""
    if not has_missing(X):
        return
    weighed = sample_weight > 0
    missing_where_weighed = count_true(missing_cells(X)[weighed], axis=0)
    empty = np.flatnonzero(missing_where_weighed == np.count_nonzero(weighed))
    if empty.size:
        raise ValueError(
            f"Column {names[empty[0]]!r} of X has no observed cell (all NaN, or "
            "of sample weight 0): there is nothing to learn it from. Drop the "
            "column."
        )


def first_column_with_missing(X) -> int | None:
    """The position of ``X``'s first column with a missing cell, if any."""
    if not has_missing(X):
        return None
    return int(np.flatnonzero(count_true(missing_cells(X), axis=0))[0])


class MissingPatterns:
    """The patterns of missing cells among training rows, weighed by ``sample_weight``.

    A row's pattern says which of its cells are missing. Each pattern met is
    kept once, as bits, with the total weight of its rows; rows with every
    cell observed are counted, not kept. ``add`` counts more rows
    (``partial_fit``); ``draw`` gives generated rows patterns at their
    training frequencies, so that cells missing together in training stay
    missing together.
    """

    def __init__(self, n_features: int):
        self.n_features = n_features
        self.bits = np.zeros((0, -(-n_features // 8)), dtype=np.uint8)
        self.weights: np.ndarray = np.zeros(0)
        self.total_weight = 0.0

    def add(self, X, sample_weight: np.ndarray) -> None:
        """Count the rows of ``X``, a dense array or a sparse matrix."""
        self.total_weight += float(np.sum(sample_weight))
        if not has_missing(X):
            return
        mask = missing_cells(X)
        holed = np.flatnonzero(count_true(mask, axis=1))
        # patterns in chunks within working_memory: sparse masks are densified
        for chunk in gen_batches(len(holed), get_chunk_n_rows(self.n_features)):
            rows = holed[chunk]
            dense = mask[rows].toarray() if sp.issparse(mask) else mask[rows]
            self._merge(np.packbits(dense, axis=1), sample_weight[rows])

    def _merge(self, bits: np.ndarray, weights: np.ndarray) -> None:
        self.bits, inverse = np.unique(
            np.concatenate([self.bits, bits]), axis=0, return_inverse=True
        )
        self.weights = np.bincount(
            inverse.ravel(),
            weights=np.concatenate([self.weights, weights]),
            minlength=len(self.bits),
        )

    def patterns(self) -> np.ndarray:
        """The patterns kept, as a boolean array of one row each."""
        unpacked = np.unpackbits(self.bits, axis=1, count=self.n_features)
        return unpacked.astype(bool)

    def draw(self, n_rows: int, rng: np.random.Generator) -> np.ndarray:
        """Missing cells of ``n_rows`` rows, each the pattern of a training row.

        Returns a boolean array of shape ``(n_rows, n_features)``.
        """
        complete = max(self.total_weight - self.weights.sum(), 0.0)
        shares = np.append(self.weights, complete)
        chosen = rng.choice(len(shares), size=n_rows, p=shares / shares.sum())
        patterns = np.vstack([self.patterns(), np.zeros(self.n_features, bool)])
        return patterns[chosen]
