"""
============================================
A mixed table end to end
============================================

Real tables mix numbers, integers, booleans and text, and miss some cells.
With its default ``likelihood="auto"``, :class:`skvae.VAETransformer` gives
each column of a DataFrame a likelihood that fits its dtype (a softmax over
the levels of a text or category column, a Gaussian for a number) and gives
DataFrames with the same columns and dtypes back. This example maps the
Palmer penguins in two dimensions, generates synthetic penguins, and asks
:class:`skvae.VAEOutlierDetector` which penguins are unusual, and in which
columns.
"""

import matplotlib.pyplot as plt
import numpy as np
from palmerpenguins import load_penguins

from skvae import VAEOutlierDetector, VAETransformer

# %%
# The table
# ---------
# 344 penguins of three species on three islands: four measurements, the sex,
# and the year. Some cells are missing (NaN): the model reads each row's
# observed cells, and its log-likelihood is that of the observed cells.

penguins = load_penguins()
print(penguins.dtypes)
print(
    f"missing cells: {penguins.isna().sum().sum()}, in "
    f"{penguins.isna().any(axis=1).sum()} rows"
)

# %%
# One model for every column
# --------------------------
# ``likelihoods_`` says which family each column got. Two latent dimensions
# make each penguin's code a point on a map.

vae = VAETransformer(latent_dim=2, random_state=0).fit(penguins)
for column, family in vae.likelihoods_.items():
    print(f"{column:>18}: {family}")

# %%
# A map of the penguins
# ---------------------
# ``transform`` reads the text columns as they are; the species were part of
# what the model saw, and they separate.

Z = vae.transform(penguins)
fig, ax = plt.subplots(figsize=(6, 5))
for species, rows in penguins.groupby("species").groups.items():
    ax.scatter(*Z[rows].T, s=12, label=species)
ax.set_xlabel("latent 1")
ax.set_ylabel("latent 2")
ax.legend(title="species")
plt.show()

# %%
# Synthetic penguins
# ------------------
# ``sample`` draws new rows: a DataFrame with the training columns and dtypes,
# text columns among their training levels, each number column mapped to its
# training distribution (so within its range), years among the training
# years. Each species lives on some islands
# only; the share of synthetic penguins put on an island where the data has
# none of their species measures how well the model learned that.

synthetic = vae.sample(len(penguins))
print(synthetic.head())
pairs = set(zip(penguins["species"], penguins["island"], strict=True))


def share_on_unseen_islands(rows):
    """The share of rows whose species never lives on their island."""
    placed = zip(rows["species"], rows["island"], strict=True)
    return np.mean([pair not in pairs for pair in placed])


unseen = share_on_unseen_islands(synthetic)
print(f"synthetic penguins of a species on an island it never had: {unseen:.1%}")

# %%
# The map above has room between the species that no penguin encodes to.
# ``sample`` draws the codes from a Gaussian mixture fitted to the penguins'
# codes (``latent_prior=10``, the default), which leaves that room empty. The
# prior ``N(0, I)`` that training assumes covers it, and rows decoded from
# there mix species and islands. Training does not change with the prior: the
# same ``random_state`` gives the same network.

from_normal = VAETransformer(latent_dim=2, latent_prior="normal", random_state=0).fit(
    penguins
)
unseen = share_on_unseen_islands(from_normal.sample(len(penguins)))
print(f"the same share with latent_prior='normal': {unseen:.1%}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True, sharey=True)
for ax, (title, table) in zip(
    axes, [("real", penguins), ("synthetic", synthetic)], strict=True
):
    for species, rows in table.groupby("species").groups.items():
        ax.scatter(
            table.loc[rows, "flipper_length_mm"],
            table.loc[rows, "body_mass_g"],
            s=10,
            label=species,
        )
    ax.set_title(title)
    ax.set_xlabel("flipper length (mm)")
axes[0].set_ylabel("body mass (g)")
axes[0].legend()
plt.show()

# %%
# Unusual penguins, and why
# -------------------------
# The outlier detector is the same model. Its ``score_samples`` is each row's
# log-likelihood in nats, and ``feature_log_likelihoods`` splits it into one
# term per column. A column's terms compare across rows, not with another
# column's (a body mass's density per gram against a species' probability),
# so each term is measured against the column's median over all the rows:
# the terms furthest below it name the columns that make a row unusual.

detector = VAEOutlierDetector(random_state=0).fit(penguins)
scores = detector.score_samples(penguins)
terms = detector.feature_log_likelihoods(penguins)
below_typical = terms - terms.median()
unusual = np.argsort(scores)[:5]
for row in unusual:
    worst = below_typical.iloc[row].nsmallest(2).index
    index = penguins.index[row]
    described = ", ".join(f"{column}={penguins.loc[index, column]}" for column in worst)
    print(f"row {row}: {scores[row]:.1f} nats; least likely: {described}")
