"""Default settings on 10,000 x 100 tabular rows: fit time and held-out quality.

The data come from a non-linear latent model: 5 latent factors pass through a
random two-layer tanh network to 100 features, plus Gaussian noise, with
features on different scales. ``VAETransformer(latent_dim=5)`` with every other
setting at its default is compared with ``PCA(5)`` and ``FactorAnalysis(5)`` by
held-out log-likelihood (nats per row, higher is better).

Target: the default fit finishes in under a minute on 2 CPU cores.

Run: ``.venv/bin/python benchmarks/bench_default_fit.py``.
"""

import time

import numpy as np
import torch
from sklearn.decomposition import PCA, FactorAnalysis

from skvae import VAETransformer


def make_data(n_rows, rng, n_latent=5, n_hidden=32, n_features=100):
    """Training and test rows from one random non-linear latent model."""
    hidden_weights = rng.randn(n_latent, n_hidden)
    output_weights = rng.randn(n_hidden, n_features)
    column_scale = rng.uniform(0.1, 10.0, size=n_features)
    column_shift = rng.uniform(-5.0, 5.0, size=n_features)

    def draw(n):
        hidden = np.tanh(rng.randn(n, n_latent) @ hidden_weights)
        X = hidden @ output_weights + 0.5 * rng.randn(n, n_features)
        return X * column_scale + column_shift

    return draw(n_rows), draw(n_rows // 5)


def main():
    rng = np.random.RandomState(0)
    X_train, X_test = make_data(10_000, rng)
    print(f"10,000 x 100 rows, torch {torch.get_num_threads()} threads\n")
    print(f"{'model':<22} {'fit s':>6} {'held-out nats/row':>18}")
    for model in (PCA(5), FactorAnalysis(5), VAETransformer(5, random_state=0)):
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        name = type(model).__name__ + "(5)"
        print(f"{name:<22} {seconds:>6.1f} {model.score(X_test):>18.1f}")
        if isinstance(model, VAETransformer):
            print(f"  epochs run: {model.n_iter_}; under a minute: {seconds < 60}")


if __name__ == "__main__":
    main()
