"""What every skvae estimator shares: parameters, fitting, and log-likelihoods."""

from __future__ import annotations

import copy
import inspect
import math
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from ._conditions import condition_keys
from ._containers import (
    _is_dataframe,
    _is_polars_frame,
    as_polars,
    computed,
    polars_enums,
)
from ._data import (
    MIN_BATCH_ROWS,
    device_is_available,
    host_batches,
    map_batches,
    resolve_device,
    row_namer,
    rows_of,
    rows_of_positive_weight,
)
from ._families import COLUMN_FAMILIES
from ._generation import GenerationMixin
from ._inflated import InflatedFamily
from ._input import InputMixin
from ._latent_prior import (
    check_enough_draws,
    fit_mixture,
    mixture_start,
    posterior_draws,
)
from ._layout import start_from_components
from ._likelihoods import CategoricalFamily, Likelihood
from ._missing import MissingPatterns, has_missing
from ._module import ACTIVATIONS, VAE
from ._ranking import (
    RankingValidation,
    check_implicit_feedback,
    check_rank_within,
    parse_ranking,
    refuse_columns_without_item_scores,
)
from ._row_sample import RowSample
from ._seeds import Stream, derived_seed, seed_from
from ._table import CATEGORICAL
from ._threads import ThreadPolicy, torch_threads
from ._training import (
    TrainingConfig,
    TrainingResult,
    TrainingRun,
    Validation,
    make_optimizer,
    train,
)
from ._warn import warn_user


@contextmanager
def _rollback_on_error(estimator, interrupts: bool = True):
    """Leave ``estimator`` exactly as it was if the block raises.

    ``interrupts``: also if it raises ``KeyboardInterrupt``. Not around a
    whole fit (``fit_transform``), whose training keeps the network trained
    until an interrupt, and then raises it again.
    """
    saved = dict(estimator.__dict__)
    # a RandomState passed as random_state is the caller's: the seeds the
    # block drew from it are put back too
    generator = getattr(estimator, "random_state", None)
    generators = [generator] if isinstance(generator, np.random.RandomState) else []
    states = [generator.get_state() for generator in generators]
    caught = BaseException if interrupts else Exception
    try:
        yield
    except caught:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        for generator, state in zip(generators, states, strict=True):
            generator.set_state(state)
        raise


def _has_categorical(module: VAE) -> bool:
    """Whether any of ``module``'s columns is categorical."""
    return any(
        isinstance(family, CategoricalFamily) for family in module.likelihood.families
    )


# How to start training anew instead of continuing, by what continued.
_START_ANEW = {
    "warm_start=True": "Set warm_start=False to start anew.",
    "partial_fit": "Call fit, or partial_fit on a clone, to start anew.",
}

# Values (rows x draws x columns) of one copy of an inference batch's decoded
# rows: 1M float32 values, 4 MiB, which the caches of current CPUs hold. Larger
# batches ran slower (score_samples of tabular rows took twice as long with
# 16 MiB) and left the C library's allocator holding more memory.
_CACHED_VALUES = 2**20

# ``batch_size='auto'``: a 50th of the training rows, between 200 and 500, so
# that a large table's epoch takes fewer, larger steps (chosen on split seeds
# 10 and 11 of Adult and diamonds); ``learning_rate='auto'`` grows with the
# batch.
AUTO_BATCH_ROWS = (200, 500)
AUTO_STEPS_PER_EPOCH = 50
# ``n_iter_no_change='auto'``: windows of at least AUTO_WINDOW_EPOCHS epochs and
# AUTO_WINDOW_STEPS optimizer steps, so that a table of a few hundred rows (one
# or two batches an epoch) is judged on as many steps as a larger one (chosen
# on split seeds 10 to 12 of the sets of ``bench_stopping.py`` and the
# penguins).
AUTO_WINDOW_EPOCHS = 10
AUTO_WINDOW_STEPS = 50
# Adam's step for batches of up to BASE_BATCH_ROWS rows (the earlier default
# batch, at which it was chosen).
BASE_LEARNING_RATE = 1e-3
BASE_BATCH_ROWS = 200


def auto_learning_rate(batch_size: int) -> float:
    """Adam's step for batches of ``batch_size`` rows: ``learning_rate='auto'``.

    ``BASE_LEARNING_RATE`` for batches of up to ``BASE_BATCH_ROWS`` rows;
    above, it grows with the square root of the batch, as the noise of the
    gradient shrinks (the square-root scaling rule for Adam, Malladi et al.
    2022).
    """
    return BASE_LEARNING_RATE * math.sqrt(
        max(batch_size, BASE_BATCH_ROWS) / BASE_BATCH_ROWS
    )


class BaseVAE(InputMixin, GenerationMixin, BaseEstimator):
    """Parameters, training and scoring shared by the skvae estimators.

    Subclasses add the methods of their role (transformer, outlier detector)
    and their documentation; this class owns the network and its training,
    reads ``X`` through ``InputMixin`` (``_input``) and generates rows
    through ``GenerationMixin`` (``_generation``).
    """

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "likelihood": [StrOptions(set(COLUMN_FAMILIES) | {"auto"}), dict],
        "categories": [None, dict],
        "handle_unknown": [StrOptions({"error", "missing"})],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "kl_warmup_start": [Interval(Real, 0, None, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "init": [StrOptions({"auto", "pca", "random"})],
        "support_fraction": [Interval(Real, 0, 1, closed="right")],
        "support_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "scoring": [str],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_learning_rate_drops": [Interval(Integral, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "n_training_draws": [Interval(Integral, 1, None, closed="left")],
        "latent_prior": [
            StrOptions({"normal"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "condition_on": [None, str, Integral, list, tuple],
        "device": [str, torch.device],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        latent_dim=4,
        *,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        likelihood="auto",
        categories=None,
        handle_unknown="error",
        beta=1.0,
        kl_warmup_epochs=0,
        kl_warmup_start=0.0,
        input_dropout="auto",
        init="auto",
        support_fraction=1.0,
        support_warmup_epochs=10,
        learning_rate="auto",
        batch_size="auto",
        max_epochs=1000,
        early_stopping=False,
        validation_fraction=0.1,
        scoring="elbo",
        n_iter_no_change="auto",
        tol=0.05,
        n_learning_rate_drops=0,
        n_importance_samples=50,
        n_training_draws=1,
        latent_prior=10,
        condition_on=None,
        device="auto",
        n_threads=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.likelihood = likelihood
        self.categories = categories
        self.handle_unknown = handle_unknown
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
        self.scoring = scoring
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.n_learning_rate_drops = n_learning_rate_drops
        self.n_importance_samples = n_importance_samples
        self.n_training_draws = n_training_draws
        self.latent_prior = latent_prior
        self.condition_on = condition_on
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder on ``X``.

        Training stops by itself once the score stops improving (see ``tol``),
        or after ``max_epochs`` epochs. A ``KeyboardInterrupt`` (Ctrl-C) during
        training leaves the estimator fitted with the network as the interrupt
        found it (the steps of an epoch in progress included; ``n_iter_`` and
        ``loss_curve_`` count the completed epochs, and with
        ``early_stopping`` the best judged epoch's weights are restored),
        warns, and is raised again, so that a loop or a grid search around the
        fit stops too.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse matrices are never densified whole (rows of
            at most 1,000 columns go to the network as dense batches).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in the training loss (and in the
            validation score with ``early_stopping``), in trimming
            (``support_fraction``), in ``latent_prior``'s mixture and in the
            missing-cell patterns of ``sample``. Only relative sizes matter;
            a row of weight 0 is left out of training as if it were not
            there (nor does it count in which columns :class:`VAEImputer`
            leaves out or indicates), but the levels of its categorical
            columns and conditions are still learned. None weighs all rows
            equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._fit(X, sample_weight, incremental=False)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder for one pass (one epoch) over ``X``.

        The first call on an unfitted estimator builds the network, as ``fit``
        does; later calls, and calls after ``fit``, continue training it, as a
        ``fit`` with ``warm_start=True`` does: Adam's moment estimates carry
        over (unless ``drop_optimizer_state`` dropped them) and the KL warm-up
        goes on from ``n_iter_`` epochs. Each call adds
        one epoch to ``n_iter_`` and one value to ``loss_curve_``, and draws
        its own batch order and noise. Stream data too large for memory through
        it chunk by chunk, or run it repeatedly on the same rows.

        Stopping rules do not apply: ``max_epochs``, ``tol``,
        ``n_iter_no_change``, ``n_learning_rate_drops`` and
        ``early_stopping`` (with its validation split
        and ``validation_scores_``) belong to ``fit``. Whoever calls
        ``partial_fit`` decides when to stop, for example from ``loss_curve_``
        or from ``score`` on held-out rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows of this pass. The first call's rows also set what the
            likelihood takes from the data (for ``likelihood='gaussian'``, the
            feature means and scales the network standardises with; for a
            table, each column's family, levels and dtype) and how
            ``condition_on``'s columns are encoded (their means and scales,
            their levels, unless ``categories`` declares them), so they should
            be representative: a later call
            warns of a numeric column or condition whose values lie more than
            1,000 of the first rows' standard deviations from their mean.
            Later calls must
            have the same features; they widen each numeric column's range,
            which ``sample`` and ``inverse_transform`` clip a table's rows to,
            to every row trained on, and an integer column's dtype to one that
            holds that range (``int8`` to ``int16``, say). Sparse matrices are
            never densified whole.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in this pass's loss and in the
            stream's sample of rows that the mixture prior is fitted to; a
            row of weight 0 is left out. None weighs all rows equally. Only the
            weights' ratios within the call count: as in ``fit``, they are
            divided by their mean over the call's rows, so a chunk of larger
            weights moves the model no further than the same chunk at weight
            1. To weigh one chunk more than another, pass it more often.

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
        (2, 4)

        A table whose first chunk lacks a level of a column takes it later
        once ``categories`` declares the column's levels:

        >>> import pandas as pd
        >>> table = pd.DataFrame({"size": rng.normal(size=300),
        ...                       "colour": ["red"] * 100 + ["blue"] * 200})
        >>> vae = VAETransformer(hidden_layer_sizes=(16,), random_state=0,
        ...                      categories={"colour": ["blue", "red"]})
        >>> for start in (0, 100, 200):  # the first chunk holds no blue
        ...     vae = vae.partial_fit(table[start : start + 100])
        >>> vae.likelihoods_
        {'size': 'gaussian', 'colour': 'categorical'}
        """
        self._validate_params_again()
        self._fit(X, sample_weight, incremental=True)
        return self

    def _validate_params_again(self) -> None:
        """Validate the parameters for a ``partial_fit`` call after the first.

        scikit-learn's ``_fit_context`` validates a first call only; a
        parameter set since (a negative ``beta``, say) would train silently.
        (Inside that context ``skip_parameter_validation`` is always set, for
        nested calls, so the global setting cannot be read here.)
        """
        self._validate_params()

    def _fit(self, X, sample_weight, *, incremental: bool) -> None:
        """Train as ``fit`` (``incremental=False``) or ``partial_fit`` do.

        A new network is built unless one is fitted and ``incremental`` or
        ``warm_start`` says to continue it. If anything fails, the estimator is
        left as it was.
        """
        enums = polars_enums(X)
        X = self._placeholders_as_nan(computed(X))
        given_X = X  # as the caller passed it, feature names included
        callers_weight = sample_weight
        with _rollback_on_error(self):
            continuing = hasattr(self, "module_") and (incremental or self.warm_start)
            if not continuing:  # generated rows come back in polars
                self._polars_enum_columns = enums
            continued_by = "partial_fit" if incremental else "warm_start=True"
            if continuing:
                self._check_conditions_unchanged(continued_by)
            X, sample_weight = self._validate_training_data(
                X, sample_weight, reset=not continuing
            )
            given_weight = sample_weight
            self._count_missing_cells(self._modelled(X), sample_weight, continuing)
            # Rows of weight 0 take no part in training, as if they were not
            # there: however extreme their values, they reach no batch.
            X, sample_weight = rows_of_positive_weight(X, sample_weight)
            if continuing:
                self._warn_of_values_far_from_the_first_rows(X)
            seed = seed_from(self.random_state)
            epochs_done = self.n_iter_ if continuing else 0
            streaming = incremental and continuing
            trained_rows = self._sample_of_trained_rows(
                X, sample_weight, streaming, seed, epochs_done
            )
            if self.latent_prior != "normal":
                n_rows = trained_rows.n_rows if streaming else X.shape[0]
                check_enough_draws(self.latent_prior, n_rows)
            modelled = self._modelled(X)
            ranking = self._checked_ranking(
                modelled, given_weight, given_X, incremental
            )
            device = resolve_device(self.device)
            # Each pass of a seeded estimator draws its own batch order and noise.
            generator = torch.Generator().manual_seed(
                derived_seed(seed, Stream.TRAINING, epochs_done)
            )
            noise_generator = torch.Generator(device).manual_seed(
                derived_seed(seed, Stream.NOISE, epochs_done)
            )
            # a stream's mixture starts from the last call's, which EM then
            # moves to this call's rows in a few steps
            mixture = None
            if streaming and self.latent_prior != "normal":
                mixture = mixture_start(self.module_, self.latent_prior)
            if continuing:
                module = self._continued_module(continued_by)
                module.set_prior_mixture()  # training assumes N(0, I)
            else:
                module = self._new_module(X, sample_weight, generator)
            module.to(device)
            rows = rows_of(X, device, sample_weight)
            training_index, validation = np.arange(len(rows)), None
            # A warm start holds out the rows the first fit held out, even when
            # random_state draws a new seed on each call (None, a RandomState).
            split_seed = getattr(self, "_split_seed", seed) if continuing else seed
            if self.early_stopping and not incremental:
                rows, training_index, validation = self._split_validation(
                    rows, split_seed, ranking
                )
            # partial_fit weighs the priors against every row it has trained
            # on; fit, warm-started or not, against the rows of this call.
            rows_seen = len(rows)
            if incremental and continuing:
                rows_seen += self._rows_seen
            config = self._training_config(len(rows), incremental, module, rows_seen)
            threads = self._thread_policy()
            with torch_threads():
                if not continuing and self._starts_from_pca():
                    self._start_from_pca(
                        module,
                        X,
                        sample_weight,
                        rows,
                        training_index,
                        config,
                        generator,
                        threads,
                    )
                optimizer = make_optimizer(
                    module,
                    config.learning_rate,
                    self._optimizer_state if continuing else None,
                )
                run = TrainingRun(
                    module, optimizer, generator, noise_generator, threads
                )
                result = train(run, rows, config, validation, first_epoch=epochs_done)
            self._record_training(module, device, config, result, continuing, seed)
            if continuing and self._table_layout is not None:
                # what decode clips to: the range of every row trained on
                self._table_layout = self._table_layout.widened(modelled)
            self._rows_seen: int = rows_seen
            self._split_seed = split_seed
            self._trained_rows = trained_rows
            # a stream's prior describes every row it trained on, not its
            # last chunk
            if streaming:
                prior_rows, prior_weights = trained_rows.rows, trained_rows.weights
            else:
                prior_rows, prior_weights = X, sample_weight
            self._fit_latent_prior(prior_rows, prior_weights, seed, mixture)
            # after the prior: the map's draws come from it, as sample's do
            self._fit_marginal_map(prior_rows, prior_weights, seed)
            if callers_weight is not None:  # rows with nothing observed stay
                weighed = np.asarray(callers_weight, dtype=np.float64) > 0  # checked
                if not weighed.all():
                    given_X = _safe_indexing(given_X, np.flatnonzero(weighed))
            self._finish_fit(given_X, X, sample_weight, streaming)
        self._report(result)

    def _sample_of_trained_rows(
        self, X, weights, streaming: bool, seed: int, epochs_done: int
    ) -> RowSample:
        """The sample of training rows, with those of ``X`` (rows of weight > 0).

        A fit starts a new one; a ``partial_fit`` call adds to the last
        (or starts one, after ``drop_optimizer_state`` dropped it).
        """
        rng = np.random.default_rng(derived_seed(seed, Stream.ROW_SAMPLE, epochs_done))
        earlier = getattr(self, "_trained_rows", None) if streaming else None
        if earlier is None:
            return RowSample.of(X, rng, weights)
        return earlier.add(X, rng, weights)

    def _fit_latent_prior(
        self, X, weights, seed: int, start: dict | None = None
    ) -> None:
        """Make ``p(z)`` a mixture fitted to the aggregate posterior, if asked to.

        ``X`` holds training rows of positive weight as ``_validate_X``
        returns them, ``weights`` their weights: those of a fit, or the
        sample of a stream's rows. EM starts from ``start`` where given
        (a stream's last mixture). See ``_latent_prior``.
        """
        if self.latent_prior == "normal":
            return

        def posterior_parameters(rows):
            def of_batch(x):
                posterior = self.module_.encode(x)
                return torch.cat([posterior.loc, posterior.scale], -1)

            return self._map_validated_rows(_safe_indexing(X, rows), of_batch)

        prior_seed = derived_seed(seed, Stream.PRIOR)
        rng = np.random.default_rng(prior_seed)
        codes = posterior_draws(posterior_parameters, weights, rng)
        fit_mixture(self.module_, codes, int(self.latent_prior), prior_seed, start)

    def _count_missing_cells(self, X, sample_weight, continuing: bool) -> None:
        """Count the modelled columns' patterns of missing cells, by weight.

        A fit that builds the network starts the count; ``partial_fit`` and
        warm starts add to a copy of it, so that a fit that fails leaves the
        fitted count as it was. ``sample(missing_cells=True)`` draws from it.
        Each call's weights count divided by their mean, as in training: a
        chunk of larger weights adds no more than the same chunk at weight 1.
        """
        if continuing and hasattr(self, "_missing_patterns"):
            patterns = copy.deepcopy(self._missing_patterns)
        else:
            patterns = MissingPatterns(X.shape[1])
        kept = sample_weight[sample_weight > 0]  # rows of weight 0 are not there
        patterns.add(X, sample_weight / np.mean(kept))
        self._missing_patterns = patterns

    def _finish_fit(self, X, training_rows, weights, streaming: bool) -> None:
        """What a subclass does once the network is trained (a threshold, say).

        ``X``: the caller's rows, as given, but those the caller gave
        weight 0; ``training_rows``: the rows of positive weight (not those
        with nothing observed) as ``_validate_X`` returns them, and
        ``weights`` their weights. ``streaming``: a ``partial_fit`` call
        after the first.
        """

    def _report(self, result: TrainingResult) -> None:
        """Warn about how training ended; raise a ``KeyboardInterrupt`` again."""
        if result.interrupted:
            warn_user(
                f"{type(self).__name__} training was interrupted after "
                f"{len(result.loss_curve)} epochs; the estimator keeps the network "
                "trained so far.",
            )
            raise KeyboardInterrupt
        if result.still_improving:
            warn_user(
                f"{type(self).__name__} stopped after max_epochs={self.max_epochs} "
                "epochs while the score was still improving. Consider raising "
                "max_epochs.",
                ConvergenceWarning,
            )
        if result.ended_in_warmup:
            warn_user(
                f"{type(self).__name__} stopped after max_epochs={self.max_epochs} "
                "epochs, all within its warm-up (kl_warmup_epochs, or "
                "support_warmup_epochs with support_fraction < 1), before the "
                "stopping rule judged the score. Consider raising max_epochs.",
                ConvergenceWarning,
            )

    def _new_module(self, X, sample_weight, generator: torch.Generator) -> VAE:
        """A new network, with the likelihood's baselines taken from ``X``."""
        conditions = self._conditions
        X = self._modelled(X)
        blocks = []
        layout = self._table_layout
        for name, columns in self._families(X.shape[1]):
            family, options = COLUMN_FAMILIES[name]
            if name == "multinomial" and len(columns) == 1:
                column = self._column_names(X.shape[1])[columns[0]]
                raise ValueError(
                    "likelihood='multinomial' models how each row's total is "
                    f"shared among its columns, but it has column {column!r} "
                    "alone, whose share is always 1: give it two columns or "
                    "more, or use likelihood='poisson' for one column of counts."
                )
            if name == CATEGORICAL and layout is not None:
                options = {
                    "n_levels": layout.n_levels(columns),
                    "absent": layout.absent_levels(columns),
                }
            block = X if len(columns) == X.shape[1] else X[:, columns]
            blocks.append((columns, family.from_data(block, sample_weight, **options)))
        likelihood = Likelihood(blocks, missing_indicators=has_missing(X))
        return VAE(
            **self._architecture(),
            likelihood=likelihood,
            generator=generator,
            n_conditions=0 if conditions is None else conditions.n_features,
        )

    def _starts_from_pca(self) -> bool:
        return self.init in ("auto", "pca")

    def _start_from_pca(
        self, module, X, sample_weight, rows, training_index, config, generator, threads
    ) -> None:
        """Start the model from the principal components of the training rows.

        See :func:`skvae._layout.start_from_components`; held-out rows weigh 0.
        """
        modelled = self._modelled(X)
        weights = np.zeros(X.shape[0])
        weights[training_index] = sample_weight[training_index]
        start_from_components(
            module,
            modelled,
            X[:, modelled.shape[1] :],
            weights,
            rows,
            training_index,
            config.batch_size,
            config.learning_rate,
            generator,
            threads,
        )

    def _record_training(self, module, device, config, result, continuing, seed):
        """Set the fitted attributes after the training that ``result`` describes.

        ``continuing`` extends the per-epoch records of earlier calls.
        """
        self.module_ = module
        self.device_ = device
        self.batch_size_ = config.batch_size
        self.learning_rate_ = config.learning_rate
        if config.stops:  # partial_fit runs no stopping rule
            self.n_iter_no_change_ = config.n_iter_no_change
        self.input_dropout_ = config.input_dropout
        self.loss_curve_ = self._history("loss_curve_", continuing) + result.loss_curve
        self.best_loss_ = min(self.loss_curve_)
        self.n_iter_ = len(self.loss_curve_)
        # every call's held-out scores, NaN for the epochs of calls that held
        # no rows out, kept through such calls for the next one that does
        earlier = self._history("_validation_record", continuing)
        if not earlier:  # a model pickled before the record was kept
            earlier = self._history("validation_scores_", continuing)
        if result.validation_scores:
            # epochs before any held-out rows (a warm start that turns
            # early_stopping on) score NaN: one score per epoch of loss_curve_
            unscored = self.n_iter_ - len(earlier) - len(result.validation_scores)
            self.validation_scores_ = (
                [math.nan] * unscored + earlier + result.validation_scores
            )
            self.best_validation_score_ = result.kept_validation_score
            self._validation_record = list(self.validation_scores_)
        else:  # this call held no rows out: no public record of them
            vars(self).pop("validation_scores_", None)
            vars(self).pop("best_validation_score_", None)
            unscored = [math.nan] * len(result.loss_curve)
            self._validation_record = earlier + unscored if earlier else []
        self._optimizer_state = result.optimizer_state
        self._score_seed = derived_seed(seed, Stream.SCORING)

    def _architecture(self) -> dict:
        """The parameters that shape the network, checked."""
        given = self.hidden_layer_sizes
        # True is an int to Python, and becomes 1 in an array of sizes
        given_sizes = [given] if np.ndim(given) == 0 else list(given)
        sizes = tuple(np.atleast_1d(given).tolist())
        if any(isinstance(size, bool | np.bool_) for size in given_sizes) or any(
            not isinstance(size, int) or size < 1 for size in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return {
            "latent_dim": int(self.latent_dim),
            "hidden_layer_sizes": sizes,
            "activation": self.activation,
        }

    def _check_conditions_unchanged(self, continued_by: str) -> None:
        """Raise a ``ValueError`` if ``condition_on`` changed since the fit."""
        fitted = [] if self._conditions is None else self._conditions.keys
        wanted = condition_keys(self.condition_on)
        if wanted != fitted:
            raise ValueError(
                f"{continued_by} continues training the fitted network, but "
                f"condition_on changed from {fitted or None!r} to "
                f"{wanted or None!r}. {_START_ANEW[continued_by]}"
            )

    def _continued_module(self, continued_by: str) -> VAE:
        """A copy of the fitted network to train on, if the parameters still fit it.

        ``continued_by`` names what continues training, for the error message.
        """
        fitted = self.module_.architecture()
        layout = getattr(self, "_table_layout", None)
        likelihood = self.likelihood if layout is not None else self._single_family()
        if layout is not None and layout.likelihood == likelihood:
            likelihood = fitted["likelihood"]  # the same choice of families
        wanted = {**self._architecture(), "likelihood": likelihood}
        if fitted != wanted:
            changed = ", ".join(
                f"{name} from {fitted[name]!r} to {wanted[name]!r}"
                for name in fitted
                if fitted[name] != wanted[name]
            )
            raise ValueError(
                f"{continued_by} continues training the fitted network, but its "
                f"shape changed: {changed}. {_START_ANEW[continued_by]}"
            )
        return copy.deepcopy(self.module_)

    def _beta(self, categorical: bool) -> float:
        """The KL weight to train with; ``categorical``: whether a column is."""
        return self.beta

    def _batch_size(self, n_rows: int) -> int:
        if self.batch_size != "auto":  # a NumPy integer too: torch takes ints
            return int(min(self.batch_size, n_rows))
        smallest, largest = AUTO_BATCH_ROWS
        return min(max(smallest, min(largest, n_rows // AUTO_STEPS_PER_EPOCH)), n_rows)

    def _window(self, n_rows: int, batch_size: int) -> int:
        """Epochs per window of the stopping rule: ``n_iter_no_change`` resolved."""
        if self.n_iter_no_change != "auto":
            return int(self.n_iter_no_change)
        steps_per_epoch = math.ceil(n_rows / batch_size)
        return max(AUTO_WINDOW_EPOCHS, math.ceil(AUTO_WINDOW_STEPS / steps_per_epoch))

    def _training_config(
        self, n_rows: int, incremental: bool, module: VAE, rows_seen: int
    ) -> TrainingConfig:
        one_hot = [
            family.describe()
            for family in module.likelihood.families
            if isinstance(family, CategoricalFamily | InflatedFamily)
        ]
        if one_hot and self.input_dropout not in ("auto", 0):
            raise ValueError(
                f"input_dropout={self.input_dropout!r} would blank or rescale "
                f"the cells of {one_hot[0]!r} columns, which the encoder reads "
                "one-hot; with such columns use 0."
            )
        batch_size = self._batch_size(n_rows)
        return TrainingConfig(
            batch_size=batch_size,
            max_epochs=1 if incremental else int(self.max_epochs),
            learning_rate=(
                auto_learning_rate(batch_size)
                if self.learning_rate == "auto"
                else self.learning_rate
            ),
            beta=self._beta(_has_categorical(module)),
            tol=self.tol,
            n_iter_no_change=self._window(n_rows, batch_size),
            n_learning_rate_drops=int(self.n_learning_rate_drops),
            stops=not incremental,
            kl_warmup_epochs=int(self.kl_warmup_epochs),
            kl_warmup_start=self.kl_warmup_start,
            n_training_draws=int(self.n_training_draws),
            input_dropout=(
                module.likelihood.auto_input_dropout
                if self.input_dropout == "auto"
                else self.input_dropout
            ),
            support_fraction=self.support_fraction,
            support_warmup_epochs=int(self.support_warmup_epochs),
            rows_seen=rows_seen,
            verbose=self.verbose,
            name=type(self).__name__,
        )

    def _history(self, attribute: str, continuing: bool) -> list[float]:
        """The per-epoch record of earlier calls that this one continues."""
        return list(getattr(self, attribute, [])) if continuing else []

    def _checked_ranking(self, modelled, weights, given_X, incremental: bool):
        """The ranking ``scoring`` asks for (None for the ELBO), checked.

        ``modelled`` holds the training rows' modelled columns, ``weights``
        the weights of the rows as given (``given_X``), of which those of
        positive weight are the rows of ``modelled``. The held-out rows are
        checked only where rows are held out.
        """
        ranking = parse_ranking(self.scoring)
        if ranking is None:
            return None
        if self._conditions is not None:
            raise ValueError(
                f"scoring={self.scoring!r} ranks the items of implicit "
                "feedback; it takes no condition_on."
            )
        refuse_columns_without_item_scores(
            self.likelihoods_, f"scoring={self.scoring!r}"
        )
        if self.early_stopping and not incremental:
            check_rank_within(ranking, self.scoring, modelled.shape[1])
            names = self._column_names(modelled.shape[1])
            positive = np.flatnonzero(weights > 0)  # the rows kept
            check_implicit_feedback(
                modelled, self.scoring, names, positive, row_namer(given_X)
            )
        return ranking

    def _split_validation(self, rows, split_seed: int, ranking):
        """The training rows, their positions in ``rows``, and the validation.

        ``early_stopping`` holds out ``validation_fraction`` of ``rows``,
        scored by the ELBO or by the ``ranking`` of ``scoring``.
        """
        training_index, validation_index = self._validation_split(rows, split_seed)
        held_out = (
            rows.split(torch.as_tensor(validation_index)),
            self._batch_size(len(training_index)),
            derived_seed(split_seed, Stream.SCORING),
        )
        validation = (
            Validation(*held_out)
            if ranking is None
            else RankingValidation(*held_out, *ranking)
        )
        return rows.split(torch.as_tensor(training_index)), training_index, validation

    def _validation_split(self, rows, seed: int):
        """Training and held-out row positions, the same for every call.

        ``rows`` are those of positive weight.
        """
        n_validation = math.ceil(self.validation_fraction * len(rows))
        if n_validation >= len(rows):
            raise ValueError(
                f"early_stopping=True holds out {n_validation} of n_samples = "
                f"{len(rows)} rows (of positive weight) for validation, leaving "
                "none to train on. Pass more rows or set early_stopping=False."
            )
        order = np.random.RandomState(derived_seed(seed, Stream.SPLIT)).permutation(
            len(rows)
        )
        training_index, validation_index = order[n_validation:], order[:n_validation]
        return np.sort(training_index), np.sort(validation_index)

    # ---------------------------------------------------------------- inference

    def score_samples(self, X):
        """Estimated log-likelihood of each row, in nats.

        The importance-weighted bound on ``log p(x)`` with
        ``n_importance_samples`` posterior draws (one draw estimates the ELBO),
        including every normalising constant: a lower bound in expectation
        over the draws. The draws are fixed and shared by all rows, so a
        row's estimate may lie above or below ``log p(x)``, and the rows'
        errors move together. Low values flag unusual rows.
        A row with nothing observed, which only ``VAEImputer`` reads, scores
        0, the exact log-probability of nothing.

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
        the same importance-weighted posterior draws as ``score_samples``. A
        feature's terms compare across rows, not across features: a numeric
        column's is a density in its own units, a categorical one's a
        probability. To find the features that make a row unusual, compare
        each term with the feature's typical term, such as its median over
        the training rows: the lowest differences name them. The row's sum
        differs from ``score_samples`` by a latent term that belongs to no
        single feature: ``E[log p(z) - log q(z | x)]`` under the same weights,
        plus the gap of the importance-weighted bound (and, for
        ``likelihood='multinomial'``, the row's ``log n!``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to explain. The result is dense whatever the input.

        Returns
        -------
        log_likelihoods : ndarray or DataFrame of shape (n_samples, n_modelled)
            Estimated ``log p(x_j | z)`` of each feature of each row: one
            term per modelled column of ``X``, a categorical column's
            included, and NaN (null in a polars DataFrame) for a missing
            cell. The columns of
            ``condition_on``, and a ``VAEImputer``'s columns with no observed
            cell in ``fit``, are not modelled and have no term. A
            DataFrame, with ``X``'s columns and index, for a model with a
            family per column (``likelihood='auto'``, ``'categorical'``,
            ``'inflated_gaussian'`` or a dict) fitted on a DataFrame; a
            polars one for a polars ``X``.
        """
        polars_input = _is_polars_frame(X)
        X = computed(X)  # a polars frame's index, say
        terms = self._map_importance_draws(X, VAE.feature_log_likelihoods)
        layout = getattr(self, "_table_layout", None)
        if layout is None or layout.names is None:
            return terms
        import pandas as pd

        index = X.index if _is_dataframe(X) else None
        frame = pd.DataFrame(terms, columns=layout.names, index=index)
        return as_polars(frame) if polars_input else frame

    def _map_importance_draws(self, X, function, validated: bool = False):
        """``function(module_, x, noise)`` over batches of ``X``, with fixed draws.

        ``validated``: ``X`` is as ``_validate_X`` returns it, in the domain.
        """
        check_is_fitted(self)
        noise = self._scoring_noise().to(self.device_)
        mapped = self._map_validated_rows if validated else self._map_rows
        return mapped(X, lambda x: function(self.module_, x, noise), len(noise))

    def drop_optimizer_state(self):
        """Forget what only further training reads, most of what a pickle holds.

        A fitted model keeps the optimizer's state so that ``partial_fit``
        and a warm-start ``fit`` continue training where the last call ended:
        two numbers per weight, twice the size of the network itself. It also
        keeps a uniform sample of the rows it trained on (at most 2,000, and
        about half a million stored values), to which ``partial_fit`` fits
        the latent prior and the outlier detector's threshold. A model that
        will only transform, score or sample needs neither; after this call
        its pickle holds the network and what ``sample`` and ``score_samples``
        read (the latent prior, the quantiles that ``sample`` maps numbers
        with), and a later ``partial_fit`` or
        warm-start ``fit`` starts Adam afresh from the trained weights, and a
        new sample of rows.

        Returns
        -------
        self : object
            The fitted estimator, without the optimizer's state.

        Examples
        --------
        >>> import pickle
        >>> from sklearn.datasets import load_iris
        >>> from skvae import VAETransformer
        >>> vae = VAETransformer(random_state=0).fit(load_iris().data)
        >>> before = len(pickle.dumps(vae))
        >>> after = len(pickle.dumps(vae.drop_optimizer_state()))
        >>> bool(after < 0.5 * before)
        True
        """
        check_is_fitted(self)
        self._optimizer_state = None
        vars(self).pop("_trained_rows", None)
        return self

    def _scoring_noise(self) -> torch.Tensor:
        """The standard Normal draws of every score: ``(n_draws, latent_dim)``."""
        generator = torch.Generator().manual_seed(self._score_seed)
        return torch.randn(
            (self._n_importance_draws(), self.module_.latent_dim),
            generator=generator,
        )

    def _checked(self, name: str):
        """Parameter ``name``, checked: it may have been set since ``fit``.

        scikit-learn validates parameters in ``fit`` only; a method that reads
        one afterwards checks it, as ``KNeighborsClassifier.kneighbors`` checks
        ``n_neighbors``.
        """
        value = getattr(self, name)
        validate_parameter_constraints(
            {name: self._parameter_constraints[name]},
            {name: value},
            caller_name=type(self).__name__,
        )
        return value

    def _thread_policy(self) -> ThreadPolicy:
        """The torch threads of ``n_threads``, checked (see ``_checked``)."""
        return ThreadPolicy(self._checked("n_threads"))

    @contextmanager
    def _drawn_seed(self, random_state=None):
        """A seed from ``random_state`` (the estimator's if None), for a block.

        ``n_threads`` and the estimator's ``random_state``, which may have
        been set since ``fit``, are checked before the draw; a ``RandomState``
        the seed came from is put back where it was if the block raises (an
        allocation too large for ``sample(n_samples)``, say), so that an error
        leaves it as the checks before the draw do.
        """
        self._checked("n_threads")
        if random_state is None:
            random_state = self._checked("random_state")
        generator = check_random_state(random_state)
        state = generator.get_state()
        seed = seed_from(generator)
        try:
            yield seed
        except BaseException:
            generator.set_state(state)
            raise

    def _n_importance_draws(self) -> int:
        """``n_importance_samples``, checked (see ``_checked``)."""
        return int(self._checked("n_importance_samples"))

    def _map_rows(
        self, X, function, n_draws: int = 1, dtype=np.float64, cache_sized=True
    ):
        """``function`` of batches of ``X``'s rows, validated and domain-checked.

        ``X`` stays on the host; batches are sized by scikit-learn's
        ``working_memory`` for ``n_draws`` decoded copies of each row, and by
        the CPU's cache if ``cache_sized`` (see ``_batch_rows``).
        """
        X = self._validated_in_domain(X)
        return self._map_validated_rows(X, function, n_draws, dtype, cache_sized)

    def _map_validated_rows(
        self, X, function, n_draws: int = 1, dtype=np.float64, cache_sized=True
    ):
        """``_map_rows`` of rows that ``_validate_X`` returned, in the domain."""
        batches = host_batches(X, self._batch_rows(n_draws, cache_sized), self.device_)
        return map_batches(
            function,
            batches,
            X.shape[0],
            X.dtype if dtype is None else dtype,
            threads=self._thread_policy(),
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

    def _batch_rows(self, n_draws: int, cache_sized: bool = True) -> int:
        """Rows per inference batch: within ``working_memory``, and cache-sized.

        A row takes about four float32 copies of the decoder's output per draw
        (the output, the likelihood's parameters, the per-column terms and a
        temporary), plus the encoder's input and both networks' activations;
        it is counted twice, because the C library's allocator may still hold
        one batch's memory while the next is made. scikit-learn's
        ``working_memory`` bounds the total. If ``cache_sized`` and the model
        runs on the CPU, batches are also kept to ``_CACHED_VALUES`` values per
        copy, so that they stay in the CPU's cache: for one pass through the
        network larger ones run slower, not faster. That cap stops at
        ``MIN_BATCH_ROWS``, the rows a smaller batch is padded to anyway. On
        a GPU each batch costs kernel launches and a copy back to the host
        whatever its size, so batches there are as large as ``working_memory``
        allows. Work that
        takes many gradient steps on a batch reads the decoder's weights once
        a step, and wants large batches.
        """
        module = self.module_
        width = (
            module.likelihood.n_features
            + 2 * sum(module.hidden_layer_sizes)
            + 2 * module.latent_dim
            + 4 * module.likelihood.n_outputs
        )
        cached_rows = _CACHED_VALUES // (n_draws * module.likelihood.n_outputs)
        in_cache = cache_sized and self.device_.type == "cpu"
        return get_chunk_n_rows(
            row_bytes=2 * 4 * n_draws * width,
            max_n_rows=max(MIN_BATCH_ROWS, cached_rows) if in_cache else None,
        )

    # -------------------------------------------------------- scikit-learn glue

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        return tags

    def __getstate__(self):
        """Pickle with the network's weights on the CPU.

        The state is a copy: on Python 3.11 and later, scikit-learn's
        ``__getstate__`` returns the estimator's own ``__dict__``, and the
        network moved to the CPU must not replace the estimator's.
        """
        state = dict(super().__getstate__())
        module = state.get("module_")
        if module is not None and next(module.parameters()).device.type != "cpu":
            state["module_"] = copy.deepcopy(module).cpu()
        return state

    def __setstate__(self, state):
        """Restore, moving the network to ``device_`` or to the CPU if it is missing.

        A parameter that the pickled estimator predates takes its default.
        """
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self)).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        state = {**defaults, **state}
        super().__setstate__(state)
        if "device_" not in state:
            return
        if not device_is_available(self.device_):
            try:
                resolve_device(self.device)  # 'auto' trains here as it is
                advice = ""
            except ValueError:
                advice = (
                    f" To train it further here, set_params(device='cpu') first "
                    f"(its device parameter asks for {str(self.device)!r})."
                )
            warn_user(
                f"This {type(self).__name__} was trained on {self.device_}, which this "
                f"machine does not have; it will run on the CPU.{advice}"
            )
            self.device_ = torch.device("cpu")
        self.module_.to(self.device_)
