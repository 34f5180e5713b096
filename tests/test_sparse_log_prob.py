"""The fused step of sparse rows: its arithmetic and its reused memory."""

import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose

from skvae import VAETransformer
from skvae._module import _linear
from skvae._sparse_log_prob import (
    StepMemory,
    bernoulli_log_partition_,
    linear_sparse_log_prob,
    reusing_step_memory,
    sum_of_logs,
)


def wide_binary_rows(n_rows=5, n_columns=250, seed=0):
    """Rows of 0/1 values, a decoder layer for them and its input."""
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(n_rows, n_columns, generator=generator) < 0.05).float()
    layer = _linear(3, n_columns, generator)
    hidden = torch.randn(n_rows, 3, generator=generator, requires_grad=True)
    return x, layer, hidden


def bernoulli_log_prob(x, layer, hidden):
    """The fused Bernoulli log-probability of each row of ``x``."""
    rows, columns = x.nonzero().t()
    offset = torch.zeros(x.shape[1])
    return linear_sparse_log_prob(
        layer, hidden, offset, rows, columns, x[rows, columns], bernoulli_log_partition_
    )


def gradients(log_prob, layer, hidden):
    """The gradients of the rows' weighted sum, each row with its own weight."""
    row_weights = torch.linspace(0.5, 2.0, len(log_prob))
    return torch.autograd.grad(
        (row_weights * log_prob).sum(), [hidden, layer.weight, layer.bias]
    )


def fused_step(x, layer, hidden):
    """The fused log-probabilities, their gradients, and the step's saved array."""
    log_prob = bernoulli_log_prob(x, layer, hidden)
    saved = log_prob.grad_fn.saved_tensors[2]
    return log_prob, gradients(log_prob, layer, hidden), saved


@pytest.mark.parametrize("n_columns", [1, 99, 100, 250])
def test_sum_of_logs_is_the_sum_of_the_logs(n_columns):
    factors = torch.linspace(0.5, 1.0, 3 * n_columns, dtype=torch.float64)
    factors = factors.reshape(3, n_columns)
    assert_allclose(sum_of_logs(factors), factors.log().sum(-1), rtol=1e-12)


def test_bernoulli_log_partition_keeps_float32_precision_at_extreme_logits():
    logits = torch.tensor(
        [[-200.0, -30.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 30.0, 200.0] * 30]
    )
    expected = torch.nn.functional.softplus(logits.double()).sum(-1)
    expected_probabilities = torch.sigmoid(logits)
    got = bernoulli_log_partition_(logits, torch.zeros(1))
    assert_allclose(got.double(), expected, rtol=1e-6)
    assert_allclose(logits, expected_probabilities, rtol=1e-6, atol=1e-30)


def test_the_fused_step_of_wide_rows_is_the_bernoulli_log_prob_of_the_layer():
    x, layer, hidden = wide_binary_rows()
    log_prob = bernoulli_log_prob(x, layer, hidden)
    expected = torch.distributions.Bernoulli(logits=layer(hidden)).log_prob(x).sum(-1)
    assert_allclose(log_prob.detach(), expected.detach(), rtol=1e-6)
    for got, wanted in zip(
        gradients(log_prob, layer, hidden),
        gradients(expected, layer, hidden),
        strict=True,
    ):
        assert_allclose(got, wanted, rtol=1e-5, atol=1e-6)


def test_training_steps_reuse_one_array_and_get_the_same_numbers():
    x, layer, hidden = wide_binary_rows()
    expected = fused_step(x, layer, hidden)
    with reusing_step_memory():
        steps = [fused_step(x, layer, hidden) for _ in range(2)]
    assert steps[0][2].data_ptr() == steps[1][2].data_ptr()
    assert steps[0][2].data_ptr() != expected[2].data_ptr()
    for log_prob, step_gradients, _ in steps:
        assert torch.equal(log_prob, expected[0])
        for got, wanted in zip(step_gradients, expected[1], strict=True):
            assert torch.equal(got, wanted)


def test_a_forward_pass_while_the_array_is_out_gets_its_own():
    x, layer, hidden = wide_binary_rows()
    expected = fused_step(x, layer, hidden)
    with reusing_step_memory():
        first = bernoulli_log_prob(x, layer, hidden)
        second = bernoulli_log_prob(x, layer, hidden)
        assert first.grad_fn.saved_tensors[2].data_ptr() != (
            second.grad_fn.saved_tensors[2].data_ptr()
        )
        in_reverse = [
            gradients(log_prob, layer, hidden) for log_prob in (second, first)
        ]
    for got in in_reverse:
        for got_part, wanted in zip(got, expected[1], strict=True):
            assert torch.equal(got_part, wanted)


def test_without_gradients_no_forward_pass_borrows_the_array():
    x, layer, hidden = wide_binary_rows()
    with reusing_step_memory():
        with torch.no_grad():
            bernoulli_log_prob(x, layer, hidden)  # never followed by a backward
        _, _, saved = fused_step(x, layer, hidden)
        _, _, saved_next = fused_step(x, layer, hidden)
    assert saved.data_ptr() == saved_next.data_ptr()


def test_step_memory_lends_a_prefix_for_a_smaller_batch_and_grows_for_a_larger():
    memory, like = StepMemory(), torch.zeros(1)
    full = memory.borrow(8, 5, like)
    memory.give_back()
    smaller = memory.borrow(3, 5, like)
    assert smaller.shape == (3, 5) and smaller.data_ptr() == full.data_ptr()
    memory.give_back()
    assert memory.borrow(9, 5, like).shape == (9, 5)


def test_a_sparse_fit_reuses_the_array_within_each_epoch(monkeypatch):
    """The training loop enters ``reusing_step_memory`` for its epochs."""
    borrowed = []
    borrow = StepMemory.borrow

    def recording_borrow(self, n_rows, n_columns, like):
        array = borrow(self, n_rows, n_columns, like)
        borrowed.append((id(self), array.data_ptr()))
        return array

    monkeypatch.setattr(StepMemory, "borrow", recording_borrow)
    X = sp.random(400, 1500, density=0.01, format="csr", random_state=0)
    X.data[:] = 1.0
    VAETransformer(
        2,
        hidden_layer_sizes=(8,),
        likelihood="bernoulli",
        batch_size=100,
        init="random",
        random_state=0,
    ).partial_fit(X)
    assert len(borrowed) == 4  # one epoch of four steps, each borrowing
    assert len(set(borrowed)) == 1  # the same memory, the same array
