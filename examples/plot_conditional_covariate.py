"""
===============================================
Removing a covariate's effect from a latent map
===============================================

A latent map shows the largest differences between rows, and some of them are
differences one already knows about and wants to look past: a batch, a
site, the sex of the animals measured. With ``condition_on``,
:class:`skvae.VAETransformer` fits a conditional VAE of ``p(x | c)``: the
condition ``c`` feeds the encoder and the decoder, so the decoder can put its
effect back into the rows and the latent code need not hold it. This example
maps the Palmer penguins' body measurements in two dimensions, without and
with the sex as a condition.
"""

import matplotlib.pyplot as plt
import pandas as pd
from palmerpenguins import load_penguins
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvae import VAETransformer

# %%
# The measurements
# ----------------
# Four measurements of 333 penguins of three species (the rows with a missing
# cell are left out). Males are larger than females of their species, so sex
# is, after species, the largest difference between rows.

measurements = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
penguins = load_penguins().dropna().reset_index(drop=True)
print(penguins.groupby(["species", "sex"])[measurements].mean().round(1))

# %%
# Two maps
# --------
# The first model sees the four measurements only. The second sees them with a
# ``sex`` column, a categorical condition (read one-hot): it models the
# measurements given the sex. Both give each penguin a point with
# ``transform``; the second reads the sex from its column.
#
# Two settings make the maps use both of their dimensions. With the ELBO's KL
# weight of 1, four measurements are explained about as well by one latent
# dimension as by two, and the second one stays at the prior; ``beta=0.3``
# lowers the price of a dimension (a beta-VAE). And with 333 rows the default
# batches of 200 rows give two training steps an epoch; batches of 32 give 11.

table = penguins[measurements].assign(sex=pd.Categorical(penguins["sex"]))

settings = {"beta": 0.3, "batch_size": 32, "random_state": 0}
plain = VAETransformer(2, **settings).fit(table[measurements])
conditional = VAETransformer(2, condition_on="sex", **settings).fit(table)
maps = {
    "VAETransformer(2)": plain.transform(table[measurements]),
    'VAETransformer(2, condition_on="sex")': conditional.transform(table),
}

fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
for ax, (title, Z) in zip(axes, maps.items(), strict=True):
    for colour, species in zip(
        ["C0", "C1", "C2"], ["Adelie", "Chinstrap", "Gentoo"], strict=True
    ):
        for marker, sex in [("o", "female"), ("^", "male")]:
            rows = (penguins["species"] == species) & (penguins["sex"] == sex)
            ax.scatter(
                *Z[rows.to_numpy()].T,
                s=16,
                c=colour,
                marker=marker,
                alpha=0.7,
                label=f"{species}, {sex}",
            )
    ax.set_title(title)
    ax.set_xlabel("latent 1")
    ax.set_ylabel("latent 2")
axes[1].legend(fontsize=8)
plt.show()

# %%
# On the first map each species splits in two, males on one side and females
# on the other. On the second map the sexes of each species mostly overlap, and the
# species remain apart: the sex is the condition, so the code no longer has
# to hold it.
#
# How much of the sex is left on each map
# ---------------------------------------
# A logistic regression predicts the sex of each penguin from its point on a
# map, among the penguins of one species (5-fold cross-validated accuracy,
# with the map's two coordinates standardised; Adelie and Chinstrap have as
# many males as females, Gentoo nearly (58 and 61), so chance is about 0.5).
# For reference, the same classifier on
# the four measurements themselves. Another predicts the species from the
# whole map.

folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
features = {"the four measurements": table[measurements].to_numpy(), **maps}
for name, values in features.items():
    print(name)
    for species in ["Adelie", "Chinstrap", "Gentoo"]:
        rows = (penguins["species"] == species).to_numpy()
        accuracy = cross_val_score(
            make_pipeline(StandardScaler(), LogisticRegression()),
            values[rows],
            penguins["sex"][rows],
            cv=folds,
        ).mean()
        print(f"  sex of the {species} penguins: {accuracy:.2f}")
    accuracy = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression()),
        values,
        penguins["species"],
        cv=folds,
    ).mean()
    print(f"  species: {accuracy:.2f}")

# %%
# The plain map keeps what the measurements say about sex; on the conditional
# map the sex is far closer to chance within every species (0.43 to 0.57,
# against about 0.9 on the plain map), while the species is as easy to tell as
# on the plain map. What is left on the conditional map is how
# each penguin differs from the others of its species and sex: a large female
# and a large male of one species get the same region.
