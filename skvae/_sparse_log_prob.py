"""The log-likelihood of a sparse batch, fused with the decoder's last layer.

For wide sparse data (implicit feedback, bags of words) the decoder's last
layer predicts a logit for every feature of every row, and most of a training
step is spent on that ``(rows, features)`` array: a batch of 256 rows of 20,000
features makes it 20 MB. Written as separate torch operations, the step
allocates it half a dozen times (the layer's output, the offset logits, their
softplus, the gradients of each), and the C library hands such blocks back to
the system between steps, so every step pays for them again in page faults.

``LinearSparseLogProb`` computes the same numbers with one such array, and
inside ``reusing_step_memory`` (the training loop) every step writes into the
same one. It serves the families whose log-probability, given the logits
``l`` of a row, is linear in the row's values ``x`` (exponential families, with
``x`` as its own sufficient statistic)::

    log p(x | l) = sum_j x_j * l_j - A(l) + (terms free of l)
    d log p / d l = x - dA/dl = x - E[x | l]

The sum over ``x_j * l_j`` needs only the stored values of the sparse batch.
Each family supplies ``A`` and its gradient, the expected row, as a function
that works in place (see ``LinearSparseLogProb``):

- Bernoulli: ``A = sum_j softplus(l_j)``, ``E[x] = sigmoid(l)``;
- Poisson (``l`` the log-rates): ``A = sum_j exp(l_j)``, ``E[x] = exp(l)``;
- multinomial with the row's total ``n``: ``A = n * logsumexp(l)``,
  ``E[x] = n * softmax(l)``.

The forward pass turns the logits into ``E[x]`` in place, and the backward
pass turns that into ``E[x] - x`` in place, at the stored values only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

# Values (rows x features) in one block of rows: 2 MiB of float32.
_BLOCK_VALUES = 2**19

# Products of this many factors, each in [1/2, 1], stay above float32's
# smallest normal number (2**-100 > 1.2e-38): one log per 100 values.
_FACTORS_PER_LOG = 100

# ``log_partition_(logits, row_totals)``: ``A`` of each row of a block of
# logits, overwriting the block with ``E[x]``; ``row_totals`` holds each row's
# sum of values.
LogPartition = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _no_base_measure(rows, values, n_rows) -> float:
    return 0.0


@dataclass(frozen=True)
class FusedSparseTerms:
    """What a family linear in ``x`` gives the fused step.

    This is the one place where a family's log-probability is written a second
    time, split into its parts; the tests check that the fused step gives the
    family's ``log_prob`` and its gradients.
    """

    log_partition_: LogPartition
    """``A`` of each row, overwriting the logits with ``E[x]``."""
    log_base_measure: Callable[
        [torch.Tensor, torch.Tensor, int], torch.Tensor | float
    ] = _no_base_measure
    """``log_base_measure(rows, values, n_rows)``: the terms of each row's
    log-probability free of the logits, from the stored entries."""


def row_sums(rows: torch.Tensor, values: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Sum of ``values`` for each of ``n_rows`` rows; ``rows`` says whose each is."""
    return torch.zeros(n_rows, dtype=values.dtype, device=values.device).index_add_(
        0, rows, values
    )


class StepMemory:
    """The ``(rows, features)`` array of the fused step, kept for the next step.

    Freed after every step, an array of this size goes back to the system, and
    the next step pays for it again in page faults. A forward pass borrows the
    array and its backward pass gives it back; a forward pass while it is out
    gets a new one.
    """

    def __init__(self) -> None:
        self._array: torch.Tensor | None = None
        self._lent = False

    def borrow(self, n_rows: int, n_columns: int, like: torch.Tensor) -> torch.Tensor:
        """An uninitialised ``(n_rows, n_columns)`` array of ``like``'s type."""
        if self._lent:
            return like.new_empty((n_rows, n_columns))
        array = self._array
        if (
            array is None
            or len(array) < n_rows
            or array.shape[1] != n_columns
            or (array.dtype, array.device) != (like.dtype, like.device)
        ):
            array = self._array = like.new_empty((n_rows, n_columns))
        self._lent = True
        return array[:n_rows]

    def give_back(self) -> None:
        """The borrowed array is free for the next ``borrow``."""
        self._lent = False


_step_memory: ContextVar[StepMemory | None] = ContextVar(
    "skvae_step_memory", default=None
)


@contextmanager
def reusing_step_memory() -> Iterator[None]:
    """Training steps taken inside share one array for their fused step."""
    token = _step_memory.set(StepMemory())
    try:
        yield
    finally:
        _step_memory.reset(token)


def linear_sparse_log_prob(
    layer: torch.nn.Linear,
    hidden: torch.Tensor,
    offset: torch.Tensor,
    rows: torch.Tensor,
    columns: torch.Tensor,
    values: torch.Tensor,
    log_partition_: LogPartition,
    layer_fixed: bool = False,
) -> torch.Tensor:
    """``LinearSparseLogProb`` of ``layer(hidden) + offset``; see its docstring.

    With gradients on, inside ``reusing_step_memory``, the step's array is the
    shared one. ``layer_fixed``: no gradient for the layer's weights (a custom
    function's backward cannot tell which gradients ``torch.autograd.grad``
    asks for, and the weights' costs as much as the forward pass).
    """
    memory = _step_memory.get() if torch.is_grad_enabled() else None
    weight: torch.Tensor = layer.weight
    bias: torch.Tensor = layer.bias
    if layer_fixed:
        weight, bias = weight.detach(), bias.detach()
    return LinearSparseLogProb.apply(
        hidden,
        weight,
        bias,
        offset,
        rows,
        columns,
        values,
        log_partition_,
        memory,
    )


class LinearSparseLogProb(torch.autograd.Function):
    """``sum_j x_j l_j - A(l)`` of sparse rows, from the decoder's last hidden layer.

    ``forward(hidden, weight, bias, offset, rows, columns, values,
    log_partition_, memory)``: the logits are ``hidden @ weight.T + bias +
    offset`` (an ``nn.Linear`` and the likelihood's per-feature offset),
    ``rows, columns, values`` are the stored entries of the sparse batch,
    ``log_partition_`` is the family's ``A`` (see the module's docstring), and
    ``memory`` a ``StepMemory`` to hold the logits, or None for a new array.
    Returns one number per row; the terms of ``log p(x | l)`` that do not
    depend on ``l`` are the caller's to add.

    The backward pass overwrites the saved ``E[x]``, so it runs once per
    forward pass: ``backward(retain_graph=True)`` followed by a second backward
    raises.
    """

    @staticmethod
    def forward(
        ctx, hidden, weight, bias, offset, rows, columns, values, log_partition_, memory
    ):
        n_rows, n_columns = len(hidden), len(weight)
        if memory is None:
            logits = hidden.new_empty((n_rows, n_columns))
        else:
            logits = memory.borrow(n_rows, n_columns, hidden)
        torch.addmm(bias + offset, hidden, weight.t(), out=logits)
        at_stored = values * logits[rows, columns]
        row_totals = row_sums(rows, values, n_rows)
        # A block of rows at a time, while it is in cache: each row's A, then
        # the block's E[x] (what the backward pass needs) in place of its logits.
        block_rows = max(1, _BLOCK_VALUES // n_columns)
        partitions = [
            log_partition_(block, totals)
            for block, totals in zip(
                logits.split(block_rows), row_totals.split(block_rows), strict=True
            )
        ]
        log_prob = (-torch.cat(partitions)).index_add(0, rows, at_stored)
        ctx.save_for_backward(hidden, weight, logits, rows, columns, values)
        ctx.memory = memory
        ctx.spent = False
        return log_prob

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_log_prob):
        if ctx.spent:
            raise RuntimeError(
                "LinearSparseLogProb.backward reuses its saved expected values "
                "and can run once per forward pass."
            )
        ctx.spent = True
        hidden, weight, expected, rows, columns, values = ctx.saved_tensors
        # The logits' gradient is g * (x - E[x]) for a row's incoming gradient
        # g. E[x] - x is made in place, at the stored values only, and -g
        # scales the rows of the products' other factor, or of their result.
        residual = expected.index_put_((rows, columns), -values, accumulate=True)
        scale = -grad_log_prob
        grad_hidden, grad_weight, grad_bias = None, None, None
        if ctx.needs_input_grad[0]:
            grad_hidden = (residual @ weight).mul_(scale[:, None])
        if ctx.needs_input_grad[1]:
            grad_weight = residual.t() @ (hidden * scale[:, None])
        if ctx.needs_input_grad[2]:
            grad_bias = residual.t() @ scale
        if ctx.memory is not None:
            ctx.memory.give_back()
        return grad_hidden, grad_weight, grad_bias, *[None] * 6


def bernoulli_log_partition_(logits: torch.Tensor, row_totals: torch.Tensor):
    """``sum_j softplus(l_j)`` of each row; the logits become ``s = sigmoid(l)``.

    ``softplus(l) = max(l, 0) - log(max(s, 1 - s))``, and the logs are summed
    as logs of products (``sum_of_logs``): a log per value would cost more
    than the rest of the step's work on the block.
    """
    scratch = torch.empty_like(logits)
    positive_parts = torch.clamp(logits, min=0, out=scratch).sum(-1)
    probabilities = logits.sigmoid_()
    larger = torch.sub(probabilities, 0.5, out=scratch).abs_().add_(0.5)
    return positive_parts - sum_of_logs(larger)


def sum_of_logs(factors: torch.Tensor) -> torch.Tensor:
    """``factors.log().sum(-1)`` for ``factors`` in [1/2, 1], with fewer logs."""
    n_whole = factors.shape[-1] // _FACTORS_PER_LOG * _FACTORS_PER_LOG
    products = factors[..., :n_whole].unflatten(-1, (-1, _FACTORS_PER_LOG)).prod(-1)
    return products.log_().sum(-1) + factors[..., n_whole:].log().sum(-1)


def poisson_log_partition_(log_rates: torch.Tensor, row_totals: torch.Tensor):
    """``sum_j exp(l_j)`` of each row; the log-rates become the rates."""
    return log_rates.exp_().sum(-1)


def multinomial_log_partition_(logits: torch.Tensor, row_totals: torch.Tensor):
    """``n * logsumexp(l)`` of each row; the logits become ``n * softmax(l)``."""
    log_normaliser = torch.logsumexp(logits, -1)
    logits.sub_(log_normaliser[:, None]).exp_().mul_(row_totals[:, None])
    return row_totals * log_normaliser
