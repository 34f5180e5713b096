"""Devices, and rows of dense or sparse data served to torch in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """The :class:`torch.device` that ``device`` asks for, checked to be usable.

    ``"auto"`` picks CUDA, then Apple's MPS, then the CPU.

    Raises
    ------
    ValueError
        If torch does not know the device, or this machine cannot run it.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
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
    return resolved


def _unavailable_because(device: torch.device) -> str:
    """Why ``device`` cannot be used on this machine, or ``""`` if it can."""
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


class Rows:
    """Rows of a data set, handed out as float32 torch batches on a device.

    Each row carries a weight (``weights``, 1 unless given), used by training.
    """

    device: torch.device
    weights: torch.Tensor

    def _set_weights(self, weights) -> None:
        if weights is None:
            weights = torch.ones(len(self))
        self.weights = torch.as_tensor(weights, dtype=torch.float32).to(self.device)

    def relative_weights(self) -> torch.Tensor:
        """The weights rescaled to average 1.

        A batch's mean of weighted per-row terms is then an unbiased estimate
        of the weighted mean over all rows, whatever the weights' scale; equal
        weights become exactly 1.
        """
        return self.weights / self.weights.mean()

    def __len__(self) -> int:
        raise NotImplementedError

    def take(self, index: torch.Tensor) -> torch.Tensor:
        """The rows at positions ``index`` as a float32 tensor on the device.

        Dense rows give a dense tensor, sparse rows a sparse COO tensor.
        """
        raise NotImplementedError

    def split(self, index: torch.Tensor) -> Rows:
        """The rows at positions ``index``, as rows of the same kind."""
        raise NotImplementedError

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Consecutive batches of rows, in stored order."""
        for index in torch.arange(len(self)).split(batch_size):
            yield self.take(index)


class DenseRows(Rows):
    """A dense array, copied to the device once as float32 and indexed there."""

    def __init__(self, data: torch.Tensor, weights=None):
        self.data = data
        self.device = data.device
        self._set_weights(weights)

    def __len__(self) -> int:
        return self.data.shape[0]

    def take(self, index: torch.Tensor) -> torch.Tensor:
        return self.data[index.to(self.device)]

    def split(self, index: torch.Tensor) -> DenseRows:
        return DenseRows(self.take(index), self.weights[index.to(self.device)])

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Consecutive batches of rows, as views of the data: nothing is copied."""
        return iter(self.data.split(batch_size))


class SparseRows(Rows):
    """A CSR matrix kept on the host, served as sparse COO batches: never densified.

    The model consumes sparse batches directly (the encoder's first layer is a
    sparse-dense product, the likelihood reads only the stored values), so a
    batch costs memory and time in proportion to its stored values.
    """

    def __init__(self, matrix: sp.csr_matrix, device: torch.device, weights=None):
        self.matrix = matrix
        self.device = device
        self._set_weights(weights)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def take(self, index: torch.Tensor) -> torch.Tensor:
        batch = self.matrix[index.cpu().numpy()].tocoo()
        indices = np.vstack([batch.row, batch.col]).astype(np.int64)
        return torch.sparse_coo_tensor(
            torch.from_numpy(indices),
            torch.from_numpy(batch.data.astype(np.float32)),
            batch.shape,
            is_coalesced=True,  # rows of a canonical CSR matrix come out sorted
            check_invariants=False,
        ).to(self.device)

    def split(self, index: torch.Tensor) -> SparseRows:
        return SparseRows(
            self.matrix[index.cpu().numpy()],
            self.device,
            self.weights[index.to(self.device)],
        )


def rows_of(X, device: torch.device, weights=None) -> Rows:
    """The rows of a dense array or a sparse matrix, served on ``device``."""
    if sp.issparse(X):
        matrix = sp.csr_matrix(X)
        if not matrix.has_canonical_format:  # sorted indices, no duplicates
            matrix = matrix.copy()  # never reorder the caller's arrays
            matrix.sum_duplicates()
        return SparseRows(matrix, device, weights)
    return DenseRows(torch.tensor(X, dtype=torch.float32, device=device), weights)


def map_batches(
    function: Callable[[torch.Tensor], torch.Tensor],
    batches: Iterator[torch.Tensor],
    dtype=np.float64,
) -> np.ndarray:
    """Apply ``function`` to each batch without gradients; concatenate on the CPU."""
    with torch.inference_mode():
        results = [function(batch).cpu() for batch in batches]
    joined = results[0] if len(results) == 1 else torch.cat(results)
    return joined.numpy().astype(dtype, copy=False)
