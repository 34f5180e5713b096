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

from ._data import relative_to_their_mean

MAX_ROWS = 2_000
"""At most this many rows: enough for a quantile or a mixture, and cheap to score."""
MAX_VALUES = 500_000
"""... and about this many stored values at most (2 MB of float32), one row at least."""


@dataclass(frozen=True)
class RowSample:
    """A uniform sample, without replacement, of every row given to it.

    Each row gets a uniform random key as it arrives, and the sample holds
    exactly the rows whose key is below ``threshold``, which starts at 1 and
    only falls: when those rows are more than the sample keeps, the rows of
    largest key go, and the smallest key that went becomes the threshold.
    After any sequence of chunks, of any sizes and widths, the sample is a
    uniform sample of all their rows, and each chunk's share of it is its
    share of the rows. It keeps ``max_rows`` rows, or fewer where their
    stored values (all of a dense row's, a sparse row's stored entries) would pass
    ``MAX_VALUES``; a sample that shrank for heavy rows does not grow back.
    The rows are kept as ``_validate_X`` returns them (an array or a CSR
    matrix), in float32, which is what the network reads, each with its
    weight.

    Parameters
    ----------
    rows : ndarray or sparse matrix
        The sampled rows.
    keys : ndarray of shape (n_rows,)
        Their keys.
    weights : ndarray of shape (n_rows,)
        Their weights, each divided by the mean weight of its chunk, as
        training divides them.
    max_rows : int, default=MAX_ROWS
        The most rows kept.
    threshold : float, default=1.0
        Every row given whose key is below it is in the sample.
    """

    rows: np.ndarray | sp.csr_matrix
    keys: np.ndarray
    weights: np.ndarray
    max_rows: int = MAX_ROWS
    threshold: float = 1.0

    @classmethod
    def of(
        cls, X, rng: np.random.Generator, weights=None, max_rows: int = MAX_ROWS
    ) -> RowSample:
        """A sample of the rows of ``X``, of positive ``weights`` (None: equal)."""
        empty = cls(X[:0].astype(np.float32), np.empty(0), np.empty(0), max_rows)
        return empty.add(X, rng, weights)

    def add(self, X, rng: np.random.Generator, weights=None) -> RowSample:
        """The sample of the rows so far and those of ``X`` (a new object).

        Only the rows of ``X`` that can enter the sample are copied: those of
        key below the threshold, and of them no more than the sample keeps of
        rows as wide, however many rows ``X`` has. ``weights``, the rows'
        positive weights (None: equal), are kept divided by their mean.
        """
        weights = relative_to_their_mean(
            np.ones(X.shape[0]) if weights is None else weights
        )
        keys = rng.random(X.shape[0])
        below = np.flatnonzero(keys < self.threshold)
        room = self.max_rows if sp.issparse(X) else self._rows_of_width(X.shape[1])
        order = below[np.argsort(keys[below], kind="stable")]
        threshold = self.threshold
        if len(order) > room:  # the rest could not stay
            threshold = float(keys[order[room]])
            order = order[:room]
        candidates = np.sort(order)
        X = _safe_indexing(X, candidates).astype(np.float32, copy=False)
        if sp.issparse(X) or sp.issparse(self.rows):
            rows = sp.vstack([sp.csr_matrix(self.rows), sp.csr_matrix(X)], "csr")
        else:
            rows = np.concatenate([self.rows, X])
        keys = np.concatenate([self.keys, keys[candidates]])
        weights = np.concatenate([self.weights, weights[candidates]])
        return RowSample(rows, keys, weights, self.max_rows, threshold)._trimmed()

    def __setstate__(self, state: dict) -> None:
        # a sample pickled before it kept weights held rows of equal weight
        state.setdefault("weights", np.ones(len(state["keys"])))
        self.__dict__.update(state)

    @property
    def n_rows(self) -> int:
        return len(self.keys)

    def _rows_of_width(self, width: int) -> int:
        """How many dense rows of ``width`` values the sample keeps."""
        return max(1, min(self.max_rows, MAX_VALUES // max(width, 1)))

    def _trimmed(self) -> RowSample:
        """The rows below the threshold, then within the bounds by smallest key."""
        below = np.flatnonzero(self.keys < self.threshold)
        order = below[np.argsort(self.keys[below], kind="stable")]
        rows = self.rows
        if isinstance(rows, sp.csr_matrix | sp.csr_array):
            values = np.cumsum(np.diff(rows.indptr)[order])
            within = int(np.searchsorted(values, MAX_VALUES, "right"))
            keep = max(1, min(self.max_rows, within))
        else:
            keep = self._rows_of_width(rows.shape[1])
        threshold = self.threshold
        if len(order) > keep:
            threshold = float(self.keys[order[keep]])
            order = order[:keep]
        if len(order) == len(self.keys):
            return RowSample(
                self.rows, self.keys, self.weights, self.max_rows, threshold
            )
        kept = np.sort(order)
        return RowSample(
            _safe_indexing(rows, kept),
            self.keys[kept],
            self.weights[kept],
            self.max_rows,
            threshold,
        )
