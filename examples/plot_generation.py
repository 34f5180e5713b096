"""
=========================================
Generating and reconstructing digits
=========================================

A VAE is a generative model: ``sample`` draws latent points from the prior
(a Gaussian mixture fitted to the training digits' posteriors, see
``latent_prior``) and decodes them, and ``inverse_transform`` decodes any latent
points, for example the codes ``transform`` gives to real rows. This example
fits :class:`skvae.VAETransformer` to the 8x8 digits and shows new digits,
reconstructions of held-out digits, and a walk through the latent space from
one digit to another.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skvae import VAETransformer

X, y = load_digits(return_X_y=True)
X = X / 16  # intensities in [0, 1], for the continuous Bernoulli likelihood
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

vae = VAETransformer(
    latent_dim=8, likelihood="continuous_bernoulli", random_state=0
).fit(X_train)


def show_digits(images, title, row_labels=None):
    """Draw 8x8 images on a grid, one row of the grid per row of ``images``."""
    n_rows, n_cols = images.shape[:2]
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(n_cols * 0.8, n_rows * 0.8 + 0.5), squeeze=False
    )
    for ax, image in zip(axes.ravel(), images.reshape(-1, 64), strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, label in zip(axes[:, 0], row_labels or [], strict=False):
        ax.set_ylabel(label, fontsize=9)
    fig.suptitle(title)
    plt.show()


# %%
# New digits
# ----------
# ``sample(return_mean=True)`` returns the decoder's mean ``E[x | z]`` for
# latent points drawn from the prior: each pixel's expected intensity. Without
# ``return_mean`` every pixel would be drawn independently from its own
# distribution given ``z``, which is what the model generates, but a noisy
# picture.

samples = vae.sample(32, random_state=0, return_mean=True)
show_digits(samples.reshape(4, 8, 64), "sample(32, return_mean=True)")

# %%
# Most draws are recognisable digits; some fall between classes: the prior,
# fitted to the training digits' posteriors, still has some mass between the
# regions that the digits of each class occupy.
#
# Reconstructions
# ---------------
# One held-out digit of each class (top) and its reconstruction (bottom):
# encoded to its posterior mean with ``transform``, then decoded with
# ``inverse_transform``. The model has not seen these digits.

originals = X_test[[np.flatnonzero(y_test == digit)[0] for digit in range(10)]]
reconstructions = vae.inverse_transform(vae.transform(originals))
show_digits(
    np.stack([originals, reconstructions]),
    "inverse_transform(transform(X))",
    row_labels=["input", "decoded"],
)

# %%
# Eight numbers per digit keep the overall shape, and for most digits the
# class: here the 2, the 3 and the 8 come back closer to other digits. Thin
# strokes and the exact position of the ink are smoothed away, which is what
# the decoder's mean of a probabilistic model should do.
#
# From one digit to another
# -------------------------
# Points on the straight line between the codes of a held-out 0 and a
# held-out 7 decode to a gradual change of shape.

z_start, z_end = vae.transform(originals[[0, 7]])
steps = np.linspace(0, 1, 10)[:, np.newaxis]
path = vae.inverse_transform((1 - steps) * z_start + steps * z_end)
show_digits(path[np.newaxis], "inverse_transform along a line in latent space")
