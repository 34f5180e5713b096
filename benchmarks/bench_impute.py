"""Imputing numeric cells missing completely at random: VAEImputer against others.

MIWAE's setting (Mattei and Frellsen 2019): a table standardised, a share of its
cells removed completely at random (no row left empty), each imputer fitted on
the table with holes and scored by the mean squared error on the removed cells.
``load_breast_cancer`` is the reported set (MIWAE's notebook: 0.2867 at 50 %).
Settings are chosen on other tables: ``load_wine``, ``load_diabetes`` and
``midwest`` (437 US counties, 24 numeric columns, with a principal-component
spectrum close to breast cancer's; read from the data folder of ``plotnine``,
``pip install --no-deps plotnine``).

Imputers: ``SimpleImputer`` (mean), ``KNNImputer``, ``IterativeImputer``
(BayesianRidge), ``IterativeImputer(ExtraTreesRegressor(n_estimators=100))``
(missForest) and ``VAEImputer`` at its defaults. Under each table,
``VAEImputer``'s error less each other imputer's, paired by mask.

Run: ``.venv/bin/python benchmarks/bench_impute.py --data breast_cancer
--masks 10``.
"""

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler

from skvae import VAEImputer


def imputers(seed: int) -> dict:
    return {
        "SimpleImputer(mean)": SimpleImputer(),
        "KNNImputer": KNNImputer(),
        "IterativeImputer": IterativeImputer(max_iter=20, random_state=seed),
        "missForest": IterativeImputer(
            ExtraTreesRegressor(n_estimators=100, random_state=seed, n_jobs=1),
            max_iter=10,
            random_state=seed,
        ),
        "VAEImputer": VAEImputer(random_state=seed),
    }


def table(name: str) -> np.ndarray:
    """A numeric table: scikit-learn's ``load_<name>``, or plotnine's midwest."""
    if name != "midwest":
        return getattr(datasets, f"load_{name}")().data
    spec = importlib.util.find_spec("plotnine")
    if spec is None:
        raise SystemExit("midwest needs plotnine: pip install --no-deps plotnine")
    path = Path(spec.origin).parent / "data" / "midwest.csv"
    return pd.read_csv(path).select_dtypes("number").drop(columns="PID").to_numpy(float)


def with_holes(X: np.ndarray, rate: float, rng) -> np.ndarray:
    missing = rng.rand(*X.shape) < rate
    empty = np.flatnonzero(missing.all(axis=1))
    missing[empty, rng.randint(X.shape[1], size=len(empty))] = False
    return np.where(missing, np.nan, X)


def main(data: str, rates: list[float], n_masks: int, skip: list[str]) -> None:
    X = StandardScaler().fit_transform(table(data))
    print(f"{data}: {X.shape[0]} x {X.shape[1]}, standardised; {n_masks} masks")
    for rate in rates:
        errors: dict[str, list[tuple[float, float]]] = {}
        for mask in range(n_masks):
            holed = with_holes(X, rate, np.random.RandomState(mask))
            missing = np.isnan(holed)
            for name, imputer in imputers(mask).items():
                if name in skip:
                    continue
                start = time.perf_counter()
                filled = imputer.fit_transform(holed)
                seconds = time.perf_counter() - start
                mse = np.mean((filled[missing] - X[missing]) ** 2)
                errors.setdefault(name, []).append((mse, seconds))
        print(f"\n{rate:.0%} missing: mean squared error on the missing cells")
        for name, values in errors.items():
            mse, seconds = np.mean(values, axis=0)
            spread = np.std([value[0] for value in values])
            print(f"  {name:<22} {mse:.4f} (sd {spread:.4f})  {seconds:5.1f} s")
        print(paired_differences(errors, "VAEImputer"))


def paired_differences(errors: dict, model: str) -> str:
    """``model``'s error less each other imputer's, paired by mask.

    The mean difference over the masks, and its standard error in brackets:
    the masks' tables differ more than the imputers do.
    """
    if model not in errors or len(errors[model]) < 2:
        return ""
    ours = np.array([value[0] for value in errors[model]])
    parts = []
    for name, values in errors.items():
        if name != model:
            difference = ours - np.array([value[0] for value in values])
            standard_error = difference.std(ddof=1) / np.sqrt(len(difference))
            parts.append(f"{name} {difference.mean():+.4f} ({standard_error:.4f})")
    return f"  {model} less, paired by mask: " + ", ".join(parts)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="breast_cancer")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 0.2])
    parser.add_argument("--masks", type=int, default=10)
    parser.add_argument("--skip", nargs="*", default=[])
    args = parser.parse_args()
    main(args.data, args.rates, args.masks, args.skip)
