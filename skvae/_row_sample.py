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
"""... and at most about this many stored values (2 MB of float32) ..."""
MIN_ROWS = 200
"""... but this many rows at least, however wide they are."""


@dataclass(frozen=True)
class RowSample:
    """A uniform sample, without replacement, of every row given to it.

    Each row gets a uniform random key as it arrives, and the sample keeps
    the ``capacity`` rows of smallest key (a bottom-k sample): after any
    sequence of chunks, of any sizes, it is a uniform sample of all their
    rows, and each chunk's share of it is its share of the rows. The rows
    are kept as ``_validate_X`` returns them (an array or a CSR matrix), in
    float32, which is what the network reads.

    Parameters
    ----------
    rows : ndarray or sparse matrix
        The sampled rows.
    keys : ndarray of shape (n_rows,)
        Their keys.
    capacity : int
        The most rows kept, set from the first rows' width.
    """

    rows: np.ndarray | sp.csr_matrix
    keys: np.ndarray
    capacity: int

    @classmethod
    def of(cls, X, rng: np.random.Generator) -> RowSample:
        """A sample of the rows of ``X``, sized for rows like them."""
        return cls._smallest(_float32(X), rng.random(X.shape[0]), _capacity(X))

    def add(self, X, rng: np.random.Generator) -> RowSample:
        """The sample of the rows so far and those of ``X`` (a new object)."""
        X = _float32(X)
        if sp.issparse(X) or sp.issparse(self.rows):
            rows = sp.vstack([sp.csr_matrix(self.rows), sp.csr_matrix(X)], "csr")
        else:
            rows = np.concatenate([self.rows, X])
        keys = np.concatenate([self.keys, rng.random(X.shape[0])])
        return self._smallest(rows, keys, self.capacity)

    @property
    def n_rows(self) -> int:
        return len(self.keys)

    @classmethod
    def _smallest(cls, rows, keys: np.ndarray, capacity: int) -> RowSample:
        if len(keys) > capacity:
            kept = np.sort(np.argpartition(keys, capacity - 1)[:capacity])
            rows, keys = _safe_indexing(rows, kept), keys[kept]
        return cls(rows, keys, capacity)


def _float32(X):
    """``X``, an array or a sparse matrix, in float32."""
    return X.astype(np.float32, copy=False)


def _capacity(X) -> int:
    """How many rows like those of ``X`` the sample keeps."""
    n_rows = max(X.shape[0], 1)
    values_per_row = X.nnz / n_rows if sp.issparse(X) else X.shape[1]
    by_values = int(MAX_VALUES // max(values_per_row, 1))
    return max(MIN_ROWS, min(MAX_ROWS, by_values))
