"""Which VAEOutlierDetector settings separate outliers best: the tuning run.

Fits each setting with the protocol of ``bench_outliers.py`` on the tuning
seeds 100 to 109 (their own train/test splits) and prints the mean test
ROC-AUC per set and over the three. ``VAEOutlierDetector``'s defaults were
chosen with it; ``bench_outliers.py`` then reports them on the other seeds, 0
to 9: other train/test splits of the same rows, as each set's outliers are
drawn once.

Each setting changes the defaults in one place; ``--set`` adds others, such
as pairs of changes that each helped alone.

Run: ``python benchmarks/sweep_outlier_settings.py [--seeds 100 101 ...]
[--only "defaults;tol=0.05"]``
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from bench_outliers import DATASETS, _Abnormality, _negated_score_samples, evaluate

from skvae import VAEOutlierDetector

TUNING_SEEDS = range(100, 110)

SETTINGS = {
    "defaults": {},
    "tol=0.05": {"tol": 0.05},
    "tol=0.1": {"tol": 0.1},
    "tol=0.25": {"tol": 0.25},
    "n_iter_no_change=5": {"n_iter_no_change": 5},
    "n_iter_no_change=auto": {"n_iter_no_change": "auto"},
    "early_stopping=False": {"early_stopping": False},
    "validation_fraction=0.2": {"validation_fraction": 0.2},
    "beta=1": {"beta": 1.0},
    "beta=1.5": {"beta": 1.5},
    "beta=3": {"beta": 3.0},
    "support_fraction=0.6": {"support_fraction": 0.6},
    "support_fraction=0.8": {"support_fraction": 0.8},
    "support_fraction=1 (no trimming)": {"support_fraction": 1.0},
    "support_warmup_epochs=10": {"support_warmup_epochs": 10},
    "support_warmup_epochs=30": {"support_warmup_epochs": 30},
    "hidden (32, 16)": {"hidden_layer_sizes": (32, 16)},
    "hidden (128, 64)": {"hidden_layer_sizes": (128, 64)},
    "latent_dim=3": {"latent_dim": 3},
    "latent_dim=4": {"latent_dim": 4},
    "likelihood=gaussian_standardised": {"likelihood": "gaussian_standardised"},
    "likelihood=laplace": {"likelihood": "laplace"},
    "activation=tanh": {"activation": "tanh"},
    "init=random": {"init": "random"},
}


def make(**params):
    return _Abnormality(
        lambda seed: VAEOutlierDetector(random_state=seed, **params),
        _negated_score_samples,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(TUNING_SEEDS))
    parser.add_argument("--only", help="setting names, separated by semicolons")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=json.loads,
        metavar="JSON",
        help='an extra setting, for example \'{"tol": 0.1, "beta": 1.5}\'',
    )
    args = parser.parse_args()
    settings = dict(SETTINGS)
    names = args.only.split(";") if args.only else list(SETTINGS)
    for params in args.set:
        name = ", ".join(f"{key}={value}" for key, value in params.items())
        settings[name] = params
        names.append(name)
    data = {name: load() for name, load in DATASETS.items()}
    print(f"seeds {args.seeds[0]} to {args.seeds[-1]}: mean test ROC-AUC")
    print(f"{'setting':36s}" + "".join(f"{d:>11s}" for d in data) + f"{'mean':>8s}")
    for name in names:
        aucs = [
            evaluate(make(**settings[name]), X, y, args.seeds).mean(0)[0]
            for X, y in data.values()
        ]
        cells = "".join(f"{auc:11.3f}" for auc in aucs)
        print(f"{name:36s}{cells}{np.mean(aucs):8.3f}", flush=True)


if __name__ == "__main__":
    main()
