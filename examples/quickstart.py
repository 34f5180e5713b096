"""Quickstart: skvae.VAETransformer where you would use PCA.

On scikit-learn's bundled 8x8 digits this script

1. reduces the pixels to a few latent dimensions in a Pipeline with
   LogisticRegression, next to PCA at the same dimension;
2. picks ``latent_dim`` with an unsupervised GridSearchCV, which compares models by
   their held-out log-likelihood (``score``), just as it would for PCA;
3. lists the five most unusual test digits according to ``score_samples``;
4. saves the 2-D latent map of the test digits as ``examples/latent_map.png``.

Run it with ``make demo``.
"""

import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skvae import VAETransformer

# On these 1,347 training digits the VAE's loss still creeps down after the default
# 200 epochs, and fit says so with a ConvergenceWarning. The results below are
# already good, so the warning is silenced to keep the output readable.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

print("1. Classification accuracy of LogisticRegression on a reduced code")
for dim in (2, 8):
    for reducer in (PCA(dim), VAETransformer(dim, random_state=0)):
        start = time.perf_counter()
        model = make_pipeline(reducer, LogisticRegression(max_iter=2000))
        model.fit(X_train, y_train)
        print(
            f"   {type(reducer).__name__:>14}({dim}): "
            f"{model.score(X_test, y_test):.3f}  ({time.perf_counter() - start:.1f} s)"
        )

print("2. Choosing the dimension by 3-fold held-out log-likelihood (nats per digit)")
dims = [2, 4, 8]
search = GridSearchCV(VAETransformer(random_state=0), {"latent_dim": dims}, cv=3)
search.fit(X_train)
pca_search = GridSearchCV(PCA(), {"n_components": dims}, cv=3).fit(X_train)
vae_scores = search.cv_results_["mean_test_score"]
pca_scores = pca_search.cv_results_["mean_test_score"]
for dim, vae_score, pca_score in zip(dims, vae_scores, pca_scores, strict=True):
    print(f"   dimension {dim}: VAE {vae_score:8.1f}   PCA {pca_score:8.1f}")
print(f"   best: latent_dim={search.best_params_['latent_dim']}")

print("3. The five most unusual test digits (lowest log-likelihood)")
vae = search.best_estimator_
scores = vae.score_samples(X_test)
for row in np.argsort(scores)[:5]:
    print(
        f"   test row {row:3d}: digit {y_test[row]}, log-likelihood {scores[row]:.1f}"
    )

print("4. The 2-D latent map")
Z = VAETransformer(2, random_state=0).fit(X_train).transform(X_test)
fig, ax = plt.subplots(figsize=(6, 5))
points = ax.scatter(Z[:, 0], Z[:, 1], c=y_test, cmap="tab10", s=12)
fig.colorbar(points, ax=ax, label="digit")
ax.set(title="VAETransformer(latent_dim=2) on test digits", xlabel="z0", ylabel="z1")
path = Path(__file__).with_name("latent_map.png")
fig.savefig(path, dpi=100, bbox_inches="tight")
print(f"   saved {path}")
