"""
=========================================
Training curves and early stopping
=========================================

:class:`skvae.VAETransformer` trains with Adam on minibatches and records the
mean training loss of every epoch, the negative ELBO in nats per row, in
``loss_curve_``, and stops by itself once that curve has levelled off: once
the last ``n_iter_no_change`` epochs gained less than ``tol`` of what it gained
since the second window of as many epochs. With ``early_stopping=True`` it
holds out ``validation_fraction`` of the rows instead, records their mean ELBO
after every epoch in ``validation_scores_``, applies the same rule to that
score, and keeps the weights of the best epoch. On a small data set, where a
large network over-fits, the two curves part ways.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skvae import VAETransformer

# %%
# A small training set
# --------------------
# 800 digits, dequantised (uniform noise added to the integer pixels, then
# scaled to [0, 1)) so that the scores are densities, a wide network, and
# small batches, which make many updates per epoch.

X, _ = load_digits(return_X_y=True)
rng = np.random.RandomState(0)
X = (X + rng.uniform(size=X.shape)) / 17
X_train, X_test = train_test_split(X, train_size=800, random_state=0)

settings = {"latent_dim": 8, "hidden_layer_sizes": (512, 256), "batch_size": 32}
stopped = VAETransformer(**settings, early_stopping=True, random_state=0).fit(X_train)
not_stopped = VAETransformer(**settings, random_state=0).fit(X_train)

# %%
# The curves
# ----------
# ``loss_curve_`` is a loss, so its negative is drawn to put both curves on
# the ELBO's scale, where higher is better. The dotted line marks the best
# validation epoch, whose weights the early-stopped model kept.

best_epoch = int(np.argmax(stopped.validation_scores_)) + 1
epochs = np.arange(1, not_stopped.n_iter_ + 1)
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(
    epochs, -np.array(not_stopped.loss_curve_), label="training, early_stopping=False"
)
ax.plot(
    epochs[: stopped.n_iter_],
    -np.array(stopped.loss_curve_),
    label="training, early_stopping=True",
)
ax.plot(
    epochs[: stopped.n_iter_],
    stopped.validation_scores_,
    label="validation_scores_",
)
ax.axvline(best_epoch, color="gray", ls=":", label=f"best epoch ({best_epoch})")
ax.set(
    xlabel="epoch",
    ylabel="ELBO (nats per digit)",
    ylim=(np.percentile(stopped.validation_scores_, 5), None),
    title="loss_curve_ and validation_scores_",
)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# How long each run trained, and how well each final model scores the digits
# that neither saw:

print(f"early stopping: {stopped.n_iter_} epochs, best at {best_epoch}")
print(f"without it:     {not_stopped.n_iter_} epochs, stopped on the training loss")
for name, vae in (("early stopping", stopped), ("without it", not_stopped)):
    print(f"held-out score, {name}: {vae.score(X_test):.1f} nats per digit")

# %%
# The training ELBO keeps rising while the ELBO of the held-out rows levels
# off: past that point the network learns the training digits rather than
# digits. Early stopping ends the run once the held-out score has levelled and
# returns the best epoch's weights; without it, training goes on until the
# training loss gains little against its progress so far (the default
# ``tol=0.05``: the last 10 epochs gained under 5 % of the gain since epochs
# 11 to 20), though it still rises. The widening gap between the training and
# the validation curve is the sign of over-fitting; a smaller network or more
# data narrow it.
