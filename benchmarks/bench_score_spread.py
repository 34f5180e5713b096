"""How much a fitted model's ``score`` moves with its importance draws.

``score_samples`` estimates each row's ``log p(x)`` with the importance-weighted
bound of ``n_importance_samples`` (K) posterior draws. The draws are fixed when
the model is fitted and shared by every row, so that a row scores the same
alone or among others; their Monte Carlo error is then shared too, and does
not average out over the rows of ``score``.

Protocol: scikit-learn's ``load_digits`` (1,797 rows, 64 pixel columns), 70/30
split with ``random_state=0``. ``VAETransformer()`` (default settings) and
``VAETransformer(2)`` are fitted once each (``random_state=0``) on the training
rows; each then scores the held-out rows with 20 sets of K = 50 draws (the
default), 20 of K = 200 and 5 of K = 1,000. The draws' seed is a fitted
attribute, ``_score_seed``, set here by hand: skvae has no public way to redraw
them, as a refit with another ``random_state`` would change the model too. The
script prints, per model and K, the mean, standard deviation and range of
``score`` over the sets of draws, in nats per row.

Run: ``.venv/bin/python benchmarks/bench_score_spread.py``
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skvae import VAETransformer

DRAW_SETS = {50: 20, 200: 20, 1000: 5}


def scores_over_draw_sets(vae, X, n_draws: int, n_sets: int) -> np.ndarray:
    """``vae.score(X)`` under ``n_sets`` sets of ``n_draws`` importance draws."""
    vae.set_params(n_importance_samples=n_draws)
    scores = []
    for seed in range(n_sets):
        vae._score_seed = 1_000 + seed
        scores.append(vae.score(X))
    return np.array(scores)


def main() -> None:
    X, _ = load_digits(return_X_y=True)
    train, test = train_test_split(X, test_size=0.3, random_state=0)
    print(f"{'model':<26} {'K':>5} {'mean':>9} {'sd':>6} {'min':>9} {'max':>9}")
    for name, vae in (
        ("VAETransformer()", VAETransformer(random_state=0)),
        ("VAETransformer(2)", VAETransformer(2, random_state=0)),
    ):
        vae.fit(train)
        for n_draws, n_sets in DRAW_SETS.items():
            s = scores_over_draw_sets(vae, test, n_draws, n_sets)
            print(
                f"{name:<26} {n_draws:>5} {s.mean():>9.3f} {s.std(ddof=1):>6.3f} "
                f"{s.min():>9.3f} {s.max():>9.3f}"
            )


if __name__ == "__main__":
    main()
