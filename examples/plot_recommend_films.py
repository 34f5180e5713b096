"""
============================================
Recommending films from implicit feedback
============================================

A table of users by items, 1 where a user liked an item, is all a
recommender of the Mult-VAE kind (Liang et al., 2018) needs. This example
fits :class:`skvae.VAETransformer` with Mult-VAE's recipe to the films that
MovieLens-100k users rated 4 or 5, lists one user's films and the films
:meth:`~skvae.VAETransformer.recommend` picks for them, and checks the
recommendations on films hidden from the model.

MovieLens may not be redistributed; the data comes from the copy that RecBole
ships (``pip install --no-deps recbole``), read from the installed package.
"""

from importlib import resources

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import clone

from skvae import VAETransformer

# %%
# Users by films
# --------------
# Ratings of 4 or more count as likes. The columns of the table are the film
# titles, so that the model gives titles back.

folder = resources.files("recbole") / "dataset_example/ml-100k"


def read_atomic(name):
    """A RecBole atomic file, its columns named without their type."""
    table = pd.read_csv(folder / name, sep="\t")
    return table.rename(columns=lambda column: column.split(":")[0])


films = read_atomic("ml-100k.item").set_index("item_id")
titles = films["movie_title"] + " (" + films["release_year"].astype(str) + ")"
ratings = read_atomic("ml-100k.inter")
likes = ratings[ratings["rating"] >= 4].assign(film=lambda t: t["item_id"].map(titles))
X = pd.crosstab(likes["user_id"], likes["film"]).clip(upper=1).astype(float)
print(f"{X.shape[0]} users x {X.shape[1]} films, {int(X.values.sum())} likes")

# %%
# Mult-VAE's recipe
# -----------------
# One hidden layer of 600 tanh units, 200 latent dimensions, a multinomial
# likelihood (the decoder ends in a softmax over the films), input dropout 0.5
# and the KL weight raised from 0 to 0.2 over the first 20 epochs. One user in
# ten is kept out of training for the check at the end.

rng = np.random.RandomState(0)
test_users = rng.rand(len(X)) < 0.1
vae = VAETransformer(
    latent_dim=200,
    hidden_layer_sizes=(600,),
    activation="tanh",
    likelihood="multinomial",
    input_dropout=0.5,
    beta=0.2,
    kl_warmup_epochs=20,
    random_state=0,
)
vae.fit(X[~test_users])
print(f"trained for {vae.n_iter_} epochs")

# %%
# One user's films and their recommendations
# ------------------------------------------
# ``recommend`` ranks every film by the decoder's probability at the user's
# posterior mean and leaves out the films the user already liked. The user is
# one the model never saw in training.

user = X[test_users].iloc[[0]]
liked = user.columns[user.iloc[0] > 0]
print(f"user {user.index[0]} liked {len(liked)} films, among them:")
print("\n".join(f"  {title}" for title in liked[:10]))
films_for_user, scores = vae.recommend(user, n=10)
print("recommended:")
print("\n".join(f"  {title}" for title in films_for_user[0]))

# %%
# The scores are the probabilities that the user's next like is each film.

fig, ax = plt.subplots(figsize=(7, 4))
ax.barh(films_for_user[0][::-1], scores[0][::-1])
ax.set_xlabel("probability of the next like")
ax.set_title(f"Top 10 for user {user.index[0]}")
fig.tight_layout()
plt.show()

# %%
# Hidden films come back
# ----------------------
# For each user kept out of training, hide a fifth of their liked films, ask
# for 20 recommendations from the rest, and count how many hidden films are
# among them (Recall@20, the hits divided by ``min(20, number hidden)``).

new_users = X[test_users]
hidden = (new_users > 0) & (rng.rand(*new_users.shape) < 0.2)
seen = new_users.mask(hidden, 0.0)


def recall_at_20(recommended):
    """Mean share of each new user's hidden films among their 20 recommended."""
    hits = np.array(
        [
            hidden.loc[user, films].sum()
            for user, films in zip(hidden.index, recommended, strict=True)
        ]
    )
    n_hidden = hidden.sum(axis=1).to_numpy()
    return np.mean(hits[n_hidden > 0] / np.minimum(20, n_hidden[n_hidden > 0]))


top_20, _ = vae.recommend(seen, n=20)
popularity = X[~test_users].sum()
most_popular_unseen = [
    popularity[row == 0].nlargest(20).index for _, row in seen.iterrows()
]
print(f"Recall@20 over {len(new_users)} new users: {recall_at_20(top_20):.3f}")
print(
    f"the 20 most popular unseen films instead: {recall_at_20(most_popular_unseen):.3f}"
)

# %%
# Each user's own posterior
# -------------------------
# The encoder is one network for every user, trained on noisy copies of the
# rows. ``refine_steps`` starts each user's posterior from the encoder's and
# takes that many gradient steps up the user's own ELBO before ranking. It
# pairs with the full KL weight (``beta=1``), which keeps the refined
# posteriors near the prior.

refined_vae = clone(vae).set_params(beta=1.0).fit(X[~test_users])
top_20_refined, _ = refined_vae.recommend(seen, n=20, refine_steps=30)
print(f"beta=1, refined posteriors: {recall_at_20(top_20_refined):.3f}")

# %%
# ``benchmarks/bench_recommend.py`` runs Mult-VAE's full protocol (several
# splits, NDCG@100, Recall@20 and Recall@50) against the most popular films,
# item-kNN, EASE and cornac's Mult-VAE; its table is on the benchmarks page.
