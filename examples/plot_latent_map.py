"""
=============================================
A 2-D map of the digits: VAE against PCA
=============================================

With ``latent_dim=2`` the code of every row is a point in the plane, and
``transform`` returns it: the mean of the encoder's posterior ``q(z | x)``.
This example draws the 1,797 8x8 digits on that plane, coloured by their
label, next to the first two principal components. Neither model sees the
labels.

The pixel intensities are scaled to [0, 1] and modelled with the continuous
Bernoulli likelihood, the density made for such values (see
:ref:`sphx_glr_auto_examples_plot_likelihoods.py`).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from skvae import VAETransformer

X, y = load_digits(return_X_y=True)
X = X / 16

# %%
# Two codes of the same digits
# ----------------------------
# Both reducers are fitted and applied the same way. The VAE trains its codes
# towards a standard Normal prior, so they gather around the origin with a
# spread of about one; PCA's are in the units of the pixels.

codes = {
    "PCA(2)": PCA(2).fit_transform(X),
    "VAETransformer(2)": VAETransformer(
        2, likelihood="continuous_bernoulli", random_state=0
    ).fit_transform(X),
}

fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
for ax, (title, Z) in zip(axes, codes.items(), strict=True):
    points = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=6, alpha=0.8)
    for digit in range(10):
        ax.annotate(
            str(digit),
            np.median(Z[y == digit], axis=0),
            fontsize=14,
            weight="bold",
            ha="center",
            va="center",
            bbox={"boxstyle": "circle", "facecolor": "white", "alpha": 0.8},
        )
    ax.set(title=title, xlabel="first coordinate", ylabel="second coordinate")
fig.colorbar(points, ax=axes, label="digit", ticks=range(10))
plt.show()

# %%
# PCA's plane is the best linear view of the pixels' variance: 0, 4, 6 and 3
# reach out to its edges, and the other classes overlap in the middle. The
# VAE's encoder is free to bend, and gives 0, 2, 4, 6 and 7 regions of their
# own, with 3 and 9 side by side, while 5 and 8 still crowd the centre and
# the 1s reach from it up an arm of their own: two numbers per digit are not
# enough for all ten classes. The classes are not
# clusters by design: the map is whatever helps the decoder rebuild the
# pixels. Its layout starts from PCA's (``init='auto'``), so another
# ``random_state`` gives much the same arrangement, each class in the same
# direction, with the details changed.
#
# The numbered circles are the median code of each class. How well a
# classifier does on such codes is measured in
# :ref:`sphx_glr_auto_examples_plot_quickstart.py`; decoding points of the
# plane back to pixels is shown in
# :ref:`sphx_glr_auto_examples_plot_generation.py`.
