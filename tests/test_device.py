"""Device choice: 'auto', explicit devices, and models moving between machines."""

import os
import pickle
import subprocess
import sys
import warnings
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose

from skvae import VAETransformer
from skvae._data import DenseRows, host_batches, resolve_device

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA GPU here"
)
needs_mps = pytest.mark.skipif(
    not torch.backends.mps.is_available(), reason="no Apple MPS device here"
)


def test_device_rows_find_missing_cells_where_min_passes_over_nan(monkeypatch):
    # MPS's min() passes over NaN before macOS 15 (pytorch/pytorch#130295): a
    # fit that asked it would skip the masks of rows with missing cells
    original_min = torch.Tensor.min

    def min_passing_over_nan(self, *args, **kwargs):
        if args or kwargs:
            return original_min(self, *args, **kwargs)
        return original_min(torch.where(self.isnan(), torch.inf, self))

    monkeypatch.setattr(torch.Tensor, "min", min_passing_over_nan)
    assert DenseRows(torch.tensor([[1.0, float("nan")], [2.0, 3.0]])).has_missing
    assert not DenseRows(torch.ones(2, 2)).has_missing
    # searched a block of rows at a time: a NaN in the last block is found
    monkeypatch.setattr("skvae._data._NAN_SCAN_VALUES", 6)
    rows = torch.ones(10, 3)
    rows[9, 1] = float("nan")
    assert DenseRows(rows).has_missing
    assert not DenseRows(torch.ones(10, 3)).has_missing


def test_auto_prefers_cuda_then_mps_then_cpu():
    with (
        mock.patch("torch.cuda.is_available", return_value=True),
        mock.patch("torch.cuda.current_device", return_value=0),
    ):
        assert resolve_device("auto") == torch.device("cuda", 0)
    with (
        mock.patch("torch.cuda.is_available", return_value=False),
        mock.patch("torch.backends.mps.is_available", return_value=True),
    ):
        assert resolve_device("auto") == torch.device("mps")
    with (
        mock.patch("torch.cuda.is_available", return_value=False),
        mock.patch("torch.backends.mps.is_available", return_value=False),
    ):
        assert resolve_device("auto") == torch.device("cpu")


def test_a_cuda_device_without_an_index_is_the_current_one():
    # Unindexed, the device of later batches and generators followed whichever
    # GPU was current then, not the one holding the network
    with (
        mock.patch("torch.cuda.is_available", return_value=True),
        mock.patch("torch.cuda.device_count", return_value=2),
        mock.patch("torch.cuda.current_device", return_value=1),
    ):
        assert resolve_device("auto") == torch.device("cuda", 1)
        assert resolve_device("cuda") == torch.device("cuda", 1)
        assert resolve_device(torch.device("cuda")) == torch.device("cuda", 1)
        assert resolve_device("cuda:0") == torch.device("cuda", 0)


@pytest.mark.short_fits
def test_explicit_cpu_and_torch_device(X, make_vae):
    for device in ("cpu", torch.device("cpu")):
        vae = make_vae(device=device, max_epochs=2).fit(X)
        assert vae.device_ == torch.device("cpu")
    assert make_vae(device="auto").get_params()["device"] == "auto"  # never rewritten


def test_mps_without_mps_says_so(X):
    with mock.patch("torch.backends.mps.is_available", return_value=False):
        with pytest.raises(ValueError, match="MPS is not available"):
            VAETransformer(device="mps").fit(X)


@needs_cuda
def test_cuda_fit_returns_numpy_and_matches_cpu_quality(X, make_vae):
    gpu = make_vae(device="cuda", max_epochs=60).fit(X)
    cpu = make_vae(device="cpu", max_epochs=60).fit(X)
    assert gpu.device_.type == "cuda"
    assert next(gpu.module_.parameters()).is_cuda
    Z = gpu.transform(X)
    assert isinstance(Z, np.ndarray) and Z.shape == (300, 2)
    assert gpu.sample(4, random_state=0).shape == (4, 8)
    assert gpu.score(X) == pytest.approx(cpu.score(X), rel=0.1)


@needs_cuda
def test_cuda_fits_with_early_stopping_and_weights(X, make_vae):
    # a validation split's weights stay on the GPU (the detector's default)
    from skvae import VAEOutlierDetector

    weights = np.linspace(0.5, 2.0, len(X))
    vae = make_vae(device="cuda", early_stopping=True).fit(X, sample_weight=weights)
    assert len(vae.validation_scores_) == vae.n_iter_
    detector = VAEOutlierDetector(
        hidden_layer_sizes=(16,), max_epochs=30, device="cuda"
    )
    assert detector.fit(X).predict(X).shape == (len(X),)


@needs_cuda
def test_cuda_fits_a_table_with_a_text_column(make_vae):
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {"x": rng.normal(size=200), "kind": rng.choice(["a", "b", "c"], size=200)}
    )
    vae = make_vae(device="cuda", max_epochs=5).fit(table)
    assert vae.device_.type == "cuda"
    assert set(vae.sample(20, random_state=0)["kind"]) <= {"a", "b", "c"}


@needs_cuda
@pytest.mark.short_fits
def test_cuda_fits_zero_inflated_columns(make_vae):
    # Their PCA start encodes the whole table on the host, the atoms copied.
    counts = np.random.RandomState(0).poisson(0.3, size=(200, 3)).astype(float)
    vae = make_vae(device="cuda", likelihood="inflated_gaussian", max_epochs=5)
    vae.fit(counts)
    assert np.isfinite(vae.score_samples(counts)).all()
    assert (vae.sample(200, random_state=0) == 0).mean() > 0.5  # the atom at 0


@needs_mps
@pytest.mark.short_fits
def test_mps_draws_zero_inflated_columns_and_recommends(make_vae):
    # MPS holds no float64: the truncated draws of inflated columns and the
    # item ids of recommend raised TypeError there
    counts = np.random.RandomState(0).poisson(0.3, size=(200, 3)).astype(float)
    vae = make_vae(device="mps", likelihood="inflated_gaussian", max_epochs=5)
    assert (vae.fit(counts).sample(200, random_state=0) == 0).mean() > 0.5
    ratings = (counts > 0).astype(float)
    items, _ = (
        make_vae(device="mps", likelihood="multinomial", max_epochs=5)
        .fit(ratings)
        .recommend(ratings, n=1, filter_seen=False)
    )
    assert items.shape == (200, 1)


def _run_without_cuda(model, X, tmp_path, lines, *args):
    """Run ``lines`` in a Python process that sees no GPU; return its output.

    The process starts with the pickled ``model`` as ``vae`` and ``X`` as ``X``.
    """
    path = tmp_path / "vae.pkl"
    path.write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X)
    script = (
        "import pickle, sys, warnings, numpy as np\n"
        "warnings.simplefilter('ignore')\n"
        f"vae = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n" + lines
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@needs_cuda
def test_cuda_model_loads_in_a_process_without_cuda(X, make_vae, tmp_path):
    gpu = make_vae(device="cuda").fit(X)
    out = tmp_path / "Z.npy"
    lines = "np.save(sys.argv[1], vae.transform(X))\nprint(vae.device_)\n"
    assert _run_without_cuda(gpu, X, tmp_path, lines, str(out)).strip() == "cpu"
    assert_allclose(np.load(out), gpu.transform(X), rtol=1e-4, atol=1e-5)


@needs_cuda
def test_streamed_cuda_model_continues_in_a_process_without_cuda(X, make_vae, tmp_path):
    gpu = make_vae(device="cuda").partial_fit(X[:150])
    lines = (
        "vae.set_params(device='cpu').partial_fit(X[150:])\n"
        "print(vae.n_iter_, vae._optimizer_state['state'][0]['step'].item())\n"
    )
    assert _run_without_cuda(gpu, X, tmp_path, lines).split() == ["2", "2.0"]


def test_batches_for_a_gpu_take_read_only_rows_without_a_warning():
    # Batches for a GPU are read from X itself where it is float32 already;
    # torch warns about tensors made from a read-only array, so those rows
    # are copied first. ("meta" stands in for the GPU: shapes, no values.)
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    X.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = list(host_batches(X, 4, torch.device("meta")))
    assert [tuple(batch.shape) for batch in batches] == [(4, 4), (4, 4), (2, 4)]
    assert all(batch.dtype == torch.float32 for batch in batches)


def test_batches_for_the_cpu_are_fresh_copies():
    # Results then do not depend on where X lies in memory.
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    for batch in host_batches(X, 4, torch.device("cpu")):
        assert not np.shares_memory(batch.numpy(), X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="loads where CUDA is missing")
def test_a_model_loaded_without_its_gpu_says_how_to_train_it_further(X, make_vae):
    vae = make_vae().fit(X)
    vae.device, vae.device_ = "cuda", torch.device("cuda:0")  # as if trained there
    with pytest.warns(UserWarning, match=r"set_params\(device='cpu'\) first"):
        loaded = pickle.loads(pickle.dumps(vae))
    assert loaded.device_ == torch.device("cpu")
    loaded.set_params(device="cpu").partial_fit(X)  # as the warning says
    vae.device = "auto"  # trains on the CPU as it is: no advice
    with pytest.warns(UserWarning, match="run on the CPU.$"):
        pickle.loads(pickle.dumps(vae)).partial_fit(X)
