"""
==========================================
Generating digits of a chosen class
==========================================

``condition_on`` makes :class:`skvae.VAETransformer` a conditional VAE: the
named columns of ``X`` feed the encoder and the decoder but are not modelled,
so the model learns ``p(x | c)`` instead of ``p(x)``. Fitted on the 8x8 digits
with their label as the condition, it generates digits of any class on
request, and because the label is given, the latent code is free to hold what
the label does not say: the style of the handwriting. This example generates
digits of each class, then redraws real digits in every other class.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from skvae import VAETransformer

# %%
# Pixels and a label in one table
# -------------------------------
# The 64 pixels, as intensities in [0, 1] for the continuous Bernoulli
# likelihood, and the label as a categorical column ``digit``: a condition
# that is not a number is read one-hot. ``input_dropout=0`` shows the encoder
# every pixel: the default for [0, 1] data, 0.5, hides half of them in
# training, which helps the likelihood but leaves less of each digit's style
# in its code, and the style is what this example is about.

X, y = load_digits(return_X_y=True)
pixels = [f"pixel_{i}" for i in range(64)]
digits = pd.DataFrame(X / 16, columns=pixels)
digits["digit"] = pd.Categorical(y)

vae = VAETransformer(
    latent_dim=4,
    input_dropout=0,
    likelihood="continuous_bernoulli",
    condition_on="digit",
    random_state=0,
).fit(digits)


def show_digits(images, title, row_labels=None, col_labels=None):
    """Draw 8x8 images on a grid, one row of the grid per row of ``images``."""
    n_rows, n_cols = images.shape[:2]
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(n_cols * 0.7, n_rows * 0.7 + 0.6), squeeze=False
    )
    for ax, image in zip(axes.ravel(), images.reshape(-1, 64), strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, label in zip(axes[:, 0], row_labels or [], strict=False):
        ax.set_ylabel(label, fontsize=9)
    for ax, label in zip(axes[0], col_labels or [], strict=False):
        ax.set_title(label, fontsize=9)
    fig.suptitle(title)
    plt.show()


# %%
# Digits of each class
# --------------------
# ``sample(n, conditions={"digit": d})`` draws ``n`` latent points from the
# prior and decodes them under the condition ``digit = d``. The rows come back
# with the condition in its training column, after the 64 pixels, so the
# pixels are taken out (with levels that are text the array would be
# ``object``-typed, hence the cast to float). ``return_mean=True`` gives the
# decoder's mean intensity of each pixel rather than a noisy draw. The draws
# are seeded by the model's ``random_state``, so every class gets the same 100
# latent points.


def generate(n, digit):
    rows = vae.sample(n, conditions={"digit": digit}, return_mean=True)
    return np.asarray(rows[:, :64], dtype=float)


generated = np.stack([generate(100, digit) for digit in range(10)])
show_digits(
    generated[:, :8],
    'sample(100, conditions={"digit": d}, return_mean=True)[:8]',
    row_labels=[f"digit={digit}" for digit in range(10)],
)

# %%
# Every row holds its class, and the eight draws of a row differ in width,
# slant and stroke. Each column is one latent point decoded as every class,
# and it keeps much of its look down the column: the latent point carries the
# style, the condition the class.
#
# Do the generated digits look like their class to a classifier of real
# digits? A logistic regression trained on the 1797 real digits reads 100
# generated digits of each class:

classifier = LogisticRegression(max_iter=1000).fit(X / 16, y)
predicted = classifier.predict(generated.reshape(-1, 64))
wanted = np.repeat(np.arange(10), 100)
print(
    f"generated digits labelled with their condition: "
    f"{np.sum(predicted == wanted)} of {len(wanted)}"
)
for digit in range(10):
    print(f"  digit={digit}: {np.sum(predicted[wanted == digit] == digit)} of 100")

# %%
# The same style, another class
# -----------------------------
# ``transform`` reads the condition from ``X`` and encodes each real digit to
# the mean of ``q(z | x, c)``. ``inverse_transform(Z, conditions={"digit": d})``
# decodes those latent points under any class. Each row below is one real
# digit (left) redrawn as every digit from 0 to 9; the six real digits are
# spread along the main axis of the codes (their first principal component),
# so that their styles differ.

Z = vae.transform(digits)
main_axis = PCA(n_components=1).fit_transform(Z)[:, 0]
order = np.argsort(main_axis)
examples = order[(np.linspace(0.02, 0.98, 6) * len(order)).astype(int)]
redrawn = [
    np.asarray(
        vae.inverse_transform(Z[examples], conditions={"digit": digit})[:, :64],
        dtype=float,
    )
    for digit in range(10)
]
show_digits(
    np.stack([X[examples] / 16, *redrawn], axis=1),
    'inverse_transform(transform(X), conditions={"digit": d})',
    row_labels=[f"a real {y[i]}" for i in examples],
    col_labels=["input", *(f"{digit}" for digit in range(10))],
)

# %%
# The slanted 3 at the bottom is redrawn as slanted digits of every class,
# and the upright inputs above it as upright ones: at 8x8 pixels the
# differences are small, but each row keeps its input's hand while each
# column shows one class. The latent code holds
# how a digit is written, the condition which digit it is. Swapping a
# condition while keeping the code is how conditional models remove a batch
# or a covariate from a dataset; a latent map without a covariate is in
# :ref:`sphx_glr_auto_examples_plot_conditional_covariate.py`.
