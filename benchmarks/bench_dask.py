"""Scale-out on a local Dask cluster: a parallel grid search and a streamed fit.

Two figures, each on a fresh ``distributed.LocalCluster`` of 2 worker processes
with 1 thread each:

* ``search``: ``GridSearchCV`` of 8 fits (4 values of ``latent_dim``, 2 folds)
  of a 30-64-32-k Gaussian VAE on 20,000 tabular rows, each stopped by the
  stopping rule over windows of ``--window`` epochs, run with ``n_jobs=1``
  in this process (torch on all cores, and on 1 thread), with loky
  ``n_jobs=2``, and under ``joblib.parallel_backend("dask")``. The script
  reports the median wall time of ``--repeats`` alternations, the speedup of
  the Dask run over the serial ones, and whether the searches on one thread
  per fit (serial on 1 thread, loky, Dask) scored every candidate identically.
* ``stream``: one ``partial_fit`` per chunk of a dask array built lazily from
  ``dask.array.random`` (``--rows`` x 32 float64, 2 GB by default) on workers
  limited to ``--memory-limit`` (1 GB by default), twice: with dask-ml's
  ``Incremental`` (a chain of tasks that hand the model along), and with a
  paced loop that keeps the model on the cluster and computes a chunk only
  when the fit is one chunk away from it. The script reports each worker's
  peak resident memory during the fit and the most it held spilled to disk
  (sampled every 20 ms by a thread in the worker), its resident memory before
  the fit, and whether any worker was restarted.

The machine's load average is printed with each part: on a shared machine
other processes take cores from the workers, and the speedup shows it.

Run with ``.venv/bin/python benchmarks/bench_dask.py`` (6 to 12 minutes on 2
shared CPU cores); ``--part search`` or ``--part stream`` runs one half.
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV

from skvae import VAETransformer

N_FEATURES = 32


def tabular_rows(n_rows=20_000, n_features=30, seed=0):
    rng = np.random.RandomState(seed)
    latent = rng.randn(n_rows, 4)
    X = np.tanh(latent @ rng.randn(4, n_features)) + 0.1 * rng.randn(n_rows, n_features)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


def import_skvae():
    """Import skvae, and with it torch, in a worker before it is measured."""
    import skvae  # noqa: F401


def local_cluster(**kwargs):
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        silence_logs=40,  # errors only
        **kwargs,
    )


# --------------------------------------------------------------- grid search


def timed_search(X, window, n_jobs=1):
    search = GridSearchCV(
        VAETransformer(
            hidden_layer_sizes=(64, 32), n_iter_no_change=window, random_state=0
        ),
        {"latent_dim": [1, 2, 4, 8]},
        cv=2,
        n_jobs=n_jobs,
    )
    start = time.perf_counter()
    search.fit(X)
    return time.perf_counter() - start, search.cv_results_["mean_test_score"]


def bench_search(repeats, window):
    import joblib
    from distributed import Client

    X = tabular_rows()
    default_threads = torch.get_num_threads()
    load = os.getloadavg()
    times = {"serial": [], "serial, 1 thread": [], "loky": [], "dask": []}
    same = True
    with local_cluster() as cluster, Client(cluster) as client:
        worker_threads = sorted(set(client.run(torch.get_num_threads).values()))
        with joblib.parallel_backend("dask"):
            timed_search(X[:2000], window)  # warm-up: workers import skvae and torch
        for _ in range(repeats):
            seconds, _ = timed_search(X, window)
            times["serial"].append(seconds)
            torch.set_num_threads(1)
            try:
                seconds, serial_scores = timed_search(X, window)
            finally:
                torch.set_num_threads(default_threads)
            times["serial, 1 thread"].append(seconds)
            seconds, loky_scores = timed_search(X, window, n_jobs=2)
            times["loky"].append(seconds)
            with joblib.parallel_backend("dask"):
                seconds, dask_scores = timed_search(X, window)
            times["dask"].append(seconds)
            same = same and np.array_equal(serial_scores, dask_scores)
            same = same and np.array_equal(serial_scores, loky_scores)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"GridSearchCV, 8 fits (n_iter_no_change={window}) on {X.shape[0]:,} x "
        f"{X.shape[1]} rows, median of {repeats} (os.cpu_count()={os.cpu_count()})"
    )
    print(f"  load average before: {load[0]:.1f}, after: {os.getloadavg()[0]:.1f}")
    print(f"  n_jobs=1, torch on {default_threads} thread(s): {median['serial']:.1f} s")
    print(f"  n_jobs=1, torch on 1 thread: {median['serial, 1 thread']:.1f} s")
    print(
        f"  dask, 2 worker processes x 1 thread (torch threads in workers: "
        f"{worker_threads}): {median['dask']:.1f} s"
    )
    print(f"  loky, n_jobs=2 (1 torch thread each): {median['loky']:.1f} s")
    print(
        f"  speedup of dask over n_jobs=1: {median['serial'] / median['dask']:.2f}x "
        f"({median['serial, 1 thread'] / median['dask']:.2f}x over 1 thread; "
        f"loky n_jobs=2 over n_jobs=1: {median['serial'] / median['loky']:.2f}x)"
    )
    print(f"  identical mean_test_score (n_jobs=1 on 1 thread, loky, dask): {same}")
    print(
        "  all times (s): "
        + str({k: [round(t, 1) for t in v] for k, v in times.items()})
    )


# --------------------------------------------------------------- streamed fit


def lazy_rows(n_rows, chunk_rows):
    """Rows from 4 latent factors, generated chunk by chunk on the workers."""
    import dask.array as da

    random = da.random.RandomState(0)
    latent = random.normal(size=(n_rows, 4), chunks=(chunk_rows, 4))
    mixing = np.random.RandomState(1).randn(4, N_FEATURES)
    noise = random.normal(
        scale=0.1, size=(n_rows, N_FEATURES), chunks=(chunk_rows, N_FEATURES)
    )
    return da.tanh(latent @ mixing) + noise


def resident_bytes():
    import psutil

    return psutil.Process().memory_info().rss


def start_memory_sampler(dask_worker, interval=0.02):
    """Record this worker's largest resident memory and spilled bytes.

    A thread in the worker samples them every ``interval`` seconds.
    (``ru_maxrss`` would not do: a spawned worker inherits the high-water mark
    of the process it was forked from, here the one holding the cluster.)
    """
    import threading

    state = {"rss": resident_bytes(), "spilled": 0, "running": True}

    def sample():
        while state["running"]:
            state["rss"] = max(state["rss"], resident_bytes())
            spilled = getattr(dask_worker.data, "spilled_total", (0, 0))
            state["spilled"] = max(state["spilled"], spilled[1])  # bytes on disk
            time.sleep(interval)

    threading.Thread(target=sample, daemon=True).start()
    dask_worker.skvae_memory = state


def stop_memory_sampler(dask_worker):
    state = dask_worker.skvae_memory
    state["running"] = False
    return state["rss"], state["spilled"]


def fit_incremental(client, estimator, X):
    """dask-ml's chain of partial_fit tasks, one per chunk."""
    from dask_ml.wrappers import Incremental

    return Incremental(estimator, shuffle_blocks=False).fit(X).estimator_


def _partial_fit(estimator, chunk):
    return estimator.partial_fit(chunk)


def fit_paced(client, estimator, X):
    """partial_fit on the workers, a chunk computed only when the fit nears it.

    The model stays on the cluster as a future; chunk ``i + 1`` is computed
    while the fit on chunk ``i`` runs, and no further.
    """
    from distributed import wait

    blocks = X.to_delayed().ravel()
    model = client.scatter(estimator)
    ahead = client.compute(blocks[0])
    for i in range(len(blocks)):
        chunk, ahead = ahead, None
        model = client.submit(_partial_fit, model, chunk, pure=False)
        if i + 1 < len(blocks):
            ahead = client.compute(blocks[i + 1])
        wait(model)
        del chunk  # release the chunk's memory on its worker
    return model.result()


def bench_stream(n_rows, chunk_rows, memory_limit):
    from distributed import Client

    X = lazy_rows(n_rows, chunk_rows)
    latent_dim = VAETransformer().latent_dim
    print(
        f"Streamed fit over a {X.nbytes / 1e9:.2f} GB lazy dask array "
        f"({n_rows:,} x {N_FEATURES} float64, {X.numblocks[0]} chunks of "
        f"{chunk_rows:,} rows), {N_FEATURES}-64-32-{latent_dim} Gaussian VAE, "
        "one partial_fit per chunk"
    )
    for name, fit in (
        ("dask_ml Incremental", fit_incremental),
        ("paced loop", fit_paced),
    ):
        load = os.getloadavg()
        with (
            local_cluster(memory_limit=memory_limit) as cluster,
            Client(cluster) as client,
        ):
            client.run(import_skvae)  # before the baseline of resident memory
            pids = client.run(os.getpid)
            before = client.run(resident_bytes)
            client.run(start_memory_sampler)
            estimator = VAETransformer(
                hidden_layer_sizes=(64, 32), batch_size=500, random_state=0
            )
            start = time.perf_counter()
            vae = fit(client, estimator, X)
            seconds = time.perf_counter() - start
            peaks = client.run(stop_memory_sampler)
            restarted = client.run(os.getpid) != pids
            workers = client.scheduler_info()["workers"].values()
            limit = next(iter(workers))["memory_limit"]
        print(
            f"  {name}: {vae.n_iter_} partial_fit calls in {seconds:.0f} s, loss per "
            f"row {vae.loss_curve_[0]:.2f} (first chunk) -> {vae.loss_curve_[-1]:.2f} "
            f"(last); workers limited to {limit / 1e9:.2f} GB"
        )
        for address in sorted(peaks):
            rss, spilled = peaks[address]
            print(
                f"    worker {address}: peak RSS {rss / 1e6:.0f} MB (before the "
                f"fit {before[address] / 1e6:.0f} MB), at most {spilled / 1e6:.0f} MB "
                "spilled to disk"
            )
        print(
            f"    workers restarted: {restarted}; load average before "
            f"{load[0]:.1f}, after {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["search", "stream", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--rows", type=int, default=8_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--memory-limit", default="1GB")
    args = parser.parse_args()
    if args.part in ("search", "both"):
        bench_search(args.repeats, args.window)
    if args.part in ("stream", "both"):
        bench_stream(args.rows, args.chunk_rows, args.memory_limit)
