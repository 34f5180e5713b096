"""``latent_prior=k``: a Gaussian mixture fitted to the aggregate posterior.

Once training ends, the prior ``p(z)`` that ``sample`` draws from and that
``score_samples`` weighs with becomes a mixture of ``k`` Gaussians with full
covariances, fitted by EM to draws of ``z`` from the training rows'
``q(z | x)``. Draws, not the posterior means: where the posteriors are wide
(a latent dimension that the decoder ignores), a mixture of the means would
be far narrower than ``q(z | x)``, and the importance weights of
``score_samples`` would collapse. Rows of unequal ``sample_weight`` are drawn
from in proportion to their weights (``rows_to_draw_from``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import config_context
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from ._data import relative_to_their_mean
from ._module import VAE
from ._training import divergence

MIXTURE_DRAWS = 10_000
"""About this many posterior draws (as ``QuantileTransformer`` fits its
quantiles to a subsample of 10,000 rows)..."""
MAX_DRAWS_PER_ROW = 20
"""... but no more than this many from one row: on a table of a hundred rows,
a hundred draws each add EM time (a third of such a fit) and nothing to the
held-out score."""
STREAM_EM_TOL = 1e-2
"""EM's tolerance (the change in the mean log-likelihood per draw) from a
stream's last mixture, ten times ``GaussianMixture``'s default: that
mixture was fitted to the codes of the rows trained on before the call, and
on MNIST streams of 2 to 80 calls the default took twice the iterations
(half a stream's time in chunks of 500 rows) for the same held-out score."""


def draws_per_row(n_rows: int) -> int:
    """How many draws the mixture takes from each of ``n_rows`` rows of equal weight."""
    return min(-(-MIXTURE_DRAWS // max(n_rows, 1)), MAX_DRAWS_PER_ROW)


def check_enough_draws(n_components: int, n_rows: int) -> None:
    """Refuse a mixture of more components than ``n_rows`` give draws to fit."""
    n_draws = min(n_rows, MIXTURE_DRAWS) * draws_per_row(n_rows)
    if n_draws < n_components:
        raise ValueError(
            f"latent_prior={n_components} needs at least as many "
            f"posterior draws as components, but the {n_rows} row(s) of "
            f"positive weight give {n_draws}. Train on more rows, or pass "
            "a smaller latent_prior or latent_prior='normal'."
        )


def rows_to_draw_from(weights, rng) -> tuple[np.ndarray, np.ndarray | int]:
    """The rows to draw ``z`` from, and how many draws each gives.

    Rows of equal weight give the same number each (at most
    ``MAX_DRAWS_PER_ROW``), or one each from ``MIXTURE_DRAWS`` rows picked at
    random. Rows of unequal weight are picked as many times, with
    replacement, in proportion to their weights, so that the mixture
    describes the weighted rows as training does.
    """
    n_rows = len(weights)
    n_draws = min(n_rows, MIXTURE_DRAWS) * draws_per_row(n_rows)
    if np.ptp(weights) > 0:
        shares = relative_to_their_mean(weights)  # finite at any scale
        picked = rng.choice(n_rows, n_draws, p=shares / np.sum(shares))
        return np.unique(picked, return_counts=True)
    if n_rows > MIXTURE_DRAWS:
        return np.sort(rng.choice(n_rows, MIXTURE_DRAWS, replace=False)), 1
    return np.arange(n_rows), draws_per_row(n_rows)


def posterior_draws(
    posterior_parameters: Callable[[np.ndarray], np.ndarray], weights, rng
) -> np.ndarray:
    """Up to about ``MIXTURE_DRAWS`` draws of ``z`` from the rows' ``q(z | x)``.

    ``posterior_parameters(rows)``: the posterior means and standard
    deviations, side by side, of the training rows at positions ``rows``;
    ``weights``: the training rows' weights.
    """
    rows, draws = rows_to_draw_from(weights, rng)
    loc, scale = np.split(np.repeat(posterior_parameters(rows), draws, 0), 2, axis=1)
    # a diverged encoder's infinities give NaN here, which fit_mixture
    # reports as a TrainingDivergedError
    with np.errstate(invalid="ignore", over="ignore"):
        return loc + scale * rng.standard_normal(loc.shape)


def fit_mixture(
    module: VAE, codes: np.ndarray, n_components: int, seed: int, start: dict | None
) -> None:
    """Make ``module``'s prior a mixture of ``n_components`` fitted to ``codes``.

    EM starts from ``start``'s weights, means and precisions where given
    (``mixture_start``), else from k-means. Like the rest of ``fit``, its
    NumPy work runs on one thread.
    """
    if not np.isfinite(codes).all():  # the last step, after its loss
        raise divergence("the encoder's outputs for the training rows are not finite")
    mixture = GaussianMixture(
        n_components=n_components,
        random_state=seed,
        **(start or {}),  # weights, means and precisions to start EM from
    )
    # The codes are a NumPy array whatever the input; scikit-learn's
    # k-means start of the mixture does not take the array API.
    with config_context(array_api_dispatch=False), threadpool_limits(limits=1):
        try:
            mixture.fit(codes)
        except ValueError as error:  # codes collapsed onto a few points
            raise divergence(
                "the encoder's codes for the training rows collapsed, and "
                f"the mixture of latent_prior={n_components} components "
                f"could not be fitted to them ({error})"
            ) from error
    module.set_prior_mixture(
        mixture.weights_, mixture.means_, np.linalg.cholesky(mixture.covariances_)
    )


def mixture_start(module: VAE, n_components: int) -> dict | None:
    """``module``'s mixture prior as ``GaussianMixture``'s start, or None.

    With it, EM stops at ``STREAM_EM_TOL``.

    None where the module has no mixture of ``n_components`` components
    (``N(0, I)``, or another number of them).
    """
    if not module.has_prior_mixture:
        return None
    # to the host first: MPS holds no float64
    means = module.prior_means.detach().cpu().double().numpy()
    if len(means) != n_components:
        return None
    scale_tril = module.prior_scale_tril.detach().cpu().double().numpy()
    precisions = np.linalg.inv(scale_tril @ np.swapaxes(scale_tril, 1, 2))
    weights = module.prior_log_weights.detach().cpu().double().exp().numpy()
    return {
        "weights_init": weights / weights.sum(),  # to 1 in float64
        "means_init": means,
        "precisions_init": (precisions + np.swapaxes(precisions, 1, 2)) / 2,
        "tol": STREAM_EM_TOL,
    }
