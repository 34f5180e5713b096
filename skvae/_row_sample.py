"""A bounded, uniform sample of the rows a streamed model has trained on.

``partial_fit`` sees one chunk at a time, but the latent prior's mixture and
the outlier detector's threshold describe every row trained on: fitted to the
last chunk alone, a one-row remainder at the end of a stream would make the
prior a point and flag almost every row as an outlier. A model therefore keeps
a uniform sample of its training rows, of bounded size, and fits both to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils import _safe_indexing

MAX_ROWS = 2_000
"""At most this many rows: enough for a quantile or a mixture, and cheap to score."""
MAX_VALUES = 500_000
"""... and about this many stored values at most (2 MB of float32), one row at least."""


@dataclass(frozen=True)
class RowSample:
    """A uniform sample, without replacement, of every row given to it.

    Each row gets a uniform random key as it arrives, and the sample keeps
    the rows of smallest key (a bottom-k sample): after any sequence of
    chunks, of any sizes, it is a uniform sample of all their rows, and each
    chunk's share of it is its share of the rows. It keeps ``max_rows``
    rows, or fewer where their stored values (all of a dense row's, a
    sparse row's nonzeros, on average) would pass ``MAX_VALUES``. The rows
    are kept as ``_validate_X`` returns them (an array or a CSR matrix), in
    float32, which is what the network reads.

    Parameters
    ----------
    rows : ndarray or sparse matrix
        The sampled rows.
    keys : ndarray of shape (n_rows,)
        Their keys.
    max_rows : int, default=MAX_ROWS
        The most rows kept.
    """

    rows: np.ndarray | sp.csr_matrix
    keys: np.ndarray
    max_rows: int = MAX_ROWS

    @classmethod
    def of(cls, X, rng: np.random.Generator, max_rows: int = MAX_ROWS) -> RowSample:
        """A sample of the rows of ``X``."""
        return cls(X[:0], np.empty(0), max_rows).add(X, rng)

    def add(self, X, rng: np.random.Generator) -> RowSample:
        """The sample of the rows so far and those of ``X`` (a new object).

        Only the ``max_rows`` rows of ``X`` of smallest key, the most that can
        enter the sample, are copied, however many rows ``X`` has.
        """
        new_keys = rng.random(X.shape[0])
        candidates = _smallest(new_keys, self.max_rows)
        X, new_keys = _safe_indexing(X, candidates), new_keys[candidates]
        if sp.issparse(X) or sp.issparse(self.rows):
            rows = sp.vstack([sp.csr_matrix(self.rows), sp.csr_matrix(X)], "csr")
        else:
            rows = np.concatenate([self.rows, X])
        keys = np.concatenate([self.keys, new_keys])
        kept = _smallest(keys, self._capacity(rows))
        rows, keys = _safe_indexing(rows, kept), keys[kept]
        return RowSample(rows.astype(np.float32, copy=False), keys, self.max_rows)

    @property
    def n_rows(self) -> int:
        return len(self.keys)

    def _capacity(self, rows) -> int:
        """How many rows like ``rows`` the sample keeps."""
        n_rows = max(rows.shape[0], 1)
        values_per_row = rows.nnz / n_rows if sp.issparse(rows) else rows.shape[1]
        return max(1, min(self.max_rows, int(MAX_VALUES // max(values_per_row, 1))))


def _smallest(keys: np.ndarray, count: int) -> np.ndarray:
    """The positions of the ``count`` smallest ``keys``, in order of position."""
    if len(keys) <= count:
        return np.arange(len(keys))
    return np.sort(np.argpartition(keys, count - 1)[:count])
