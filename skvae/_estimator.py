"""``VAETransformer``: the scikit-learn face of the variational autoencoder."""

from __future__ import annotations

import copy
import math
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._data import Rows, device_is_available, map_batches, resolve_device, rows_of
from ._likelihoods import LIKELIHOODS
from ._module import ACTIVATIONS, VAE
from ._training import TrainingConfig, train

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


class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Variational autoencoder for dimensionality reduction and density estimation.

    An MLP encoder maps each row to a Normal posterior over ``latent_dim``
    latent variables; an MLP decoder maps latent points back to an observation
    model of the row (Kingma & Welling, 2014). ``transform`` returns posterior
    means, ``inverse_transform`` decodes them, ``sample`` generates new rows, and
    ``score_samples`` estimates each row's log-likelihood in nats, on the same
    scale as :meth:`sklearn.decomposition.PCA.score_samples`, so ``score`` can
    select ``latent_dim`` in :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    latent_dim : int, default=2
        Number of latent dimensions, the width of ``transform``'s output.
    hidden_layer_sizes : array-like of int, default=(256, 128)
        Widths of the encoder's hidden layers; the decoder uses them in reverse.
        An empty tuple gives a linear encoder and decoder.
    activation : {'relu', 'tanh', 'logistic', 'identity'}, default='relu'
        Activation between hidden layers.
    likelihood : {'gaussian', 'gaussian_fixed', 'bernoulli', \
            'continuous_bernoulli', 'poisson', 'negative_binomial', \
            'multinomial'}, default='gaussian'
        Observation model ``p(x | z)``. Every family's ``score`` is a
        log-likelihood in nats, so ``GridSearchCV`` can compare them on the
        same data (densities for continuous families, probabilities for
        discrete ones).

        - ``'gaussian'``: Normal with a learned variance per feature (floored at
          1e-3 of the feature's variance, so constant columns stay finite). The
          model standardises features internally and reports densities in the
          units of ``X``.
        - ``'gaussian_fixed'``: Normal with variance 1 in the units of ``X``:
          the squared-error (MSE) loss of most tutorials, as a likelihood.
        - ``'bernoulli'``: values in [0, 1]; the binary cross-entropy. A true
          likelihood for binary data only.
        - ``'continuous_bernoulli'``: values in [0, 1]; the normalised density
          of Loaiza-Ganem & Cunningham (2019), for intensities such as pixels.
        - ``'poisson'``: non-negative integer counts.
        - ``'negative_binomial'``: over-dispersed counts, with a dispersion
          learned per feature.
        - ``'multinomial'``: how each row's total count is shared among the
          features (Mult-VAE, Liang et al., 2018), for bag-of-words and
          implicit-feedback matrices.

        Count families and ``'multinomial'`` show the encoder ``log1p(X)``.
    beta : float, default=1.0
        Weight of the KL term in the training loss (1 is the ELBO; other values
        give the beta-VAE of Higgins et al., 2017).
    kl_warmup_epochs : int, default=0
        Raise the KL weight linearly from 0 to ``beta`` over this many epochs
        (KL annealing, as in Mult-VAE and scVI). Stopping rules wait until the
        warm-up is over.
    input_dropout : float, default=0.0
        During training, zero each input value the encoder sees with this
        probability and scale the others by ``1 / (1 - input_dropout)``: the
        denoising of Mult-VAE, meant for counts, binary and [0, 1] data, where
        zero means absent. The reconstruction target is always the full row.
    learning_rate : float, default=1e-3
        Step size of the Adam optimizer.
    batch_size : int or 'auto', default='auto'
        Rows per minibatch; ``'auto'`` is ``min(200, n_samples)``. Values above
        ``n_samples`` are clipped.
    max_epochs : int, default=200
        Maximum number of passes over the training data.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when their ELBO stops
        improving, and keep the weights of the best epoch. Otherwise stop when
        the training loss stops improving.
    validation_fraction : float, default=0.1
        Share of the rows held out when ``early_stopping`` is True.
    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float, default=1e-4
        Improvement, in nats per row, that counts as progress.
    n_importance_samples : int, default=50
        Posterior draws per row in ``score_samples`` (1 gives the ELBO).
    device : str or torch.device, default='auto'
        Where to train and infer: ``'auto'`` (CUDA, then MPS, then CPU),
        ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'`` or a :class:`torch.device`.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order and the noise of training, and the
        draws of ``score_samples``. An int gives identical results on the CPU.
    verbose : int, default=0
        Show a progress bar with the running loss when positive.
    warm_start : bool, default=False
        Continue training the fitted network instead of starting anew.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    device_ : torch.device
        The device ``device`` resolved to.
    batch_size_ : int
        The batch size used.
    loss_curve_ : list of float
        Mean training loss (negative ELBO, nats per row) of each epoch.
    validation_scores_ : list of float
        Mean ELBO of the held-out rows after each epoch; only with
        ``early_stopping``.
    best_validation_score_ : float
        Best of ``validation_scores_``; only with ``early_stopping``.
    best_loss_ : float
        Lowest value of ``loss_curve_``.
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : The linear, closed-form counterpart.
    sklearn.decomposition.FactorAnalysis : Linear Gaussian latent model with
        per-feature noise, as this model's ``'gaussian'`` likelihood has.

    Notes
    -----
    ``score_samples`` uses the importance-weighted bound of Burda et al. (2016),
    a lower bound on ``log p(x)`` that tightens as ``n_importance_samples``
    grows. All rows share the same standard Normal draws, fixed when the model
    is fitted, so scores are deterministic and a row's score does not depend on
    the other rows passed with it.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(latent_dim=2, max_epochs=5, random_state=0)
    >>> vae.fit_transform(X).shape
    (1797, 2)
    >>> vae.inverse_transform([[0.0, 0.0]]).shape
    (1, 64)
    >>> vae.score_samples(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
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
        input_dropout=0.0,
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
        self.input_dropout = input_dropout
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
        self : VAETransformer
            The fitted estimator.
        """
        with _rollback_on_error(self):
            continuing = self.warm_start and hasattr(self, "module_")
            X = self._validate_X(X, reset=not continuing)
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            LIKELIHOODS[self.likelihood].check_domain(X)
            device = resolve_device(self.device)
            architecture = self._architecture()
            random_state = check_random_state(self.random_state)
            generator = torch.Generator().manual_seed(_seed(random_state))
            noise_generator = torch.Generator(device).manual_seed(_seed(random_state))
            if continuing:
                module = self._continued_module(architecture)
            else:
                likelihood = LIKELIHOODS[self.likelihood].from_data(X, sample_weight)
                module = VAE(
                    X.shape[1],
                    **architecture,
                    likelihood=likelihood,
                    generator=generator,
                )
            module.to(device)
            rows = rows_of(X, device, sample_weight)
            validation_rows = None
            if self.early_stopping:
                rows, validation_rows = self._split_validation(rows, generator)
            config = self._training_config(n_samples=X.shape[0])
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
                f"VAETransformer stopped after max_epochs={self.max_epochs} epochs "
                f"before the loss stopped improving. Consider raising max_epochs.",
                ConvergenceWarning,
                stacklevel=3,  # the caller of fit, past scikit-learn's fit wrapper
            )
        self.module_ = module
        self.device_ = device
        self.batch_size_ = config.batch_size
        self.loss_curve_ = self._history("loss_curve_", continuing) + result.loss_curve
        self.best_loss_ = min(self.loss_curve_)
        self.n_iter_ = len(self.loss_curve_)
        if self.early_stopping:
            self.validation_scores_ = (
                self._history("validation_scores_", continuing)
                + result.validation_scores
            )
            self.best_validation_score_ = max(self.validation_scores_)
        else:  # drop the record of an earlier fit that held rows out
            vars(self).pop("validation_scores_", None)
            vars(self).pop("best_validation_score_", None)
        self._score_seed = _seed(random_state)
        return self

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

    def _continued_module(self, architecture: dict) -> VAE:
        """A copy of the fitted network to train on, if it has ``architecture``."""
        fitted = self.module_.architecture()
        wanted = {**architecture, "likelihood": self.likelihood}
        if fitted != wanted:
            changed = ", ".join(
                f"{name}={fitted[name]!r} to {wanted[name]!r}"
                for name in fitted
                if fitted[name] != wanted[name]
            )
            raise ValueError(
                "warm_start=True continues training the fitted network, but its "
                f"shape changed: {changed}. Set warm_start=False to start anew."
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
            input_dropout=self.input_dropout,
            verbose=self.verbose,
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

    def transform(self, X):
        """Posterior means of the latent variables.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim)
            Mean of ``q(z | x)`` for each row, in ``X``'s float dtype.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        rows = rows_of(X, self.device_)
        return map_batches(
            lambda x: self.module_.encode(x).loc,
            rows.batches(self._batch_rows(1)),
            X.dtype,
        )

    def inverse_transform(self, X):
        """Decode latent points to the mean of ``p(x | z)`` in input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, latent_dim)
            Latent points, for example the output of ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            The decoder's mean for each latent point.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=(np.float64, np.float32))
        if Z.shape[1] != self.module_.latent_dim:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"latent_dim={self.module_.latent_dim} columns."
            )
        rows = rows_of(Z, self.device_)
        return map_batches(
            lambda z: self.module_.decode(z).mean,
            rows.batches(self._batch_rows(1)),
            Z.dtype,
        )

    def sample(self, n_samples=1, random_state=None, *, return_mean=False):
        """Generate rows: ``z ~ N(0, I)``, then ``x ~ p(x | z)``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws.
        return_mean : bool, default=False
            Return the decoder's mean ``E[x | z]`` instead of a draw from
            ``p(x | z)``: the smooth picture one usually wants for images.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Generated rows.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer, got {n_samples!r}."
            )
        generator = torch.Generator(self.device_).manual_seed(_seed(random_state))
        z = torch.randn(
            (n_samples, self.module_.latent_dim),
            generator=generator,
            device=self.device_,
        )

        def generate(z_batch):
            px = self.module_.decode(z_batch)
            return (
                px.mean
                if return_mean
                else self.module_.likelihood.sample(px, generator)
            )

        return map_batches(generate, z.split(self._batch_rows(1)))

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
            lambda x: self.module_.log_marginal(x, noise), rows.batches(batch_rows)
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

    @property
    def _n_features_out(self):
        return self.module_.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
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
                f"This VAETransformer was trained on {self.device_}, which this "
                "machine does not have; it will run on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            self.device_ = torch.device("cpu")
        self.module_.to(self.device_)
