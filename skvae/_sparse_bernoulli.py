"""The Bernoulli log-likelihood of a sparse batch, fused with the decoder's last layer.

For wide sparse data (implicit feedback, bags of words) the decoder's last
layer predicts a logit for every feature of every row, and most of a training
step is spent on that ``(rows, features)`` array: a batch of 256 rows of 20,000
features makes it 20 MB. Written as separate torch operations, the step
allocates it half a dozen times (the layer's output, the offset logits, their
softplus, the gradients of each), and the C library hands such blocks back to
the system between steps, so every step pays for them again in page faults.

``LinearSparseBernoulliLogProb`` computes the same numbers with one such array:
the logits, which the forward pass turns into the probabilities
``sigmoid(logits)`` and the backward pass into their own gradient, both in
place. (The gradient of the layer's weight, a ``(features, hidden)`` array, is
made afresh each step, as for any layer.)

For logits ``l`` and values ``x`` in [0, 1] (Bernoulli, as
:class:`torch.distributions.Bernoulli` scores them)::

    log p(x | l) = sum_j x_j * l_j - softplus(l_j)
    d log p / d l_j = x_j - sigmoid(l_j)

The sum over ``x_j * l_j`` needs only the stored values of the sparse batch.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

# Values (rows x features) in one block of the softplus sum: 2 MiB of float32.
_BLOCK_VALUES = 2**19


class LinearSparseBernoulliLogProb(torch.autograd.Function):
    """``log p(x | z)`` of sparse rows from the decoder's last hidden layer.

    ``forward(hidden, weight, bias, offset, rows, columns, values)``: the logits
    are ``hidden @ weight.T + bias + offset`` (an ``nn.Linear`` and the
    likelihood's per-feature offset), and ``rows, columns, values`` are the
    stored entries of the sparse batch. Returns one log-probability per row.

    The backward pass overwrites the saved probabilities, so it runs once per
    forward pass: ``backward(retain_graph=True)`` followed by a second backward
    raises.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, offset, rows, columns, values):
        logits = torch.addmm(bias + offset, hidden, weight.t())
        at_stored = values * logits[rows, columns]
        # A block of rows at a time, while it is in cache: the softplus summed
        # over each row, then the block's sigmoid (what the backward pass
        # needs) in place of its logits.
        softplus_sums = []
        for block in logits.split(max(1, _BLOCK_VALUES // logits.shape[1])):
            softplus_sums.append(F.softplus(block).sum(-1))
            block.sigmoid_()
        log_prob = (-torch.cat(softplus_sums)).index_add(0, rows, at_stored)
        ctx.save_for_backward(hidden, weight, logits, rows, columns, values)
        ctx.spent = False
        return log_prob

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_log_prob):
        if ctx.spent:
            raise RuntimeError(
                "LinearSparseBernoulliLogProb.backward reuses its saved "
                "probabilities and can run once per forward pass."
            )
        ctx.spent = True
        hidden, weight, probabilities, rows, columns, values = ctx.saved_tensors
        # d/dl of the row's log-probability, times the incoming gradient, in
        # the same memory: -g * sigmoid(l), plus g * x at stored values.
        grad_logits = probabilities.mul_(-grad_log_prob[:, None])
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
        return grad_hidden, grad_weight, grad_bias, None, None, None, None
