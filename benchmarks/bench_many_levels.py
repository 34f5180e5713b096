"""Memory of a table with a column of thousands of levels.

50,000 rows: a text column of about 3,600 levels (Zipf-distributed, as
cities or product codes are), two text columns of 2 and 3 levels and a
number. ``VAETransformer()`` (``likelihood="auto"``) trains for 3 epochs
(``partial_fit``), then ``transform``, ``score_samples`` of 5,000 rows (each
row's 50 importance draws decode all the levels) and ``sample(50_000)`` run;
the script prints the process's peak resident memory after each step. A
dense float64 one-hot of the wide column alone would take about 1.4 GB.

Run: ``.venv/bin/python benchmarks/bench_many_levels.py``.
"""

import resource
import time

import numpy as np
import pandas as pd

from skvae import VAETransformer


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(n_rows: int = 50_000) -> None:
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {
            "city": "city " + pd.Series(rng.zipf(1.3, n_rows) % 5000).astype(str),
            "kind": rng.choice(list("abc"), n_rows),
            "flag": rng.choice(list("xy"), n_rows),
            "size": rng.normal(size=n_rows),
        }
    )
    levels = table["city"].nunique()
    print(f"{n_rows} rows; 'city' has {levels} levels")
    print(f"{'step':<16} {'s':>6} {'peak RSS (MB)':>14}")
    print(f"{'data':<16} {'':>6} {peak_mb():>14.0f}")
    vae = VAETransformer(random_state=0)
    steps = {
        "3 epochs": lambda: [vae.partial_fit(table) for _ in range(3)],
        "transform": lambda: vae.transform(table),
        "score_samples": lambda: vae.score_samples(table[:5000]),
        "sample": lambda: vae.sample(n_rows),
    }
    for name, step in steps.items():
        start = time.perf_counter()
        step()
        print(f"{name:<16} {time.perf_counter() - start:>6.1f} {peak_mb():>14.0f}")


if __name__ == "__main__":
    main()
