"""Sparse input at scale, by likelihood: one epoch of ``fit`` for each family.

The same wide 0/1 CSR rows as ``bench_sparse_fit.py`` (the first 20,000 of its
100,000 x 20,000 matrix; 0/1 values are valid counts too) and the same network
(one hidden layer of 128, latent 16, batch 256), one epoch of ``fit`` with each
likelihood that takes sparse rows of counts. The families take turns, so a
change in the machine's load falls on all of them; the script prints each
one's median milliseconds per batch and its ratio to the Bernoulli family's.

Run with ``.venv/bin/python benchmarks/bench_sparse_families.py`` (about 2
minutes on 2 CPU cores); ``--repeats`` sets how many epochs each family gets.
"""

import argparse
import statistics

from bench_sparse_fit import BATCH, fit_one_epoch, make_data

N_ROWS = 20_000
FAMILIES = ("bernoulli", "poisson", "multinomial", "negative_binomial")


def milliseconds_per_batch(X, likelihood):
    _, seconds = fit_one_epoch(X, likelihood)
    return seconds / -(-X.shape[0] // BATCH) * 1000


def main(repeats):
    X = make_data()[:N_ROWS]
    milliseconds_per_batch(X[:BATCH], "bernoulli")  # torch's one-off imports
    times = {family: [] for family in FAMILIES}
    for _ in range(repeats):
        for family in FAMILIES:
            times[family].append(milliseconds_per_batch(X, family))
    medians = {family: statistics.median(runs) for family, runs in times.items()}
    print(
        f"{N_ROWS:,} x {X.shape[1]:,} CSR, 0/1 values; one epoch of fit, "
        f"{repeats} runs each, medians\n"
    )
    print(f"{'likelihood':20s}{'ms per batch':>14s}{'x bernoulli':>13s}")
    for family, median in medians.items():
        print(f"{family:20s}{median:14.1f}{median / medians['bernoulli']:13.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
