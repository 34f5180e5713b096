"""What the families read from the training columns: moments, ranges, domains.

Host-side, on dense arrays or sparse matrices of ``X`` as validation returns
them: the weighted moments that start each family's parameters, each
column's range and whether it holds whole numbers (which ``likelihood='auto'``
reads), and the checks of a family's domain, whose messages name the column
and a value outside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from ._data import canonical_csr
from ._missing import has_missing, missing_cells, zero_filled

_CHECK_ROWS = 2**14  # rows per block when checking the values of dense X
_QUICK_CHECK_VALUES = 2**17  # values per block of _are_counts


def column_means(X, sample_weight=None) -> np.ndarray:
    """Weighted mean of each column of a dense array or sparse matrix.

    Missing cells (NaN) are left out: each column's mean over its observed
    cells.
    """
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0])
    weights = np.asarray(sample_weight, dtype=np.float64) / np.sum(sample_weight)
    if sp.issparse(X):
        if not has_missing(X):
            return np.asarray(weights @ X, dtype=np.float64).ravel()
        totals = np.asarray(weights @ zero_filled(X), dtype=np.float64).ravel()
        missing = np.asarray(weights @ missing_cells(X), dtype=np.float64).ravel()
        return totals / (1.0 - missing)
    # Not ``weights @ X``: NumPy would hand that to a multi-threaded BLAS whose
    # threads then spin for a while after the call, taking cores from training.
    observed = ~np.isnan(X)
    if observed.all():
        return np.einsum("i,ij->j", weights, X)
    totals = np.einsum("i,ij->j", weights, np.where(observed, X, 0.0))
    return totals / np.einsum("i,ij->j", weights, observed)


def column_variances(X, mean: np.ndarray, sample_weight=None) -> np.ndarray:
    """Weighted variance of each column's observed cells about its ``mean``.

    Summed from the deviations themselves, not as ``E[x**2] - mean**2``, whose
    rounding leaves a constant column of 3.0 a standard deviation of about
    1e-7 instead of 0. A sparse matrix is read through its stored values: its
    implicit zeros each deviate by the mean.
    """
    if not sp.issparse(X):
        return column_means(np.square(X - mean), sample_weight)
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0])
    weights = np.asarray(sample_weight, dtype=np.float64) / np.sum(sample_weight)
    rows = sp.csr_matrix(X)
    stored_weights = np.repeat(weights, np.diff(rows.indptr))
    missing = np.isnan(rows.data)
    n_columns = X.shape[1]

    def weighed(cells, values=None):
        """The weights of ``cells`` (times ``values``), added up by column."""
        terms = (
            stored_weights[cells] if values is None else stored_weights[cells] * values
        )
        return np.bincount(rows.indices[cells], terms, minlength=n_columns)

    observed = ~missing
    deviations = np.square(rows.data[observed] - mean[rows.indices[observed]])
    observed_weight = 1.0 - weighed(missing)
    # The weight of each column's implicit zeros: exactly 0 for a column without
    # any, where the difference would leave rounding (times mean**2) behind.
    has_zeros = np.bincount(rows.indices, minlength=n_columns) < X.shape[0]
    implicit_zeros = np.where(
        has_zeros, np.maximum(observed_weight - weighed(observed), 0.0), 0.0
    )
    return (weighed(observed, deviations) + np.square(mean) * implicit_zeros) / (
        observed_weight
    )


# The smallest standard deviation a column is scaled by: float32 holds its
# square (``likelihood='gaussian_fixed'`` divides by it).
_SMALLEST_SCALE = float(np.sqrt(np.finfo(np.float32).tiny))


def _column_moments(X, sample_weight=None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of each column (1 where constant).

    A column is constant when its spread is rounding next to its own mean,
    as scikit-learn's ``StandardScaler`` judges, whatever its units: a column
    of values near 1e-9 that vary is standardised like any other. So is a
    column of rounding noise about 0, as by ``StandardScaler``. A spread
    whose square float32 cannot hold (below about 1e-19) counts as none.
    """
    mean = column_means(X, sample_weight)
    std = np.sqrt(column_variances(X, mean, sample_weight))
    constant = (std <= 1e-8 * np.abs(mean)) | (std < _SMALLEST_SCALE)
    std[constant] = 1.0
    return mean, std


def _smoothed_means(X, sample_weight=None) -> np.ndarray:
    """Each column's mean, pulled away from 0 by half a count."""
    n = X.shape[0]
    return (column_means(X, sample_weight) * n + 0.5) / (n + 1)


def _log_odds_of_means(X, sample_weight=None) -> np.ndarray:
    mean = _smoothed_means(X, sample_weight)
    return np.log(mean) - np.log1p(-mean)


def _log_means(X, sample_weight=None) -> np.ndarray:
    return np.log(_smoothed_means(X, sample_weight))


def _column_ranges(X) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest value of each column, implicit zeros included.

    Missing cells (NaN) are left out; a column with none observed gives NaN.
    """
    if not sp.issparse(X):
        return np.fmin.reduce(X, axis=0), np.fmax.reduce(X, axis=0)
    X = canonical_csr(X)
    low = np.full(X.shape[1], np.inf)
    high = np.full(X.shape[1], -np.inf)
    np.fmin.at(low, X.indices, X.data)  # fmin and fmax pass over NaN
    np.fmax.at(high, X.indices, X.data)
    has_zeros = np.bincount(X.indices, minlength=X.shape[1]) < X.shape[0]
    low[has_zeros] = np.minimum(low[has_zeros], 0.0)
    high[has_zeros] = np.maximum(high[has_zeros], 0.0)
    unobserved = low > high  # every cell a stored NaN
    low[unobserved] = high[unobserved] = np.nan
    return low, high


def _fractional_columns(X) -> np.ndarray:
    """Whether each column holds a value that is not a whole number."""
    if sp.issparse(X):
        X = canonical_csr(X)
        fractional = np.zeros(X.shape[1], dtype=bool)
        whole = (X.data == np.round(X.data)) | np.isnan(X.data)
        fractional[X.indices[~whole]] = True
        return fractional
    # A block of rows at a time: rounding makes a copy of what it rounds.
    fractional = np.zeros(X.shape[1], dtype=bool)
    for start in range(0, X.shape[0], _CHECK_ROWS):
        block = X[start : start + _CHECK_ROWS]
        fractional |= np.any((block != np.round(block)) & (block == block), axis=0)
    return fractional


def _column_error(
    family: str, problem: str, column, low, high, first: str, advice=""
) -> str:
    # repr, not a rounded format: a value of 1 + 2e-16 must not read as 1.
    return (
        f"likelihood={family!r} needs {problem}, but column {column!r} of X has "
        f"values in [{float(low)!r}, {float(high)!r}], such as {first}.{advice}"
    )


def _first_stored(X, j: int, wrong, row_name: Callable[[int], str]) -> str:
    """The first value of column ``j`` of ``X`` that ``wrong`` marks, and its row.

    ``wrong`` maps an array of values to booleans, and marks no 0: a sparse
    matrix's stored values alone are read.
    """
    if sp.issparse(X):
        column = sp.csc_matrix(X[:, [j]])
        column.sum_duplicates()
        rows, values = column.indices, column.data
    else:
        values = X[:, j]
        rows = np.arange(len(values))
    first = np.flatnonzero(wrong(values))[0]
    return f"{float(values[first])!r} in row {row_name(int(rows[first]))}"


def _check_real(
    family: str, X, names: Sequence, row_name: Callable[[int], str] = str
) -> None:
    """Any value will do: NaN is a missing cell; infinities are refused first."""


def _check_unit_interval(
    family: str, X, names: Sequence, row_name: Callable[[int], str] = str
) -> None:
    low, high = _column_ranges(X)
    bad = np.flatnonzero((low < 0.0) | (high > 1.0))
    if bad.size:
        j = bad[0]
        first = _first_stored(X, j, lambda v: (v < 0.0) | (v > 1.0), row_name)
        advice = (
            " Scale X to [0, 1] (for example with MinMaxScaler(clip=True), which "
            "also removes rounding errors beyond 1) or use "
            "likelihood='gaussian'."
        )
        raise ValueError(
            _column_error(
                family, "values in [0, 1]", names[j], low[j], high[j], first, advice
            )
        )


def _are_counts(values: np.ndarray) -> bool:
    """Whether every value (NaN aside) is a whole number at least 0.

    A quick pass that only says yes: the checks per column name what is
    wrong. Given a sparse matrix's stored values, any that are not counts
    send it to those checks, which sum duplicate entries first. Blocks of
    ``_QUICK_CHECK_VALUES`` values, rounded into one buffer, stay in the
    CPU's cache.
    """
    if not values.size:
        return True
    if not np.fmin.reduce(values, axis=None) >= 0.0:  # NaN: nothing observed
        return False
    values = values.reshape(len(values), -1)
    rows = max(1, _QUICK_CHECK_VALUES // values.shape[1])
    rounded = np.empty((rows, values.shape[1]), dtype=values.dtype)
    whole = np.empty(rounded.shape, dtype=bool)
    for start in range(0, len(values), rows):
        block = values[start : start + rows]
        n = len(block)
        np.equal(block, np.round(block, out=rounded[:n]), out=whole[:n])
        if whole[:n].all():
            continue
        if np.count_nonzero(~whole[:n]) != np.count_nonzero(np.isnan(block)):
            return False
    return True


def _check_counts(
    family: str, X, names: Sequence, row_name: Callable[[int], str] = str
) -> None:
    if _are_counts(X.data if sp.issparse(X) else X):
        return
    low, high = _column_ranges(X)
    bad = np.flatnonzero(low < 0.0)
    if bad.size:
        j = bad[0]
        first = _first_stored(X, j, lambda values: values < 0.0, row_name)
        raise ValueError(
            _column_error(
                family, "non-negative counts", names[j], low[j], high[j], first
            )
        )
    bad = np.flatnonzero(_fractional_columns(X))
    if bad.size:
        j = bad[0]
        first = _first_stored(
            X,
            j,
            lambda values: (values != np.round(values)) & ~np.isnan(values),
            row_name,
        )
        raise ValueError(
            f"likelihood={family!r} needs integer counts, but column {names[j]!r} "
            f"of X has values such as {first}. Pass the counts themselves "
            "(CountVectorizer's output rather than TfidfVectorizer's, say), or "
            "use likelihood='gaussian' for real values."
        )
