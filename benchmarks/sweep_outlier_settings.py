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
# standardised Laplace, early stopping, 50 importance draws, trimmed training,
# beta=2) in one or two places.
SETTINGS = {
    "defaults": {},
    "one draw (the ELBO)": {"n_importance_samples": 1},
    "early_stopping=False": {"early_stopping": False},
    "hidden (256, 128)": {"hidden_layer_sizes": (256, 128)},
    "latent_dim=3": {"latent_dim": 3},
    "latent_dim=4": {"latent_dim": 4},
    "latent_dim=8": {"latent_dim": 8},
    "batch_size=64": {"batch_size": 64},
    "n_iter_no_change=5": {"n_iter_no_change": 5},
    "activation=relu": {"activation": "relu"},
    "activation=logistic": {"activation": "logistic"},
    "input_dropout=0.2": {"input_dropout": 0.2},
    "beta=0.5": {"beta": 0.5},
    "beta=1": {"beta": 1.0},
    "beta=1.5": {"beta": 1.5},
    "beta=2": {"beta": 2.0},
    "beta=4": {"beta": 4.0},
    "hidden (128, 64)": {"hidden_layer_sizes": (128, 64)},
    "hidden (32, 16)": {"hidden_layer_sizes": (32, 16)},
    "hidden (16,)": {"hidden_layer_sizes": (16,)},
    "latent_dim=1": {"latent_dim": 1},
    "learning_rate=3e-3": {"learning_rate": 3e-3},
    "learning_rate=3e-4": {"learning_rate": 3e-4},
    "kl_warmup_epochs=10": {"kl_warmup_epochs": 10},
    "validation_fraction=0.2": {"validation_fraction": 0.2},
    "validation_fraction=0.3": {"validation_fraction": 0.3},
    "validation_fraction=0.4": {"validation_fraction": 0.4},
    "validation_fraction=0.3, hidden (16,)": {
        "validation_fraction": 0.3,
        "hidden_layer_sizes": (16,),
    },
    "validation_fraction=0.3, hidden (32, 16)": {
        "validation_fraction": 0.3,
        "hidden_layer_sizes": (32, 16),
    },
    "validation_fraction=0.3, kl_warmup_epochs=10": {
        "validation_fraction": 0.3,
        "kl_warmup_epochs": 10,
    },
    "validation_fraction=0.3, learning_rate=3e-4": {
        "validation_fraction": 0.3,
        "learning_rate": 3e-4,
    },
    "init=random": {"init": "random"},
    "support_fraction=1 (no trimming)": {"support_fraction": 1.0},
    "support_fraction=0.9": {"support_fraction": 0.9},
    "support_fraction=0.8": {"support_fraction": 0.8},
    "support_fraction=0.6": {"support_fraction": 0.6},
    "support_warmup_epochs=0": {"support_warmup_epochs": 0},
    "support_warmup_epochs=5": {"support_warmup_epochs": 5},
    "support_warmup_epochs=15": {"support_warmup_epochs": 15},
    "support_warmup_epochs=20": {"support_warmup_epochs": 20},
    "beta=1, support_warmup_epochs=15": {"beta": 1.0, "support_warmup_epochs": 15},
    "beta=1.5, support_warmup_epochs=15": {"beta": 1.5, "support_warmup_epochs": 15},
    "beta=1.5, support_warmup_epochs=20": {"beta": 1.5, "support_warmup_epochs": 20},
    "likelihood=gaussian": {"likelihood": "gaussian"},
    "likelihood=gaussian_standardised": {"likelihood": "gaussian_standardised"},
    "likelihood=laplace": {"likelihood": "laplace"},
    "likelihood=gaussian, relu": {"likelihood": "gaussian", "activation": "relu"},
    "VAETransformer's defaults": {
        "hidden_layer_sizes": (256, 128),
        "activation": "relu",
        "likelihood": "gaussian",
        "early_stopping": False,
    },
    # Trimmed refits (see TrimmedRefit): ``trim`` is the share of training rows
    # left out of the second fit, or "fence" for the rows below ``offset_``.
    "refit without lowest 5%": {"trim": 0.05},
    "refit without lowest 10%": {"trim": 0.1},
    "refit without lowest 20%": {"trim": 0.2},
    "refit without rows below offset_": {"trim": "fence"},
    "3 refits, each without lowest 10%": {"trim": 0.1, "refits": 3},
    # An ensemble (see SeedEnsemble): the mean score of detectors that differ
    # only in their random_state.
    "mean score of 5 seeds": {"ensemble": 5},
}


class TrimmedRefit:
    """Fit, then refit ``refits`` times giving the lowest-scoring rows weight 0.

    A trimmed likelihood: rows that the previous fit found least likely (the
    share ``trim`` of them, or those below its ``offset_`` for "fence") do not
    train the next one, so that outliers in the training data shape the model
    less.
    """

    def __init__(self, trim, refits=1, **params):
        self.trim, self.refits, self.params = trim, refits, params

    def fit(self, X):
        weights = np.ones(len(X))
        for refit in range(self.refits + 1):
            self.detector_ = VAEOutlierDetector(**self.params)
            self.detector_.fit(X, sample_weight=weights)
            if refit == self.refits:
                return self
            scores = self.detector_.score_samples(X)
            threshold = (
                self.detector_.offset_
                if self.trim == "fence"
                else np.quantile(scores, self.trim)
            )
            weights = (scores >= threshold).astype(float)
        return self

    def score_samples(self, X):
        return self.detector_.score_samples(X)


class SeedEnsemble:
    """``size`` detectors with seeds ``seed * size + k``; scores are their mean."""

    def __init__(self, size, seed, **params):
        self.detectors = [
            VAEOutlierDetector(random_state=seed * size + k, **params)
            for k in range(size)
        ]

    def fit(self, X):
        for detector in self.detectors:
            detector.fit(X)
        return self

    def score_samples(self, X):
        return np.mean([detector.score_samples(X) for detector in self.detectors], 0)


def make(trim=None, refits=1, ensemble=None, **params):
    def make(seed):
        if ensemble is not None:
            return SeedEnsemble(ensemble, seed, **params)
        if trim is None:
            return VAEOutlierDetector(random_state=seed, **params)
        return TrimmedRefit(trim, refits, random_state=seed, **params)

    return _Abnormality(make, _negated_score_samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", help="setting names, separated by semicolons")
    parser.add_argument(
        "--likelihood",
        help="the likelihood each setting starts from, unless it sets its own "
        "(default: the detector's)",
    )
    parser.add_argument(
        "--beta",
        type=float,
        help="the KL weight each setting starts from, unless it sets its own "
        "(default: the detector's)",
    )
    args = parser.parse_args()
    names = args.only.split(";") if args.only else list(SETTINGS)
    base = {"likelihood": args.likelihood} if args.likelihood else {}
    if args.beta is not None:
        base["beta"] = args.beta
    data = {name: load() for name, load in DATASETS.items()}
    print(f"{'setting':36s}" + "".join(f"{d:>11s}" for d in data) + f"{'mean':>8s}")
    for name in names:
        aucs = [
            evaluate(make(**{**base, **SETTINGS[name]}), X, y, range(args.seeds)).mean(
                0
            )[0]
            for X, y in data.values()
        ]
        cells = "".join(f"{auc:11.3f}" for auc in aucs)
        print(f"{name:36s}{cells}{np.mean(aucs):8.3f}", flush=True)


if __name__ == "__main__":
    main()
