"""Peak memory of ``transform`` on a 2,000,000 x 100 float64 array.

A small ``VAETransformer`` is fitted on 20,000 rows; then a fresh process
loads the model and the whole array (1.6 GB), and the script reports how far
``transform`` raised the process's resident memory above where it was before
the call (sampled every millisecond), against the bound
``output + working_memory``: ``transform`` moves one batch of rows at a time
to the device, so it never holds a float32 copy of all of ``X``.

Run: ``python benchmarks/bench_inference_memory.py [--working-memory 1024 64]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import joblib
import numpy as np

N_ROWS, N_COLUMNS = 2_000_000, 100


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


class _PeakSampler(threading.Thread):
    """Samples the resident memory every millisecond until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = _resident_mb()
        self.running = True

    def run(self):
        while self.running:
            self.peak = max(self.peak, _resident_mb())
            time.sleep(0.001)

    def stop(self) -> float:
        self.running = False
        self.join()
        return max(self.peak, _resident_mb())


def measure(model_path, data_path, working_memory):
    """In this process: load, transform, and report the peaks as JSON."""
    import sklearn

    model = joblib.load(model_path)
    # Read into an array allocated once, so that loading leaves no higher peak.
    X = np.empty((N_ROWS, N_COLUMNS))
    with open(data_path, "rb") as raw:
        raw.readinto(memoryview(X).cast("B"))
    model.transform(X[:10])  # torch's one-time set-up of inference: not counted
    before = _resident_mb()
    sampler = _PeakSampler()
    sampler.start()
    start = time.perf_counter()
    with sklearn.config_context(working_memory=working_memory):
        Z = model.transform(X)
    seconds = time.perf_counter() - start
    peak = sampler.stop()
    print(
        json.dumps(
            {
                "before_mb": before,
                "increase_mb": peak - before,
                "output_mb": Z.nbytes / 2**20,
                "seconds": seconds,
            }
        )
    )


def main(working_memories):
    from skvae import VAETransformer

    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_ROWS, N_COLUMNS))
    model = VAETransformer(
        latent_dim=2, hidden_layer_sizes=(64,), random_state=0
    ).partial_fit(X[:20_000])
    with tempfile.TemporaryDirectory() as folder:
        model_path, data_path = Path(folder, "vae.joblib"), Path(folder, "X.raw")
        joblib.dump(model, model_path)
        X.tofile(data_path)
        del X
        print(f"transform of a {N_ROWS:,} x {N_COLUMNS} float64 array (1,526 MB)")
        print(
            f"{'working_memory MB':>18s}{'peak increase MB':>18s}{'bound MB':>10s}"
            f"{'seconds':>9s}"
        )
        for working_memory in working_memories:
            result = json.loads(
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--measure",
                        str(model_path),
                        str(data_path),
                        str(working_memory),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            bound = result["output_mb"] + working_memory
            print(
                f"{working_memory:>18d}{result['increase_mb']:>18.0f}{bound:>10.0f}"
                f"{result['seconds']:>9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--working-memory", type=int, nargs="+", default=[1024, 64])
        main(parser.parse_args().working_memory)
