"""Recommendations at MovieLens-20M's shape: seconds per epoch, for recommend, memory.

MovieLens-20M under Mult-VAE's protocol has 136,677 users by 20,720 items with
0.35 % of the cells positive. This script generates a CSR matrix of that shape
and density (users' activity log-normal, items' popularity Zipf-like, as in
rating data) and times, on this machine:

- training epochs (``partial_fit`` calls) of ``VAETransformer`` with
  Mult-VAE's recipe (600 tanh units, 200 latent dimensions, multinomial
  likelihood, input dropout 0.5), on the sparse rows as they are: the first
  call, which also builds the network and its PCA start, and a second;
- ``recommend(X, n=100)`` over every row, in batches within scikit-learn's
  ``working_memory`` (default 1 GiB);
- ``recommend(X[:500], n=100, refine_steps=30)``, whose time grows with the
  rows: the time for every row is that times ``n_users / 500``;
- the process's peak resident memory after each step (it includes the
  generated data).

A dense users x items array of float32 would take 11.3 GB.

Run: ``.venv/bin/python benchmarks/bench_recommend_scale.py`` (a few minutes;
``--users`` for a smaller run).
"""

import argparse
import resource
import time

import numpy as np
import scipy.sparse as sp
from bench_recommend import MULT_VAE_RECIPE

from skvae import VAETransformer

N_USERS, N_ITEMS, DENSITY = 136_677, 20_720, 0.0035
REFINED_ROWS = 500


def peak_memory_gib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def implicit_feedback(n_users: int, n_items: int, density: float, seed: int):
    """0/1 rows with skewed user activity and item popularity, about ``density``.

    Repeated draws of a popular item count once, so the draws are scaled up by
    the shortfall of a first pass.
    """
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, n_users)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    item_order = rng.permutation(n_items)
    users = np.arange(n_users)
    draws = activity / activity.mean() * density * n_items
    for _ in range(2):
        per_user = np.maximum(1, np.round(draws)).astype(np.int64)
        items = rng.choice(
            n_items, size=per_user.sum(), p=popularity / popularity.sum()
        )
        X = sp.csr_matrix(
            (
                np.ones(len(items), np.float32),
                (np.repeat(users, per_user), item_order[items]),
            ),
            shape=(n_users, n_items),
        )
        draws *= density * n_users * n_items / X.nnz
    X.data[:] = 1.0  # a repeated draw counts once
    return X


def main(n_users: int, seed: int) -> None:
    start = time.perf_counter()
    X = implicit_feedback(n_users, N_ITEMS, DENSITY, seed)
    print(
        f"{X.shape[0]} x {X.shape[1]} CSR, {X.nnz} positives "
        f"({X.nnz / np.prod(X.shape):.2%}), generated in "
        f"{time.perf_counter() - start:.0f} s; peak memory {peak_memory_gib():.2f} GiB"
    )
    vae = VAETransformer(**MULT_VAE_RECIPE, random_state=seed)
    for call in ("first epoch, with the set-up and PCA start", "a further epoch"):
        start = time.perf_counter()
        vae.partial_fit(X)
        print(
            f"{call}: {time.perf_counter() - start:.0f} s "
            f"(batch {vae.batch_size_}); peak memory {peak_memory_gib():.2f} GiB"
        )
    start = time.perf_counter()
    items, _ = vae.recommend(X, n=100)
    print(
        f"recommend(X, n=100) over {len(items)} rows: "
        f"{time.perf_counter() - start:.0f} s; peak memory {peak_memory_gib():.2f} GiB"
    )
    start = time.perf_counter()
    vae.recommend(X[:REFINED_ROWS], n=100, refine_steps=30)
    seconds = time.perf_counter() - start
    print(
        f"recommend(X[:{REFINED_ROWS}], n=100, refine_steps=30): {seconds:.0f} s, "
        f"{seconds * len(items) / REFINED_ROWS / 3600:.1f} h for every row; "
        f"peak memory {peak_memory_gib():.2f} GiB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=N_USERS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.users, args.seed)
