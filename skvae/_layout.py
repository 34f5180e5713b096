"""The PCA start: the encoder first learns to map rows to their principal components.

``init='pca'`` trains the encoder, before the ELBO, to map each row to its
whitened principal component scores, as :class:`~sklearn.manifold.TSNE` starts
an embedding from PCA; the ELBO then refines a layout that starts out as PCA's
rather than one set by the random initial weights.

The principal components are those of the columns as the encoder sees them
(standardised real values, ``log1p`` of counts), weighted by the rows'
weights. The columns are centred implicitly, so a sparse ``X`` stays sparse,
and dense and sparse ``X`` go through the same arithmetic: the same data give
the same components whatever its container.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from scipy.linalg import eigh
from scipy.sparse.linalg import LinearOperator, svds
from threadpoolctl import threadpool_limits

from ._columns import column_means, column_variances
from ._data import Rows, relative_to_their_mean
from ._likelihoods import VARIANCE_PRIOR_ROWS
from ._threads import ThreadPolicy
from ._training import adam

# Up to this many columns the components come from the weighted covariance
# matrix (columns x columns, accumulated a block of rows at a time); wider data
# use ARPACK on the implicitly centred matrix, never forming the covariance.
COVARIANCE_MAX_COLUMNS = 1000
_BLOCK_ROWS = 2**13

# Minibatch steps of ``align_latent_means``: enough for the posterior means to
# follow the targets' layout (10 epochs of 4,000 rows in batches of 200), few
# next to the ELBO's, and the same whatever the number of rows; but no more
# than ALIGNMENT_PASSES passes over the rows. On a few hundred rows 200 steps
# are over a hundred passes and a third of a fit's time; fewer steps at a
# learning rate raised in proportion place the rows as well.
ALIGNMENT_STEPS = 200
ALIGNMENT_PASSES = 50


class PrincipalComponents(NamedTuple):
    """What the PCA start takes from the principal components of the columns."""

    scores: np.ndarray
    """Whitened scores of the rows, ``(rows, components)``, each of weighted
    variance 1; directions without variance score 0."""
    unexplained: np.ndarray | None
    """Each column's share of its own variance that the components leave
    unexplained, in [0, 1]: the residual variance of a probabilistic PCA per
    column, as a fraction. Only the first half as many components as columns
    count here, whatever the number of scores. 1 for columns without
    variance. None unless asked for."""
    left_by_conditions: np.ndarray | None = None
    """Each column's share of its own variance that a conditional model's
    conditions leave, in [0, 1]: the residual variance of the regression on
    them, as a fraction, with the regression's degrees of freedom counted.
    1 for columns without variance. None but from
    ``components_beside_conditions``, and there when the regression leaves
    fewer than ``VARIANCE_PRIOR_ROWS`` degrees of freedom."""


def principal_components(
    values,
    scale: np.ndarray,
    weights: np.ndarray,
    n_components: int,
    seed: int,
    unexplained: bool = False,
) -> PrincipalComponents:
    """The rows' whitened scores on the first principal components of the columns.

    The columns are ``values / scale``.

    A weighted PCA: the rows are centred on their weighted mean and weigh in
    the covariance by ``weights``, so rows of weight 0 play no part.
    ``values`` is a dense array or a sparse matrix, never densified. Takes
    ``min(n_components, *values.shape)`` components. Component signs follow
    :func:`sklearn.utils.extmath.svd_flip`: each component's largest entry is
    positive. With ``unexplained``, also each column's unexplained share,
    which costs wide data one more pass over ``values``.
    """
    weights = relative_to_their_mean(weights)  # no overflow in the sum
    weights = weights / np.sum(weights)
    mean = column_means(values, weights)
    n_components = min(n_components, *values.shape)
    # NumPy's BLAS threads would spin for a while after each product, on the
    # cores that training is about to use.
    with threadpool_limits(limits=1, user_api="blas"):
        if values.shape[1] <= COVARIANCE_MAX_COLUMNS:
            variances, components, column_variances = _covariance_components(
                values, scale, weights, mean, n_components
            )
        else:
            variances, components = _arpack_components(
                values, scale, weights, mean, n_components, seed
            )
            column_variances = None  # ARPACK never forms the covariance
        components *= np.sign(
            components[np.abs(components).argmax(0), range(n_components)]
        )
        loadings = components / scale[:, None]  # (columns, components)
        scores = np.asarray(values @ loadings) - mean @ loadings
    variances = np.maximum(variances, 0.0)
    deviations = np.sqrt(variances)
    has_variance = deviations > 1e-6 * max(deviations.max(), 1e-300)
    scores = np.divide(
        scores, deviations, out=np.zeros_like(scores), where=has_variance
    )
    if not unexplained:
        return PrincipalComponents(scores, None)
    if column_variances is None:
        column_variances = _column_variances(values, scale, weights, mean)
    return PrincipalComponents(
        scores, _unexplained_shares(components, variances, column_variances)
    )


def components_beside_conditions(
    values: np.ndarray,
    scale: np.ndarray,
    weights: np.ndarray,
    conditions: np.ndarray,
    n_components: int,
    seed: int,
) -> PrincipalComponents:
    """Principal components of what the conditions leave of the columns.

    For a conditional model, whose decoder reads the conditions beside
    ``z``: the dense columns ``values / scale`` are regressed on the encoded
    ``conditions`` (:func:`regressed_on_conditions`), and the rows' whitened
    scores are those on the first ``n_components`` principal components of
    the residuals, which the conditions do not explain. Each column's
    unexplained share is of its whole variance: what the regression and the
    components both leave (1 for a column without variance);
    ``left_by_conditions`` is what the regression alone leaves.
    """
    regression = regressed_on_conditions(values, scale, weights, conditions)
    components = principal_components(
        regression.residuals, scale, weights, n_components, seed, unexplained=True
    )
    assert components.unexplained is not None  # asked for
    shares = _shares_of(components.unexplained * regression.left, regression.whole)
    return PrincipalComponents(components.scores, shares, regression.left_by_conditions)


class Regression(NamedTuple):
    """The columns regressed on a conditional model's conditions."""

    residuals: np.ndarray
    """What the regression leaves of each row, in the columns' units."""
    left: np.ndarray
    """The residuals' weighted variance per column, in units of ``scale``."""
    whole: np.ndarray
    """The columns' weighted variance, in units of ``scale``."""
    left_by_conditions: np.ndarray | None
    """Each column's share of its variance the regression leaves, its
    degrees of freedom counted; None with fewer than ``VARIANCE_PRIOR_ROWS``
    of them (see :attr:`PrincipalComponents.left_by_conditions`)."""


def regressed_on_conditions(
    values: np.ndarray, scale: np.ndarray, weights: np.ndarray, conditions: np.ndarray
) -> Regression:
    """The dense columns ``values`` regressed on the encoded ``conditions``.

    Least squares, weighted by ``weights``, with an intercept: what the
    conditions explain of each column, which a conditional decoder reads from
    them, and what they leave, which is all the noise can be.
    """
    weights = relative_to_their_mean(weights)
    weights = weights / np.sum(weights)
    design = np.column_stack([np.ones(len(conditions)), conditions])
    root_weights = np.sqrt(weights)[:, None]
    with threadpool_limits(limits=1, user_api="blas"):
        coefficients, _, rank, _ = np.linalg.lstsq(
            root_weights * design, root_weights * values, rcond=None
        )
        residuals = values - design @ coefficients
    whole = _column_variances(values, scale, weights, column_means(values, weights))
    left = _column_variances(
        residuals, scale, weights, column_means(residuals, weights)
    )
    # What the regression leaves centres a prior worth VARIANCE_PRIOR_ROWS
    # rows: only from residuals of as many degrees of freedom. Fewer rows
    # than coefficients leave none, and residuals of 0 would hold every
    # variance at the floor.
    n_rows = np.count_nonzero(weights)
    freedom = n_rows - rank
    if freedom < VARIANCE_PRIOR_ROWS:
        return Regression(residuals, left, whole, None)
    # the residuals' mean square underestimates the noise by the share of
    # the rows' freedom the regression's coefficients take up
    shares = _shares_of(n_rows / freedom * left, whole)
    return Regression(residuals, left, whole, shares)


def _shares_of(parts: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """Each column's ``parts / whole`` in [0, 1]; 1 for a column without variance."""
    varies = whole > 1e-12 * max(whole.max(), 1e-300)
    shares = np.ones_like(whole)
    shares[varies] = np.clip(parts[varies] / whole[varies], 0.0, 1.0)
    return shares


def _unexplained_shares(components, variances, column_variances) -> np.ndarray:
    """Each column's share of its variance that the first components leave."""
    # Each column's variance along the components, against its whole variance;
    # at most half as many components as columns, so that the share left is
    # the noise of the directions left out, not the remains of the last ones.
    n_columns, n_components = components.shape
    n_explaining = min(n_components, n_columns // 2)
    explained = np.square(components[:, :n_explaining]) @ variances[:n_explaining]
    varies = column_variances > 1e-12 * max(column_variances.max(), 1e-300)
    shares = np.ones_like(column_variances)
    shares[varies] = np.clip(
        1.0 - explained[varies] / column_variances[varies], 0.0, 1.0
    )
    return shares


def _covariance_components(values, scale, weights, mean, n_components):
    """Top eigenpairs and diagonal of the weighted covariance of ``values / scale``."""
    n_columns = values.shape[1]
    second_moment = np.zeros((n_columns, n_columns))
    for start in range(0, values.shape[0], _BLOCK_ROWS):
        block = values[start : start + _BLOCK_ROWS]
        weighted = (
            block.multiply(weights[start : start + _BLOCK_ROWS, None])
            if sp.issparse(block)
            else block * weights[start : start + _BLOCK_ROWS, None]
        )
        second_moment += np.asarray(
            (block.T @ weighted).todense() if sp.issparse(block) else block.T @ weighted
        )
    covariance = (second_moment - np.outer(mean, mean)) / np.outer(scale, scale)
    # Every eigenpair, by divide and conquer: LAPACK's default for a subset
    # (dsyevr) fails with "Internal Error", or returns fewer pairs, on the
    # repeated eigenvalues of one-hot columns of a level per row. At 1,000
    # columns the whole spectrum takes 0.17 s on one thread against 0.06 s.
    variances, vectors = eigh(covariance, driver="evd")  # in ascending order
    top = np.arange(n_columns - 1, n_columns - 1 - n_components, -1)
    return variances[top], vectors[:, top], np.diag(covariance).copy()


def _column_variances(values, scale, weights, mean):
    """The weighted variance of each column of ``values / scale``."""
    return column_variances(values, mean, weights) / np.square(scale)


def _arpack_components(values, scale, weights, mean, n_components, seed):
    """Top singular pairs of ``sqrt(weights) * (values - mean) / scale`` by ARPACK."""
    root_weights = np.sqrt(weights)

    def product(vectors):
        vectors = vectors.reshape(len(scale), -1) / scale[:, None]
        centred = np.asarray(values @ vectors) - mean @ vectors
        return root_weights[:, None] * centred

    def transposed_product(vectors):
        vectors = root_weights[:, None] * vectors.reshape(len(root_weights), -1)
        centred = np.asarray(values.T @ vectors) - np.outer(mean, vectors.sum(0))
        return centred / scale[:, None]

    operator = LinearOperator(
        values.shape,
        matvec=product,
        rmatvec=transposed_product,
        matmat=product,
        rmatmat=transposed_product,
        dtype=np.float64,
    )
    # ARPACK finds fewer pairs than the shorter side of the operator; centred
    # rows span one dimension less than their number, so the pairs it leaves
    # out have variance 0 and come back as zeros.
    n_found = min(n_components, min(values.shape) - 1)
    variances = np.zeros(n_components)
    vectors = np.zeros((len(scale), n_components))
    if n_found > 0:
        start = np.random.RandomState(seed).uniform(-1, 1, min(values.shape))
        _, singular_values, components = svds(operator, k=n_found, v0=start)
        order = np.argsort(singular_values)[::-1]
        variances[:n_found] = singular_values[order] ** 2
        vectors[:, :n_found] = components[order].T
    return variances, vectors


def start_from_components(
    module,
    modelled,
    conditions,
    weights: np.ndarray,
    rows: Rows,
    training_index: np.ndarray,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
    threads: ThreadPolicy | None = None,
) -> None:
    """Start ``module`` from the principal components of the training rows.

    ``modelled`` holds the rows' modelled columns and ``conditions`` their
    conditions' encoded columns (none for a model without conditions), as
    the network reads them; ``weights`` the rows' weights (0 for held-out
    rows); ``rows`` the training rows, whose positions among the rows of
    ``modelled`` are ``training_index``. The
    encoder is trained to map the training rows to their whitened principal
    component scores, as it sees the columns (``align_latent_means``).

    A model of one family without missing cells also starts its learned
    variances at the share of each column's variance that the components
    leave, weighed against their prior; not in tables of several families,
    where the real columns' head start draws the latent to them, away from
    categorical ones, nor with missing cells, whose mean-filled columns'
    components are not those of the observed cells. Such a model with
    conditions starts from the components of what a linear regression on
    the conditions leaves (``components_beside_conditions``), centres the
    variances' prior on what the regression leaves (given the degrees of
    freedom to tell), and trains its decoder
    to read from the conditions what they explain, so that ``z`` holds what
    the decoder cannot read from them. Any other conditional model (a table
    of several families, or one with missing cells) starts its components
    from all the columns, and its variances, and their prior's centre, at
    what the regression leaves of each column's observed cells: what no
    latent explains yet, as 1 is in a model without conditions
    (:func:`_start_variances_beside_conditions`).
    """
    likelihood = module.likelihood
    values, scale, missing = likelihood.encoder_features(modelled)
    starts_variances = (
        len(likelihood.families) == 1 and not likelihood.missing_indicators
    )
    conditional = module.n_conditions > 0
    if conditional:
        conditions = np.asarray(conditions, dtype=np.float64)
    beside_conditions = conditional and starts_variances and not sp.issparse(values)
    seed = int(torch.randint(2**31 - 1, (), generator=generator))
    if beside_conditions:
        components = components_beside_conditions(
            values, scale, weights, conditions, module.latent_dim, seed
        )
    else:
        components = principal_components(
            values,
            scale,
            weights,
            module.latent_dim,
            seed,
            unexplained=starts_variances and not conditional,
        )
    if components.unexplained is not None:
        _start_variances(likelihood.families[0], components, weights)
    elif conditional:
        _start_variances_beside_conditions(
            likelihood, values, scale, weights, conditions, missing
        )
    targets = torch.as_tensor(components.scores[training_index], dtype=torch.float32)
    align_latent_means(
        module,
        rows,
        targets,
        batch_size,
        learning_rate,
        generator,
        threads=threads,
        # a conditional decoder learns to read the conditions first
        decoder=beside_conditions,
    )


def _start_variances(family, components: PrincipalComponents, weights) -> None:
    """Start the learned variances of ``family`` and centre their prior.

    The start is the most probable variance under the prior, given the
    rows' mean unexplained share: the components of a few rows explain much
    by chance. A conditional model's prior is centred on what its conditions
    leave, which is all its noise can be; any other's on 1.
    """
    assert components.unexplained is not None  # asked for
    prior_centre = components.left_by_conditions
    if prior_centre is None:
        prior_centre = np.ones_like(components.unexplained)
    family.centre_variance_prior(prior_centre)
    n_rows = np.count_nonzero(weights)
    family.start_variances(
        (n_rows * components.unexplained + VARIANCE_PRIOR_ROWS * prior_centre)
        / (n_rows + VARIANCE_PRIOR_ROWS)
    )


def _start_variances_beside_conditions(
    likelihood, values, scale, weights, conditions, missing
) -> None:
    """Start each block's variances, and their prior's centre, beside the conditions.

    For a conditional model that starts no variance from the components: the
    share of each column's variance that a linear regression on the
    conditions leaves (:func:`left_by_conditions`) is all its noise can be.
    Nothing changes where the regression has fewer than
    ``VARIANCE_PRIOR_ROWS`` degrees of freedom, or where the encoder's
    columns are sparse (categorical columns of thousands of levels).
    """
    if sp.issparse(values):
        return
    shares = left_by_conditions(values, scale, weights, conditions, missing)
    if shares is None:
        return
    start = 0
    for family in likelihood.families:
        block = shares[start : start + family.n_outputs]
        family.centre_variance_prior(block)
        family.start_variances(block)
        start += family.n_outputs


def left_by_conditions(
    values: np.ndarray,
    scale: np.ndarray,
    weights: np.ndarray,
    conditions: np.ndarray,
    missing: np.ndarray | None = None,
) -> np.ndarray | None:
    """Each column's share of its variance that the conditions leave.

    :attr:`Regression.left_by_conditions` of the dense columns ``values``.
    With ``missing``, which cells were missing (their values at the column's
    mean), a column with missing cells is regressed on its observed cells
    alone (one regression for the columns missing in the same rows, such as
    a categorical column's one-hot ones), and keeps 1 if they leave fewer
    than ``VARIANCE_PRIOR_ROWS`` degrees of freedom. None where every row
    together leaves fewer than that.
    """
    shares = regressed_on_conditions(
        values, scale, weights, conditions
    ).left_by_conditions
    if shares is None or missing is None:
        return shares
    holed = np.flatnonzero(missing.any(axis=0))
    patterns, pattern_of = np.unique(missing[:, holed], axis=1, return_inverse=True)
    for pattern, rows_missing in enumerate(patterns.T):
        columns = holed[pattern_of.ravel() == pattern]
        observed_weights = np.where(rows_missing, 0.0, weights)
        if np.count_nonzero(observed_weights) <= VARIANCE_PRIOR_ROWS:
            shares[columns] = 1.0  # too few observed cells to tell
            continue
        observed = regressed_on_conditions(
            values[:, columns], scale[columns], observed_weights, conditions
        ).left_by_conditions
        shares[columns] = 1.0 if observed is None else observed
    return shares


def align_latent_means(
    module,
    rows: Rows,
    targets: torch.Tensor,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
    steps: int = ALIGNMENT_STEPS,
    threads: ThreadPolicy | None = None,
    decoder: bool = False,
) -> None:
    """Train the encoder so that the posterior means of ``rows`` approach ``targets``.

    ``targets`` holds one point per row in the first ``targets.shape[1]``
    latent dimensions. Minibatch Adam on the squared distance, weighted by the
    rows' weights, for ``steps`` steps over passes in random orders; the
    decoder is left alone. More than ``ALIGNMENT_PASSES`` passes become that
    many, at a learning rate raised by the ratio of the steps. ``threads``
    sets torch's thread count before each step, as in training.

    With ``decoder``, the decoder is then trained as long, alone, up the
    rows' reconstruction term at ``z`` = their targets (0 in the other
    dimensions) and their own conditions: a conditional decoder so starts
    to read from the conditions what they explain, which ``z`` then need
    not hold.
    """
    n_targets = targets.shape[1]
    targets = targets.to(rows.device)

    def distance(index, x):
        mean = module.posterior_mean(x)[:, :n_targets]
        return (mean - targets[index]).square().sum(-1)

    schedule = (rows, batch_size, learning_rate, generator, steps, threads)
    _minimise(module, module.encoder.parameters(), distance, *schedule)
    if not decoder:
        return

    def lost_reconstruction(index, x):
        z = targets.new_zeros(len(index), module.latent_dim)
        z[:, :n_targets] = targets[index]
        at_z = torch.zeros_like(z)  # no noise: the reconstruction at z itself
        return -module._elbo_terms_at(z, torch.ones_like(z), x, at_z).reconstruction

    _minimise(module, module.decoder.parameters(), lost_reconstruction, *schedule)


def _minimise(
    module,
    parameters,
    loss_of_rows,
    rows: Rows,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
    steps: int,
    threads: ThreadPolicy | None,
) -> None:
    """Minibatch Adam over ``parameters`` on the rows' weighted ``loss_of_rows``.

    ``loss_of_rows(index, x)`` gives a loss per row of the batch ``x``, the
    rows ``index`` (on the rows' device) of ``rows``. Steps, passes and the
    learning rate as ``align_latent_means`` says.
    """
    batches_per_pass = -(-len(rows) // batch_size)
    capped_steps = min(steps, ALIGNMENT_PASSES * batches_per_pass)
    learning_rate *= steps / capped_steps
    steps = capped_steps
    weights = rows.relative_weights()
    optimizer = adam(parameters, learning_rate)
    module.train()
    while steps > 0:
        order = torch.randperm(len(rows), generator=generator)
        for index in order.split(batch_size)[:steps]:
            if threads is not None:
                threads.adjust()
            on_device = index.to(rows.device)
            losses = loss_of_rows(on_device, rows.take(index))
            loss = (weights[on_device] * losses).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps -= 1
    module.eval()
