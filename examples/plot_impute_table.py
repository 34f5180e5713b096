"""
============================================
Filling the missing cells of a mixed table
============================================

:class:`skvae.VAEImputer` fills the missing cells of a table of numbers and
text in one model: a number gets its conditional mean given the row's observed
cells, a text cell its most probable level, and a DataFrame comes back with
the same columns and dtypes. Here cells are removed at random from the Palmer
penguins, filled, and compared with the truth and with scikit-learn's
imputers; then the imputer goes into a :class:`~sklearn.pipeline.Pipeline`
that predicts the species from rows with holes.
"""

import matplotlib.pyplot as plt
import numpy as np
from palmerpenguins import load_penguins
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skvae import VAEImputer

# %%
# Cells removed at random
# -----------------------
# The penguins whose cells are all known, without the year of measurement.
# A fifth of the cells are removed completely at random (no row is left
# empty), so that the truth of each filled cell is known.

penguins = load_penguins().drop(columns="year").dropna().reset_index(drop=True)
rng = np.random.RandomState(0)
missing = rng.rand(*penguins.shape) < 0.2
missing[missing.all(axis=1), 0] = False
holed = penguins.mask(missing)
print(holed.head().to_string())
print(f"{missing.sum()} of {missing.size} cells removed")

# %%
# One model for every column
# --------------------------
# The imputer takes the DataFrame as it is: ``likelihood="auto"`` (its
# default) gives each column a family that fits it: a softmax over the levels
# of a text column, a continuous family for a number, and atoms (its frequent
# exact values) beside a continuous family for whole numbers, here grams and
# millimetres; ``likelihoods_`` says which. The filled table has the columns
# and dtypes of the table with holes, and its observed cells are unchanged.

imputer = VAEImputer(random_state=0)
filled = imputer.fit_transform(holed)
for column, family in imputer.likelihoods_.items():
    print(f"{column:>18}: {family:<17} dtype {filled[column].dtype}")
print(filled.head().round(1).to_string())

# %%
# Filled numbers against the truth
# --------------------------------
# Each point is a removed cell: its true value and the value the imputer gave
# it, coloured by the penguin's species. The dashed line is the column's mean,
# which :class:`~sklearn.impute.SimpleImputer` would give every such cell.

columns = ["flipper_length_mm", "body_mass_g"]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, column in zip(axes, columns, strict=True):
    rows = holed[column].isna()
    truth, guess = penguins.loc[rows, column], filled.loc[rows, column]
    for species, group in penguins[rows].groupby("species").groups.items():
        ax.scatter(truth[group], guess[group], s=14, label=species)
    low, high = truth.min(), truth.max()
    ax.plot([low, high], [low, high], color="grey", lw=1, label="filled = true")
    ax.axhline(holed[column].mean(), color="grey", ls="--", lw=1, label="mean")
    ax.set(xlabel=f"true {column}", ylabel=f"filled {column}")
    ax.legend()
fig.suptitle("VAEImputer on the removed cells")
fig.tight_layout()
plt.show()

# %%
# Against scikit-learn's imputers
# -------------------------------
# :class:`~sklearn.impute.SimpleImputer` fills a number with its column's mean
# and a text cell with its column's most frequent level;
# :class:`~sklearn.impute.IterativeImputer` regresses each numeric column on
# the others (it takes numbers only, so its text cells are the most frequent
# level too). Errors are in the columns' units; accuracies are the shares of
# removed text cells given their true level.

numbers = penguins.select_dtypes(include="number").columns
text = penguins.columns.difference(numbers, sort=False)
simple_imputer = make_column_transformer(
    (SimpleImputer(), make_column_selector(dtype_include="number")),
    (
        SimpleImputer(strategy="most_frequent"),
        make_column_selector(dtype_exclude="number"),
    ),
    verbose_feature_names_out=False,
).set_output(transform="pandas")
baseline = simple_imputer.fit_transform(holed)[penguins.columns]
iterative = baseline.copy()
iterative[numbers] = IterativeImputer(max_iter=20, random_state=0).fit_transform(
    holed[numbers]
)


def errors(table):
    """Root mean squared error of each numeric column, accuracy of each text one."""
    scores = {}
    for column in penguins.columns:
        rows = holed[column].isna()
        truth, guess = penguins.loc[rows, column], table.loc[rows, column]
        if column in numbers:
            scores[column] = np.sqrt(np.mean((truth - guess) ** 2))
        else:
            scores[column] = np.mean(truth == guess)
    return scores


results = {
    "SimpleImputer": errors(baseline),
    "IterativeImputer": errors(iterative),
    "VAEImputer": errors(filled),
}
print(f"{'':18}" + "".join(f"{name:>18}" for name in results))
for column in penguins.columns:
    kind = "RMSE" if column in numbers else "accuracy"
    cells = "".join(f"{scores[column]:>18.3f}" for scores in results.values())
    print(f"{column:<18}{cells}  ({kind})")

# %%
# A filled cell uses the row's observed cells: a penguin's bill and flippers
# say much about its species, and its species about its weight. A column's
# mean uses none of that, and :class:`~sklearn.impute.IterativeImputer` uses
# the numbers only.

# %%
# In a pipeline
# -------------
# The imputer is a transformer like any other: here it fills the holes of the
# rows before the text columns are one-hot encoded and a
# :class:`~sklearn.linear_model.LogisticRegression` predicts the species. Each
# fold of :func:`~sklearn.model_selection.cross_val_score` fits the imputer on
# its training rows only.

X, y = holed.drop(columns="species"), penguins["species"]
encode = make_column_transformer(
    (StandardScaler(), make_column_selector(dtype_include="number")),
    (OneHotEncoder(), make_column_selector(dtype_exclude="number")),
)
imputers = {"SimpleImputer": simple_imputer, "VAEImputer": VAEImputer(random_state=0)}
for name, imputer in imputers.items():
    model = make_pipeline(imputer, encode, LogisticRegression())
    accuracy = cross_val_score(model, X, y, cv=3)
    print(f"{name}: accuracy {accuracy.mean():.3f} (sd {accuracy.std():.3f})")
