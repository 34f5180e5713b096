"""What every skvae estimator shares: parameters, fitting, and log-likelihoods."""

from __future__ import annotations

import copy
import math
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import randomized_svd
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._data import (
    DenseRows,
    Rows,
    device_is_available,
    map_batches,
    resolve_device,
    rows_of,
)
from ._likelihoods import LIKELIHOODS
from ._module import ACTIVATIONS, VAE
from ._training import (
    TrainingConfig,
    TrainingResult,
    align_latent_means,
    make_optimizer,
    optimizer_state,
    train,
    train_epoch,
)

# Values (rows x importance draws x features) that one inference batch holds:
# 4M float32 values, 16 MiB. The decoder's dense output for a batch is this big.
_INFERENCE_CHUNK = 2**22


@contextmanager
def _rollback_on_error(estimator):
    """Leave ``estimator`` exactly as it was if the block raises."""
    saved = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


def _seed(random_state) -> int:
    """A torch seed drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _principal_component_targets(
    features: np.ndarray, weights: np.ndarray, n_components: int, random_state: int
) -> np.ndarray:
    """Whitened scores of each row on the first principal components of ``features``.

    A weighted PCA: the rows are centred on their weighted mean and weighted by
    ``weights`` in the covariance, so rows of weight 0 play no part. Returns
    ``min(n_components, *features.shape)`` columns with weighted variance 1;
    directions without variance score 0.
    """
    weights = weights / weights.sum()
    mean = weights @ features
    _, singular_values, components = randomized_svd(
        np.sqrt(weights)[:, None] * (features - mean),
        min(n_components, *features.shape),
        random_state=random_state,
    )
    # The singular values are the standard deviations along the components.
    scores = features @ components.T - mean @ components.T
    has_variance = singular_values > 1e-6 * singular_values[0]
    return np.divide(
        scores, singular_values, out=np.zeros_like(scores), where=has_variance
    )


def _generators(random_state: np.random.RandomState, device, stream: int = 0):
    """The CPU generator (weights, batch order) and the ``device`` one (noise).

    Both are seeded from ``random_state``. A positive ``stream`` (the epochs
    already run, for ``partial_fit``) mixes into the seeds, so each pass of a
    seeded model orders its rows and draws its noise afresh, reproducibly.
    """
    if stream:
        random_state = np.random.RandomState([_seed(random_state), stream])
    generator = torch.Generator().manual_seed(_seed(random_state))
    noise_generator = torch.Generator(device).manual_seed(_seed(random_state))
    return generator, noise_generator


# How to start training anew instead of continuing, by what continued.
_START_ANEW = {
    "warm_start=True": "Set warm_start=False to start anew.",
    "partial_fit": "Call fit, or partial_fit on a clone, to start anew.",
}


class BaseVAE(BaseEstimator):
    """Parameters, training and scoring shared by the skvae estimators.

    Subclasses add the methods of their role (transformer, outlier detector)
    and their documentation; this class owns the network and its training.
    """

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "kl_warmup_start": [Interval(Real, 0, None, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "init": [StrOptions({"auto", "pca", "random"})],
        "support_fraction": [Interval(Real, 0, 1, closed="right")],
        "support_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        latent_dim=2,
        *,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        likelihood="gaussian",
        beta=1.0,
        kl_warmup_epochs=0,
        kl_warmup_start=0.0,
        input_dropout="auto",
        init="auto",
        support_fraction=1.0,
        support_warmup_epochs=10,
        learning_rate=1e-3,
        batch_size="auto",
        max_epochs=200,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        n_importance_samples=50,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.likelihood = likelihood
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs
        self.kl_warmup_start = kl_warmup_start
        self.input_dropout = input_dropout
        self.init = init
        self.support_fraction = support_fraction
        self.support_warmup_epochs = support_warmup_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.n_importance_samples = n_importance_samples
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse matrices are never densified.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in the training loss (and in the
            validation score with ``early_stopping``). Only relative sizes
            matter. None weighs all rows equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._fit(X, sample_weight)
        return self

    def _fit(self, X, sample_weight) -> np.ndarray:
        """Train the network; leave the estimator unchanged if anything fails.

        Returns the checked ``sample_weight``.
        """
        with _rollback_on_error(self):
            continuing = self.warm_start and hasattr(self, "module_")
            X, sample_weight = self._validate_training_data(
                X, sample_weight, reset=not continuing
            )
            device = resolve_device(self.device)
            random_state = check_random_state(self.random_state)
            generator, noise_generator = _generators(random_state, device)
            module = self._module_to_train(
                X, sample_weight, continuing, generator, "warm_start=True"
            )
            module.to(device)
            rows = rows_of(X, device, sample_weight)
            validation_rows = None
            if self.early_stopping:
                rows, validation_rows = self._split_validation(rows, generator)
            config = self._training_config(n_samples=X.shape[0])
            if not continuing:
                self._initialise_layout(module, rows, config, generator, random_state)
            result = train(
                module,
                rows,
                config,
                generator,
                noise_generator,
                validation_rows,
                epochs_done=self.n_iter_ if continuing else 0,
            )

        if not result.converged:
            warnings.warn(
                f"{type(self).__name__} stopped after max_epochs={self.max_epochs} "
                "epochs before the loss stopped improving. Consider raising "
                "max_epochs.",
                ConvergenceWarning,
                stacklevel=4,  # the caller of fit, past scikit-learn's fit wrapper
            )
        self._record_training(
            module,
            device,
            config,
            result,
            continuing,
            random_state,
            held_out=self.early_stopping,
        )
        return sample_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder for one pass (one epoch) over ``X``.

        The first call on an unfitted estimator builds the network, as ``fit``
        does; later calls, and calls after ``fit``, continue training it, with
        Adam's moment estimates carried over and the KL warm-up going on from
        ``n_iter_`` epochs. Each call adds one epoch to ``n_iter_`` and one
        value to ``loss_curve_``. Stream data too large for memory through it
        chunk by chunk, or run it repeatedly on the same rows.

        Stopping rules do not apply: ``max_epochs``, ``tol``,
        ``n_iter_no_change`` and ``early_stopping`` (with its validation split
        and ``validation_scores_``) belong to ``fit``. Whoever calls
        ``partial_fit`` decides when to stop, for example from ``loss_curve_``
        or from ``score`` on held-out rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows of this pass. The first call's rows also set what the
            likelihood takes from the data (for ``likelihood='gaussian'``, the
            feature means and scales the network standardises with), so they
            should be representative. Later calls must have the same features.
            Sparse matrices are never densified.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in this pass's loss. None weighs
            all rows equally.

        Returns
        -------
        self : object
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from skvae import VAETransformer
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(1000, 6))
        >>> vae = VAETransformer(hidden_layer_sizes=(16,), random_state=0)
        >>> for chunk in np.array_split(X, 4):
        ...     vae = vae.partial_fit(chunk)
        >>> vae.n_iter_, len(vae.loss_curve_)
        (4, 4)
        >>> vae.transform(X[:2]).shape
        (2, 2)
        """
        self._partial_fit(X, sample_weight)
        return self

    def _partial_fit(self, X, sample_weight) -> np.ndarray:
        """One epoch on ``X``; leave the estimator unchanged if anything fails.

        Returns the checked ``sample_weight``.
        """
        with _rollback_on_error(self):
            continuing = hasattr(self, "module_")
            X, sample_weight = self._validate_training_data(
                X, sample_weight, reset=not continuing
            )
            device = resolve_device(self.device)
            random_state = check_random_state(self.random_state)
            epochs_done = self.n_iter_ if continuing else 0
            generator, noise_generator = _generators(random_state, device, epochs_done)
            module = self._module_to_train(
                X, sample_weight, continuing, generator, "partial_fit"
            )
            module.to(device)
            config = self._training_config(n_samples=X.shape[0])
            rows = rows_of(X, device, sample_weight)
            if not continuing:
                self._initialise_layout(module, rows, config, generator, random_state)
            optimizer = make_optimizer(
                module,
                config.learning_rate,
                self._optimizer_state if continuing else None,
            )
            loss = train_epoch(
                module,
                rows,
                config,
                optimizer,
                generator,
                noise_generator,
                epoch=epochs_done,
            )
        result = TrainingResult(
            loss_curve=[loss], optimizer_state=optimizer_state(optimizer)
        )
        self._record_training(
            module, device, config, result, continuing, random_state, held_out=False
        )
        return sample_weight

    def _validate_training_data(self, X, sample_weight, reset: bool):
        """``X`` and ``sample_weight`` checked for training, ``X`` in its domain."""
        X = self._validate_X(X, reset=reset)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        LIKELIHOODS[self.likelihood].check_domain(X)
        if self.init == "pca" and sp.issparse(X):
            raise ValueError(
                "init='pca' needs dense X: the principal components of a sparse "
                "matrix need it centred, which would densify it. Use "
                "init='random', or init='auto', which picks it for sparse X."
            )
        return X, sample_weight

    def _initialise_layout(
        self, module: VAE, rows: Rows, config: TrainingConfig, generator, random_state
    ) -> None:
        """Start the latent layout of a new network as ``init`` says.

        With principal components (``init='pca'``, or ``'auto'`` on dense rows),
        the encoder is first trained to map the rows to their whitened principal
        component scores; with ``init='random'``, nothing is done.
        """
        if self.init == "random" or not isinstance(rows, DenseRows):
            return
        with torch.inference_mode():
            # C order whatever X's, so the components do not depend on it.
            features = module.encoder_features(rows.data).cpu().contiguous().numpy()
        targets = _principal_component_targets(
            features,
            rows.weights.cpu().numpy(),
            module.latent_dim,
            random_state=_seed(random_state),
        )
        align_latent_means(module, rows, torch.as_tensor(targets), config, generator)

    def _module_to_train(
        self, X, sample_weight, continuing: bool, generator, continued_by: str
    ) -> VAE:
        """A new network for ``X``, or a copy of the fitted one to continue."""
        architecture = self._architecture()
        if continuing:
            return self._continued_module(architecture, continued_by)
        likelihood = LIKELIHOODS[self.likelihood].from_data(X, sample_weight)
        return VAE(
            X.shape[1], **architecture, likelihood=likelihood, generator=generator
        )

    def _record_training(
        self, module, device, config, result, continuing, random_state, held_out
    ):
        """Set the fitted attributes after the training that ``result`` describes.

        ``continuing`` extends the per-epoch records of earlier fits;
        ``held_out`` says whether rows were held out for validation.
        """
        self.module_ = module
        self.device_ = device
        self.batch_size_ = config.batch_size
        self.input_dropout_ = config.input_dropout
        self.loss_curve_ = self._history("loss_curve_", continuing) + result.loss_curve
        self.best_loss_ = min(self.loss_curve_)
        self.n_iter_ = len(self.loss_curve_)
        if held_out:
            self.validation_scores_ = (
                self._history("validation_scores_", continuing)
                + result.validation_scores
            )
            self.best_validation_score_ = max(self.validation_scores_)
        else:  # drop the record of an earlier fit that held rows out
            vars(self).pop("validation_scores_", None)
            vars(self).pop("best_validation_score_", None)
        self._optimizer_state = result.optimizer_state
        self._score_seed = _seed(random_state)

    def _validate_X(self, X, reset: bool):
        """Validate ``X`` with scikit-learn's helpers."""
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        return X

    def _architecture(self) -> dict:
        """The parameters that shape the network, checked."""
        sizes = tuple(np.atleast_1d(self.hidden_layer_sizes).tolist())
        if any(not isinstance(size, int) or size < 1 for size in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return {
            "latent_dim": self.latent_dim,
            "hidden_layer_sizes": sizes,
            "activation": self.activation,
        }

    def _continued_module(self, architecture: dict, continued_by: str) -> VAE:
        """A copy of the fitted network to train on, if it has ``architecture``.

        ``continued_by`` names what continues training, for the error message.
        """
        fitted = self.module_.architecture()
        wanted = {**architecture, "likelihood": self.likelihood}
        if fitted != wanted:
            changed = ", ".join(
                f"{name}={fitted[name]!r} to {wanted[name]!r}"
                for name in fitted
                if fitted[name] != wanted[name]
            )
            raise ValueError(
                f"{continued_by} continues training the fitted network, but its "
                f"shape changed: {changed}. {_START_ANEW[continued_by]}"
            )
        return copy.deepcopy(self.module_)

    def _training_config(self, n_samples: int) -> TrainingConfig:
        batch_size = 200 if self.batch_size == "auto" else self.batch_size
        return TrainingConfig(
            batch_size=min(batch_size, n_samples),
            max_epochs=self.max_epochs,
            learning_rate=self.learning_rate,
            beta=self.beta,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            kl_warmup_epochs=self.kl_warmup_epochs,
            kl_warmup_start=self.kl_warmup_start,
            input_dropout=(
                LIKELIHOODS[self.likelihood].auto_input_dropout
                if self.input_dropout == "auto"
                else self.input_dropout
            ),
            support_fraction=self.support_fraction,
            support_warmup_epochs=self.support_warmup_epochs,
            verbose=self.verbose,
            name=type(self).__name__,
        )

    def _history(self, attribute: str, continuing: bool) -> list[float]:
        """The per-epoch record of earlier fits that this fit continues."""
        return list(getattr(self, attribute, [])) if continuing else []

    def _split_validation(self, rows: Rows, generator: torch.Generator):
        n_validation = math.ceil(self.validation_fraction * len(rows))
        if n_validation >= len(rows):
            raise ValueError(
                f"early_stopping=True holds out {n_validation} of n_samples = "
                f"{len(rows)} rows for validation, leaving none to train on. Pass "
                "more rows or set early_stopping=False."
            )
        order = torch.randperm(len(rows), generator=generator)
        training_rows = rows.split(order[n_validation:])
        validation_rows = rows.split(order[:n_validation])
        for role, part in (("held out", validation_rows), ("kept", training_rows)):
            if not part.weights.any():
                raise ValueError(
                    f"early_stopping=True split the rows, and the sample weights "
                    f"of the {role} rows are all zero. Use another random_state, "
                    f"another validation_fraction, or early_stopping=False."
                )
        return training_rows, validation_rows

    # ---------------------------------------------------------------- inference

    def score_samples(self, X):
        """Estimated log-likelihood of each row, in nats.

        An importance-weighted lower bound on ``log p(x)`` with
        ``n_importance_samples`` posterior draws (one draw estimates the ELBO),
        including every normalising constant. Low values flag unusual rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Estimated ``log p(x)`` of each row.
        """
        return self._map_importance_draws(X, VAE.log_marginal)

    def feature_log_likelihoods(self, X):
        """Each feature's share of each row's log-likelihood, in nats.

        For each row, ``log p(x_j | z)`` of each feature ``j``, averaged over
        the same importance-weighted posterior draws as ``score_samples``. The
        lowest entries of a row name the features that make it unusual. The
        row's sum differs from ``score_samples`` by a latent term that belongs
        to no single feature: ``E[log p(z) - log q(z | x)]`` under the same
        weights, plus the gap of the importance-weighted bound (and, for
        ``likelihood='multinomial'``, the row's ``log n!``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to explain. The result is dense whatever the input.

        Returns
        -------
        log_likelihoods : ndarray of shape (n_samples, n_features)
            Estimated ``log p(x_j | z)`` of each feature of each row.
        """
        return self._map_importance_draws(X, VAE.feature_log_likelihoods)

    def _map_importance_draws(self, X, function):
        """``function(module_, x, noise)`` over batches of ``X``, with fixed draws."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        self.module_.likelihood.check_domain(X)
        generator = torch.Generator().manual_seed(self._score_seed)
        noise = torch.randn(
            (self.n_importance_samples, self.module_.latent_dim), generator=generator
        )
        noise = noise.to(self.device_)
        rows = rows_of(X, self.device_)
        batch_rows = self._batch_rows(self.n_importance_samples)
        return map_batches(
            lambda x: function(self.module_, x, noise), rows.batches(batch_rows)
        )

    def score(self, X, y=None):
        """Mean estimated log-likelihood of the rows of ``X``, in nats.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Mean of ``score_samples(X)``.
        """
        return float(np.mean(self.score_samples(X)))

    def _batch_rows(self, n_draws: int) -> int:
        """Rows per inference batch that keep ``rows * draws * features`` bounded."""
        return max(1, _INFERENCE_CHUNK // (n_draws * self.n_features_in_))

    # -------------------------------------------------------- scikit-learn glue

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __getstate__(self):
        """Pickle with the network's weights on the CPU."""
        state = super().__getstate__()
        module = state.get("module_")
        if module is not None and next(module.parameters()).device.type != "cpu":
            state["module_"] = copy.deepcopy(module).cpu()
        return state

    def __setstate__(self, state):
        """Restore, moving the network to ``device_`` or to the CPU if it is missing."""
        super().__setstate__(state)
        if "device_" not in state:
            return
        if not device_is_available(self.device_):
            warnings.warn(
                f"This {type(self).__name__} was trained on {self.device_}, which this "
                "machine does not have; it will run on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            self.device_ = torch.device("cpu")
        self.module_.to(self.device_)
