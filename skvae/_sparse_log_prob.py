"""The log-likelihood of a sparse batch, fused with the decoder's last layer.

For wide sparse data (implicit feedback, bags of words) the decoder's last
layer predicts a logit for every feature of every row, and most of a training
step is spent on that ``(rows, features)`` array: a batch of 256 rows of 20,000
features makes it 20 MB. Written as separate torch operations, the step
allocates it half a dozen times (the layer's output, the offset logits, their
softplus, the gradients of each), and the C library hands such blocks back to
the system between steps, so every step pays for them again in page faults.

``LinearSparseLogProb`` computes the same numbers with one such array. It
serves the families whose log-probability, given the logits ``l`` of a row,
is linear in the row's values ``x`` (exponential families, with ``x`` as its
own sufficient statistic)::

    log p(x | l) = sum_j x_j * l_j - A(l) + (terms free of l)
    d log p / d l = x - dA/dl = x - E[x | l]

The sum over ``x_j * l_j`` needs only the stored values of the sparse batch.
Each family supplies ``A`` and its gradient, the expected row, as a function
that works in place (see ``LinearSparseLogProb``):

- Bernoulli: ``A = sum_j softplus(l_j)``, ``E[x] = sigmoid(l)``;
- Poisson (``l`` the log-rates): ``A = sum_j exp(l_j)``, ``E[x] = exp(l)``;
- multinomial with the row's total ``n``: ``A = n * logsumexp(l)``,
  ``E[x] = n * softmax(l)``.

The forward pass turns the logits into ``E[x]`` and the backward pass turns
that into the logits' gradient, both in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

# Values (rows x features) in one block of rows: 2 MiB of float32.
_BLOCK_VALUES = 2**19

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


class LinearSparseLogProb(torch.autograd.Function):
    """``sum_j x_j l_j - A(l)`` of sparse rows, from the decoder's last hidden layer.

    ``forward(hidden, weight, bias, offset, rows, columns, values,
    log_partition_)``: the logits are ``hidden @ weight.T + bias + offset``
    (an ``nn.Linear`` and the likelihood's per-feature offset), ``rows,
    columns, values`` are the stored entries of the sparse batch, and
    ``log_partition_`` is the family's ``A`` (see the module's docstring).
    Returns one number per row; the terms of ``log p(x | l)`` that do not
    depend on ``l`` are the caller's to add.

    The backward pass overwrites the saved ``E[x]``, so it runs once per
    forward pass: ``backward(retain_graph=True)`` followed by a second backward
    raises.
    """

    @staticmethod
    def forward(
        ctx, hidden, weight, bias, offset, rows, columns, values, log_partition_
    ):
        logits = torch.addmm(bias + offset, hidden, weight.t())
        at_stored = values * logits[rows, columns]
        row_totals = row_sums(rows, values, len(logits))
        # A block of rows at a time, while it is in cache: each row's A, then
        # the block's E[x] (what the backward pass needs) in place of its logits.
        block_rows = max(1, _BLOCK_VALUES // logits.shape[1])
        partitions = [
            log_partition_(block, totals)
            for block, totals in zip(
                logits.split(block_rows), row_totals.split(block_rows), strict=True
            )
        ]
        log_prob = (-torch.cat(partitions)).index_add(0, rows, at_stored)
        ctx.save_for_backward(hidden, weight, logits, rows, columns, values)
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
        # d/dl of the row's log-probability, times the incoming gradient, in
        # the same memory: -g * E[x], plus g * x at stored values.
        grad_logits = expected.mul_(-grad_log_prob[:, None])
        grad_logits.index_put_(
            (rows, columns), grad_log_prob[rows] * values, accumulate=True
        )
        grad_hidden, grad_weight, grad_bias = None, None, None
        if ctx.needs_input_grad[0]:
            grad_hidden = grad_logits @ weight
        if ctx.needs_input_grad[1]:
            grad_weight = grad_logits.t() @ hidden
        if ctx.needs_input_grad[2]:
            grad_bias = grad_logits.sum(0)
        return grad_hidden, grad_weight, grad_bias, None, None, None, None, None


def bernoulli_log_partition_(logits: torch.Tensor, row_totals: torch.Tensor):
    """``sum_j softplus(l_j)`` of each row; the logits become ``sigmoid(l)``."""
    partition = torch.nn.functional.softplus(logits).sum(-1)
    logits.sigmoid_()
    return partition


def poisson_log_partition_(log_rates: torch.Tensor, row_totals: torch.Tensor):
    """``sum_j exp(l_j)`` of each row; the log-rates become the rates."""
    return log_rates.exp_().sum(-1)


def multinomial_log_partition_(logits: torch.Tensor, row_totals: torch.Tensor):
    """``n * logsumexp(l)`` of each row; the logits become ``n * softmax(l)``."""
    log_normaliser = torch.logsumexp(logits, -1)
    logits.sub_(log_normaliser[:, None]).exp_().mul_(row_totals[:, None])
    return row_totals * log_normaliser
