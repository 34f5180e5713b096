"""Devices, and rows of dense or sparse data served to torch in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import _safe_indexing

from ._threads import ThreadPolicy, torch_threads

# The device types skvae trains on.
DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str | torch.device) -> torch.device:
    """The :class:`torch.device` that ``device`` asks for, checked to be usable.

    ``"auto"`` picks CUDA, then Apple's MPS, then the CPU. A CUDA device
    without an index is the current one, by its index: the network, its
    batches and its generators then stay on that GPU even if another is made
    current later.

    Raises
    ------
    ValueError
        If torch does not know the device, if skvae cannot train on its type
        (``"meta"``, ``"xla"``, ...), or if this machine cannot run it.
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return _indexed(torch.device("cuda"))
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device={device!r} is not a device torch knows; use 'auto', 'cpu', "
            f"'cuda', 'cuda:<index>', 'mps' or a torch.device."
        ) from error
    problem = _unavailable_because(resolved)
    if problem:
        raise ValueError(
            f"device={device!r} was requested but {problem}. "
            f"Use device='cpu', or device='auto' to pick the best available device."
        )
    return _indexed(resolved)


def _indexed(device: torch.device) -> torch.device:
    """``device``, a CUDA device given the index of the current one if it has none."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _unavailable_because(device: torch.device) -> str:
    """Why ``device`` cannot be used on this machine, or ``""`` if it can."""
    if device.type not in DEVICE_TYPES:
        return (
            f"skvae trains on the device types {', '.join(DEVICE_TYPES)} only, "
            f"not {device.type!r}"
        )
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available on this machine"
        if device.index is not None and device.index >= torch.cuda.device_count():
            return f"this machine has {torch.cuda.device_count()} CUDA device(s)"
    if device.type == "mps" and not torch.backends.mps.is_available():
        return "MPS is not available on this machine"
    return ""


def device_is_available(device: torch.device) -> bool:
    """Whether this machine can run ``device``."""
    return not _unavailable_because(device)


def has_missing(X) -> bool:
    """Whether ``X``, a dense array or a sparse matrix, has a missing cell."""
    values = X.data if sp.issparse(X) else X
    # One pass that allocates nothing: the minimum is NaN if any value is
    # (a sum could overflow to inf and -inf, whose sum is NaN too).
    return values.size > 0 and bool(np.isnan(values.min()))


class Rows:
    """Rows of a data set, handed out as float32 torch batches on a device.

    Each row carries a weight (``weights``, 1 unless given), used by training.
    """

    device: torch.device
    weights: torch.Tensor
    host_weights: np.ndarray | None

    def _set_weights(self, weights) -> None:
        """Keep ``weights`` relative to their mean, in float64 on the host too.

        A split rescales its rows' float64 weights: in float32 a row of a
        set whose weights span more than float32 holds may weigh 0.
        """
        if weights is None:
            self.host_weights = None
            self.weights = torch.ones(len(self), device=self.device)
            return
        self.host_weights = relative_to_their_mean(weights)
        self.weights = torch.as_tensor(self.host_weights, dtype=torch.float32).to(
            self.device
        )

    def _weights_at(self, index: torch.Tensor) -> np.ndarray | None:
        """The float64 weights of the rows at ``index`` (None: equal), for a split."""
        if self.host_weights is None:
            return None
        return self.host_weights[index.cpu().numpy()]

    def relative_weights(self) -> torch.Tensor:
        """The weights rescaled to average 1.

        A batch's mean of weighted per-row terms is then an unbiased estimate
        of the weighted mean over all rows, whatever the weights' scale; equal
        weights become exactly 1.
        """
        return self.weights / self.weights.mean()

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def has_missing(self) -> bool:
        """Whether a row holds a missing cell (NaN).

        Where none does, the training steps skip their masks for them.
        """
        raise NotImplementedError

    def take(self, index: torch.Tensor) -> torch.Tensor:
        """The rows at positions ``index`` as a float32 tensor on the device.

        Dense rows give a dense tensor; sparse rows as ``SparseRows`` serves them.
        """
        raise NotImplementedError

    def split(self, index: torch.Tensor) -> Rows:
        """The rows at positions ``index``, as rows of the same kind."""
        raise NotImplementedError

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Consecutive batches of rows, in stored order."""
        for index in torch.arange(len(self)).split(batch_size):
            yield self.take(index)

    def weighted_batches(
        self, batch_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Consecutive batches of rows with their weights, in stored order."""
        return zip(
            self.batches(batch_size), self.weights.split(batch_size), strict=True
        )


# Values per block when a dense array on the device is searched for NaN.
_NAN_SCAN_VALUES = 2**22


class DenseRows(Rows):
    """A dense array, copied to the device once as float32 and indexed there."""

    def __init__(self, data: torch.Tensor, weights=None):
        self.data = data
        self.device = data.device
        self._set_weights(weights)

    def __len__(self) -> int:
        return self.data.shape[0]

    @cached_property
    def has_missing(self) -> bool:
        # isnan, not has_missing's minimum: MPS's min() passes over NaN before
        # macOS 15 (pytorch/pytorch#130295), which would read NaN as absent.
        # By blocks of rows, so that the mask is no copy of the whole array.
        n_rows = max(1, _NAN_SCAN_VALUES // max(1, self.data.shape[1]))
        return any(bool(block.isnan().any()) for block in self.data.split(n_rows))

    def take(self, index: torch.Tensor) -> torch.Tensor:
        return self.data[index.to(self.device)]

    def split(self, index: torch.Tensor) -> DenseRows:
        return DenseRows(self.take(index), self._weights_at(index))

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Consecutive batches of rows, as views of the data: nothing is copied."""
        return iter(self.data.split(batch_size))


# Sparse rows of at most this many columns are served as dense batches.
DENSE_BATCH_MAX_COLUMNS = 1000


class SparseRows(Rows):
    """A CSR matrix kept on the host, served a batch at a time; never densified whole.

    Wide rows (more than ``DENSE_BATCH_MAX_COLUMNS`` columns) go out as sparse
    COO batches, which the model consumes directly (the encoder's first layer
    is a sparse-dense product, the likelihood reads only the stored values), so
    a batch costs memory and time in proportion to its stored values. Narrower
    rows go out as dense batches, which cost little: they then take the
    arithmetic of a dense array of the same values, so that the container does
    not change the model (a sparse product rounds differently, and training
    grows such differences).
    """

    def __init__(self, matrix: sp.csr_matrix, device: torch.device, weights=None):
        self.matrix = matrix
        self.device = device
        self._set_weights(weights)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    @cached_property
    def has_missing(self) -> bool:
        return has_missing(self.matrix)

    def take(self, index: torch.Tensor) -> torch.Tensor:
        return _batch_tensor(self.matrix[index.cpu().numpy()], self.device)

    def split(self, index: torch.Tensor) -> SparseRows:
        return SparseRows(
            self.matrix[index.cpu().numpy()], self.device, self._weights_at(index)
        )

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Consecutive batches of rows, sliced from the matrix."""
        for start in range(0, len(self), batch_size):
            yield _batch_tensor(self.matrix[start : start + batch_size], self.device)


def _batch_tensor(matrix: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    """A canonical CSR matrix as a float32 tensor on ``device``.

    Dense if it has at most ``DENSE_BATCH_MAX_COLUMNS`` columns, sparse COO
    otherwise.
    """
    if matrix.shape[1] <= DENSE_BATCH_MAX_COLUMNS:
        return torch.from_numpy(matrix.toarray().astype(np.float32)).to(device)
    batch = matrix.tocoo()
    indices = np.vstack([batch.row, batch.col]).astype(np.int64)
    return torch.sparse_coo_tensor(
        torch.from_numpy(indices),
        torch.from_numpy(batch.data.astype(np.float32)),
        batch.shape,
        is_coalesced=True,  # rows of a canonical CSR matrix come out sorted
        check_invariants=False,
    ).to(device)


def canonical_csr(X) -> sp.csr_matrix:
    """``X`` as a CSR matrix with sorted indices and no duplicates.

    The caller's arrays are never reordered: a matrix that needs it is copied.
    """
    matrix = sp.csr_matrix(X)
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    return matrix


def row_namer(X) -> Callable[[int], str]:
    """How messages name a row of ``X``, given its position.

    The position, and a pandas DataFrame's index label where the two differ:
    "row 5" is ``X.iloc[5]``; in a frame indexed otherwise than ``0, 1, ...``
    (a slice, a filter, an index of names) the message adds ``(index 'bob')``,
    the label ``X.loc`` finds the row by. The index is read only for the row
    named, when a message is written.
    """
    if not (_is_pandas(X) and hasattr(X, "index")):
        return str
    index = X.index

    def name(row: int) -> str:
        label = _plain(index[row])
        if isinstance(label, int) and not isinstance(label, bool) and label == row:
            return str(row)  # X.loc finds the row where X.iloc does
        return f"{row} (index {label!r})"

    return name


def _is_pandas(X) -> bool:
    return type(X).__module__.partition(".")[0] == "pandas"


def _plain(label):
    """An index label as messages show it: NumPy numbers as the values they hold."""
    if isinstance(label, tuple):  # a MultiIndex's
        return tuple(_plain(part) for part in label)
    if isinstance(label, np.number | np.bool_ | np.str_):
        return label.item()
    return label


def rows_of_positive_weight(X, sample_weight: np.ndarray):
    """The rows of ``X`` whose weight is positive, and their weights.

    ``X`` is an array, a DataFrame or a sparse matrix (of any format), and
    comes back as it is when every weight is positive.
    """
    if sample_weight.all():
        return X, sample_weight
    kept = np.flatnonzero(sample_weight)
    rows = _safe_indexing(sp.csr_matrix(X) if sp.issparse(X) else X, kept)
    return rows, sample_weight[kept]


def relative_to_their_mean(weights) -> np.ndarray:
    """Non-negative weights divided by their mean, in float64.

    By their largest first, so that neither float32 (100 weights of 1e37
    sum to infinity there) nor float64 (weights of 1e307) overflows; equal
    weights become exactly 1. Weights that are all 0 stay 0.
    """
    weights = np.asarray(weights, dtype=np.float64)
    largest = weights.max() if weights.size else 0.0
    if largest == 0.0:
        return weights
    weights = weights / largest
    return weights / weights.mean()


def rows_of(X, device: torch.device, weights=None) -> Rows:
    """The rows of a dense array or a sparse matrix, served on ``device``."""
    if sp.issparse(X):
        return SparseRows(canonical_csr(X), device, weights)
    # torch reads no NumPy view of negative strides (X[::-1], np.flip(X))
    values = torch.tensor(np.ascontiguousarray(X), dtype=torch.float32, device=device)
    return DenseRows(values, weights)


def host_batches(X, batch_rows: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Consecutive batches of ``X``'s rows as float32 tensors on ``device``.

    ``X`` stays on the host; one batch at a time goes to the device. Dense
    batches for the CPU are fresh copies, so results do not depend on where
    ``X`` lies in memory; other devices copy them anyway, from ``X`` itself
    where it is float32 already. Sparse batches are served as ``SparseRows``
    serves them.
    """
    if sp.issparse(X):
        yield from SparseRows(canonical_csr(X), device).batches(batch_rows)
        return
    for start in range(0, X.shape[0], batch_rows):
        rows = X[start : start + batch_rows]
        if device.type == "cpu" or not rows.flags.writeable:
            block = np.array(rows, dtype=np.float32, order="C")
        else:
            block = np.ascontiguousarray(rows, dtype=np.float32)
        yield torch.from_numpy(block).to(device)


# Batches of fewer rows are padded with rows of zeros up to this many, so that
# a single row goes through the matrix kernels that a batch does (a one-row
# product takes a kernel that rounds differently). A row's results then agree
# with those it gets in a larger batch to float32 rounding, and mostly to the
# bit.
MIN_BATCH_ROWS = 16


def _padded(batch: torch.Tensor, n_rows: int) -> torch.Tensor:
    """``batch`` with rows of zeros appended up to ``n_rows`` rows."""
    if batch.is_sparse:
        batch = batch.coalesce()
        return torch.sparse_coo_tensor(
            batch.indices(),
            batch.values(),
            (n_rows, *batch.shape[1:]),
            is_coalesced=True,
            check_invariants=False,
        )
    padding = batch.new_zeros((n_rows - len(batch), *batch.shape[1:]))
    return torch.cat([batch, padding])


def map_batches(
    function: Callable[[torch.Tensor], torch.Tensor],
    batches: Iterable[torch.Tensor],
    n_rows: int,
    dtype=np.float64,
    pad: bool = True,
    threads: ThreadPolicy | None = None,
) -> np.ndarray:
    """``function`` of each batch, without gradients, gathered in one NumPy array.

    ``function`` must treat rows independently. Each batch's result moves to
    the host as soon as it is computed, into an array of ``n_rows`` rows
    allocated once. Batches of fewer than ``MIN_BATCH_ROWS`` rows are padded
    with zeros, unless ``pad`` is False. ``threads`` sets torch's thread count
    before each batch, as in training (torch's own count is put back after).
    """
    result = None
    start = 0
    with torch.inference_mode(), torch_threads():
        for batch in batches:
            if threads is not None:
                threads.adjust()
            size = len(batch)
            if pad and size < MIN_BATCH_ROWS:
                batch = _padded(batch, MIN_BATCH_ROWS)
            part = function(batch)[:size].cpu().numpy()
            if result is None:
                result = np.empty((n_rows, *part.shape[1:]), dtype=dtype)
            result[start : start + len(part)] = part
            start += len(part)
    assert result is not None and start == n_rows
    return result


@contextmanager
def seeded_global_rng(seed: int, device: torch.device):
    """Run the block with torch's global generators for ``device`` seeded.

    For code that draws through :mod:`torch.distributions`, which takes no
    generator: the global states of the CPU and of ``device`` are put back
    when the block ends, so the caller's random state is left as it was.
    """
    forked = [] if device.type == "cpu" else [_index(device)]
    device_type = "cuda" if device.type == "cpu" else device.type
    with torch.random.fork_rng(devices=forked, device_type=device_type):
        torch.default_generator.manual_seed(seed)
        if device.type == "cuda":
            torch.cuda.default_generators[_index(device)].manual_seed(seed)
        elif device.type == "mps":
            torch.mps.manual_seed(seed)
        yield


def _index(device: torch.device) -> int:
    if device.type == "cuda" and device.index is None:
        return torch.cuda.current_device()
    return device.index or 0
