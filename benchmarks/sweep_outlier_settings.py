"""Which VAEOutlierDetector settings separate outliers best on the ODDS sets.

Fits each candidate setting with the protocol of ``bench_outliers.py`` and
prints the mean test ROC-AUC per set and overall; the defaults of
``VAEOutlierDetector`` are the best setting this sweep found.

Run: ``python benchmarks/sweep_outlier_settings.py [--seeds 5]``
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_outliers import DATASETS, _Abnormality, _negated_score_samples, evaluate

from skvae import VAEOutlierDetector

# Each setting changes the detector's defaults (a (64, 32) tanh network, the
# standardised Gaussian, early stopping, 50 importance draws) in one or two places.
SETTINGS = {
    "defaults": {},
    "one draw (the ELBO)": {"n_importance_samples": 1},
    "early_stopping=False": {"early_stopping": False},
    "hidden (256, 128)": {"hidden_layer_sizes": (256, 128)},
    "latent_dim=4": {"latent_dim": 4},
    "latent_dim=8": {"latent_dim": 8},
    "batch_size=64": {"batch_size": 64},
    "n_iter_no_change=5": {"n_iter_no_change": 5},
    "activation=relu": {"activation": "relu"},
    "activation=logistic": {"activation": "logistic"},
    "input_dropout=0.2": {"input_dropout": 0.2},
    "likelihood=gaussian": {"likelihood": "gaussian"},
    "likelihood=gaussian, relu": {"likelihood": "gaussian", "activation": "relu"},
    "VAETransformer's defaults": {
        "hidden_layer_sizes": (256, 128),
        "activation": "relu",
        "likelihood": "gaussian",
        "early_stopping": False,
    },
}


def detector(**params):
    return _Abnormality(
        lambda seed: VAEOutlierDetector(random_state=seed, **params),
        _negated_score_samples,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", help="setting names, separated by semicolons")
    args = parser.parse_args()
    names = args.only.split(";") if args.only else list(SETTINGS)
    data = {name: load() for name, load in DATASETS.items()}
    print(f"{'setting':36s}" + "".join(f"{d:>11s}" for d in data) + f"{'mean':>8s}")
    for name in names:
        aucs = [
            evaluate(detector(**SETTINGS[name]), X, y, range(args.seeds))[:, 0].mean()
            for X, y in data.values()
        ]
        cells = "".join(f"{auc:11.3f}" for auc in aucs)
        print(f"{name:36s}{cells}{np.mean(aucs):8.3f}", flush=True)


if __name__ == "__main__":
    main()
