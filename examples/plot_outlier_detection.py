"""
=================================
Outlier detection and explanation
=================================

:class:`skvae.VAEOutlierDetector` scores each row by its log-likelihood under a
variational autoencoder: rows the model finds unlikely are outliers. This
example rebuilds the "wbc" set of the ODDS benchmark (benign breast-cancer
biopsies with a few malignant ones mixed in), trains on unlabelled rows that
already contain outliers, and compares the scores on held-out rows with
:class:`~sklearn.ensemble.IsolationForest`. Then it asks *why* a row is
unusual, with ``feature_log_likelihoods``.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import IsolationForest
from sklearn.metrics import RocCurveDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvae import VAEOutlierDetector

data = load_breast_cancer(as_frame=True)
X, malignant = data.data, data.target == 0
rng = np.random.RandomState(0)
outlier_rows = rng.choice(np.flatnonzero(malignant), 21, replace=False)
rows = np.concatenate([np.flatnonzero(~malignant), outlier_rows])
X, is_outlier = X.iloc[rows], malignant.iloc[rows].to_numpy()
X_train, X_test, _, y_test = train_test_split(
    X, is_outlier, test_size=0.4, stratify=is_outlier, random_state=0
)

# %%
# Fit on unlabelled rows, score new ones
# --------------------------------------
# The detector never sees the labels. ``score_samples`` is the estimated
# log-likelihood of each row in nats (low means unusual); ``predict`` marks
# rows below the threshold ``offset_`` with -1.

vae = make_pipeline(StandardScaler(), VAEOutlierDetector(random_state=0))
forest = make_pipeline(StandardScaler(), IsolationForest(random_state=0))
vae.fit(X_train)
forest.fit(X_train)
scores = vae.score_samples(X_test)
flagged = vae.predict(X_test) == -1
print(
    f"flagged {flagged.sum()} of {len(X_test)} test rows, {y_test[flagged].sum()} "
    f"of them malignant ({y_test.sum()} malignant rows in all)"
)

fig, (hist, roc) = plt.subplots(1, 2, figsize=(10, 4))
bins = np.linspace(scores.min(), scores.max(), 50)
hist.hist(scores[~y_test], bins=bins, alpha=0.7, label="benign (inliers)")
hist.hist(scores[y_test], bins=bins, alpha=0.7, label="malignant (outliers)")
hist.axvline(vae[-1].offset_, color="k", linestyle="--", label="offset_")
hist.set(
    xlabel="score_samples (log-likelihood, nats)", ylabel="test rows", yscale="log"
)
hist.legend()
RocCurveDisplay.from_predictions(y_test, -scores, name="VAEOutlierDetector", ax=roc)
RocCurveDisplay.from_predictions(
    y_test, -forest.score_samples(X_test), name="IsolationForest", ax=roc
)
roc.set_title("Held-out ROC curves")
fig.tight_layout()

# %%
# Which features make a row unusual
# ---------------------------------
# ``feature_log_likelihoods`` splits each row's log-likelihood into one term
# per feature. Compared with the typical benign row, the most unusual test
# row is less likely in every feature, and furthest below in a few (symmetry
# error, perimeter error, area error and mean compactness, about 10 nats
# each): those are where to look first.

per_feature = vae.named_steps["vaeoutlierdetector"].feature_log_likelihoods(
    vae[:-1].transform(X_test)
)
worst = np.argmin(scores)
typical = np.median(per_feature[~y_test], axis=0)
difference = per_feature[worst] - typical
order = np.argsort(difference)[:10]

fig, ax = plt.subplots(figsize=(7, 4))
ax.barh(X.columns[order][::-1], difference[order][::-1])
ax.set(
    xlabel="log-likelihood against the median benign row (nats)",
    title=f"Test row {worst}: "
    + ("malignant" if y_test[worst] else "benign")
    + f", score {scores[worst]:.1f} nats",
)
fig.tight_layout()
plt.show()
