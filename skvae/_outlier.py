"""``VAEOutlierDetector``: unusual rows are those the autoencoder finds unlikely."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseVAE, _rollback_on_error
from ._data import relative_to_their_mean
from ._module import VAE
from ._warn import warn_user


class VAEOutlierDetector(OutlierMixin, BaseVAE):
    """Outlier detection by the log-likelihood of a variational autoencoder.

    Fits a :class:`VAETransformer`'s network to the (unlabelled) training rows,
    which may already hold outliers, and calls a row unusual when its
    estimated log-likelihood ``score_samples`` is low. It follows the
    conventions of :class:`~sklearn.ensemble.IsolationForest`:
    ``decision_function`` is ``score_samples - offset_`` (negative for
    outliers) and ``predict`` returns +1 for inliers and -1 for outliers.
    ``feature_log_likelihoods`` says which features make a row unusual.

    A row with missing cells is scored on its observed cells, the probability
    of fewer cells, and so in general higher than the same row complete: a
    row with few observed cells looks normal whatever it holds. Compare rows
    with the same missing cells.

    Parameters
    ----------
    latent_dim : int, default=2
        Number of latent dimensions; fewer than ``VAETransformer``'s default
        of 4.
    contamination : 'auto' or float in (0, 0.5], default='auto'
        Expected share of outliers in the training rows, which sets
        ``offset_``: with a float, that share of the training rows fall below
        it. ``'auto'`` assumes no share and puts ``offset_`` at Tukey's lower
        fence of the training scores, ``Q1 - 1.5 * IQR``. Rows count by their
        ``sample_weight``.
    hidden_layer_sizes : array-like of int or int, default=(64, 32)
        Widths of the encoder's hidden layers; the decoder uses them in reverse
        (an int is one layer).
        Smaller than ``VAETransformer``'s default: a network that cannot
        memorise the training rows does not learn their outliers as well.
    activation : {'relu', 'tanh', 'logistic', 'identity'}, default='relu'
        Activation between hidden layers.
    likelihood : str or dict, default='auto'
        Observation model ``p(x | z)``; any of :class:`VAETransformer`'s,
        except that ``'auto'`` gives numeric columns
        ``'laplace_standardised'``, not ``'gaussian'``: a Laplace with each
        feature's variance fixed at its training variance. Every feature's
        absolute standardised error then counts the same (a learned variance
        lets the features the decoder predicts best dominate the score), and
        errors count linearly, so the outliers among the training rows pull
        the fit less than under a Gaussian. A column constant in training
        has no variance to standardise by: it keeps a scale of 1 in ``X``'s
        units (as :class:`~sklearn.preprocessing.StandardScaler` leaves
        it), so a departure from its value counts by its size in those
        units. Text, category and boolean columns are as for
        :class:`VAETransformer`.
    beta : float, default=2.0
        Weight of the KL term in the training loss, as for
        :class:`VAETransformer` (whose default is 1, the ELBO). Twice the
        ELBO's weight pulls the latent codes harder towards the prior;
        ``score_samples`` is still the log-likelihood of the trained model.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows and stop when their ELBO
        stops improving, for the same reason as the small network.
    tol : float, default=0.15
        The stopping rule's tolerance, as for :class:`VAETransformer`, on the
        held-out ELBO: training stops once the last ``n_iter_no_change``
        epochs gained less than 15% of what the held-out score has gained
        since the second window of ``n_iter_no_change`` epochs.
    n_iter_no_change : int or 'auto', default=10
        Width, in epochs, of the stopping rule's windows, as for
        :class:`VAETransformer` (whose default is ``'auto'``, windows of at
        least 50 steps). Ten epochs whatever the table's size: longer windows
        train small tables for longer, which fits their rows' density better
        but, on the benchmark tables, separates the outliers less well.
    support_fraction : float in (0, 1], default=0.7
        Share of each minibatch that a training step learns from, once
        ``support_warmup_epochs`` epochs have trained on every row: the rows
        of highest ELBO. Outliers among the training rows are then mostly
        left out of the steps that shape the model, which learns to
        reconstruct them less well (a trimmed likelihood, as in the
        ``support_fraction`` of :class:`~sklearn.covariance.MinCovDet`).
        The trimmed share should be well above the share of outliers. With
        ``sample_weight``, the share is of the minibatch's weight.
    support_warmup_epochs : int, default=20
        Epochs that train on every row before trimming starts: long enough
        for the model to learn what most rows look like, so that the rows it
        then leaves out are the unusual ones.
    **other parameters
        ``categories``, ``handle_unknown``, ``kl_warmup_epochs``,
        ``kl_warmup_start``, ``input_dropout``, ``init``, ``learning_rate``,
        ``batch_size``,
        ``max_epochs``, ``validation_fraction``, ``scoring``,
        ``n_learning_rate_drops``,
        ``n_importance_samples``, ``n_training_draws``,
        ``condition_on``, ``device``, ``n_threads``, ``random_state``,
        ``verbose`` and ``warm_start`` mean what they mean for
        :class:`VAETransformer`, and have the same defaults.
        ``latent_prior`` means the same, with the default ``'normal'``: the
        detector scores under ``N(0, I)``, as its ONNX export does.

    Attributes
    ----------
    offset_ : float
        The log-likelihood, in nats, below which a row is an outlier: set
        from the training rows' scores, estimated with the
        ``n_importance_samples`` of ``fit`` (``predict`` and
        ``decision_function`` warn when they score with another count).
    module_ : torch.nn.Module
        The trained network.
    device_ : torch.device
        The device ``device`` resolved to; a GPU by its index (``cuda:0``).
    loss_curve_ : list of float
        Mean training loss of each epoch, in nats per row: minus the ELBO
        with its KL term weighted by ``beta`` (the KL warm-up's weight during
        it), over the rows trained on (the most likely ``support_fraction``
        of each batch, once trimming starts), or minus the importance-weighted
        bound with ``n_training_draws`` above 1.
    likelihoods_ : dict
        The family of each column, by name for DataFrames, by position for
        arrays.
    validation_scores_ : list of float
        The held-out rows' ``scoring`` after each epoch; only with
        ``early_stopping``. NaN for the epochs of earlier calls that held no
        rows out (a warm start that turned ``early_stopping`` on).
    n_iter_ : int
        Number of epochs run (each ``partial_fit`` call counts one).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    VAETransformer : The same model as a transformer.
    sklearn.ensemble.IsolationForest : Outliers by random partitioning.

    Notes
    -----
    The defaults were chosen with ``benchmarks/sweep_outlier_settings.py``,
    which compares settings by their ROC-AUC on three outlier-detection sets
    with their own tuning splits; the outlier-detection page of the
    documentation reports them on other splits.
    Scores are deterministic for a fitted detector, and a row's score does
    not depend on the other rows scored with it up to float32 rounding, as
    for ``VAETransformer``: a row whose score lies within that rounding of
    ``offset_`` (about 1e-6 relative) can be labelled an inlier in one batch
    and an outlier alone.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAEOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> X[:3] += 8  # three rows far from the rest
    >>> detector = VAEOutlierDetector(random_state=0).fit(X)
    >>> detector.predict(X[:3])
    array([-1, -1, -1])
    >>> detector.feature_log_likelihoods(X[:3]).shape
    (3, 5)
    """

    _auto_numeric_family = "laplace_standardised"

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
    }

    def __init__(
        self,
        latent_dim=2,
        *,
        contamination="auto",
        hidden_layer_sizes=(64, 32),
        activation="relu",
        likelihood="auto",
        categories=None,
        handle_unknown="error",
        beta=2.0,
        kl_warmup_epochs=0,
        kl_warmup_start=0.0,
        input_dropout="auto",
        init="auto",
        support_fraction=0.7,
        support_warmup_epochs=20,
        learning_rate="auto",
        batch_size="auto",
        max_epochs=1000,
        early_stopping=True,
        validation_fraction=0.1,
        scoring="elbo",
        n_iter_no_change=10,
        tol=0.15,
        n_learning_rate_drops=0,
        n_importance_samples=50,
        n_training_draws=1,
        latent_prior="normal",
        condition_on=None,
        device="auto",
        n_threads=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        super().__init__(
            latent_dim,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            likelihood=likelihood,
            categories=categories,
            handle_unknown=handle_unknown,
            beta=beta,
            kl_warmup_epochs=kl_warmup_epochs,
            kl_warmup_start=kl_warmup_start,
            input_dropout=input_dropout,
            init=init,
            support_fraction=support_fraction,
            support_warmup_epochs=support_warmup_epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            scoring=scoring,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            n_learning_rate_drops=n_learning_rate_drops,
            n_importance_samples=n_importance_samples,
            n_training_draws=n_training_draws,
            latent_prior=latent_prior,
            condition_on=condition_on,
            device=device,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )
        self.contamination = contamination

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder on ``X`` and set the threshold ``offset_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, which may already hold outliers. Sparse matrices are
            never densified whole.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in the training loss and in
            ``offset_``, where a row counts by its weight (``contamination``
            is a share of the total weight). Rows of weight 0 take no part.

        Returns
        -------
        self : VAEOutlierDetector
            The fitted detector.
        """
        self._fit(X, sample_weight, incremental=False)
        return self

    def fit_predict(self, X, y=None, **kwargs):
        """Fit on ``X``, then label its rows: 1 for inliers, -1 for outliers.

        As ``fit(X, **kwargs).predict(X)``, but if the labelling fails (a
        training row of weight 0 with no observed cell cannot be scored), the
        detector is left as it was before the call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, which may already hold outliers.
        y : Ignored
            Not used, present for API consistency by convention.
        **kwargs : dict
            Passed to :meth:`fit`, such as ``sample_weight``.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            1 for inliers, -1 for outliers.
        """
        with _rollback_on_error(self, interrupts=False):
            return super().fit_predict(X, y, **kwargs)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one pass over ``X`` and set ``offset_`` from every row so far.

        Training works as :meth:`VAETransformer.partial_fit`: the first call
        builds the network, later calls continue it, one epoch each, without
        stopping rules. ``offset_`` is then recomputed, under the updated
        network, from the scores of a uniform sample of the rows of the last
        ``fit`` and of every ``partial_fit`` call since (up to 2,000 of them,
        kept by the model; see ``drop_optimizer_state``), so
        ``contamination`` describes the whole stream, whatever the size of
        its last chunk.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows of this pass, which may hold outliers. Later calls
            must have the same features. Sparse matrices are never densified
            whole.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in this pass's loss and in
            ``offset_``, divided by their mean over the call's rows as in
            ``VAETransformer.partial_fit``. Rows of weight 0 take no part.

        Returns
        -------
        self : VAEOutlierDetector
            The updated detector.

        Examples
        --------
        >>> import numpy as np
        >>> from skvae import VAEOutlierDetector
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(600, 4))
        >>> detector = VAEOutlierDetector(
        ...     hidden_layer_sizes=(16,), contamination=0.1, random_state=0
        ... )
        >>> for chunk in np.array_split(X, 3):
        ...     detector = detector.partial_fit(chunk)
        >>> detector.n_iter_
        3
        >>> float(np.mean(detector.predict(X) == -1))  # all 600 rows
        0.1
        """
        self._validate_params_again()
        self._fit(X, sample_weight, incremental=True)
        return self

    def _finish_fit(self, X, training_rows, weights, streaming: bool):
        """Set ``offset_`` from the scores of the training rows of weight > 0.

        A stream's are those of the sample of every row it trained on, not
        its last chunk's. The rows are scored as validated for training, not
        validated again, and count by their weights, as in training.
        """
        if streaming:
            training_rows = self._trained_rows.rows
            weights = self._trained_rows.weights
        training_scores = self._map_importance_draws(
            training_rows, VAE.log_marginal, validated=True
        )
        self.offset_ = _threshold(training_scores, self.contamination, weights)
        self._offset_draws = self._n_importance_draws()

    def _warn_of_a_changed_draw_count(self) -> None:
        """Warn where ``n_importance_samples`` changed since ``offset_`` was set."""
        set_with = getattr(self, "_offset_draws", None)  # None in older pickles
        now = self._n_importance_draws()
        if set_with is not None and now != set_with:
            warn_user(
                f"offset_ was set from the training rows' scores estimated with "
                f"n_importance_samples={set_with}, and scores are now estimated "
                f"with {now}. The estimate of a row's log-likelihood rises with "
                "the number of draws, so the share of rows below offset_ is no "
                "longer what contamination set. Refit, or partial_fit, after "
                "changing n_importance_samples."
            )

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to judge.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            How far each row's log-likelihood lies above the threshold, in nats.
        """
        scores = self.score_samples(X)
        self._warn_of_a_changed_draw_count()
        return scores - self.offset_

    def predict(self, X):
        """Label each row: +1 for an inlier, -1 for an outlier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to judge.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            -1 where ``decision_function(X) < 0``, +1 elsewhere.
        """
        check_is_fitted(self)
        return np.where(self.decision_function(X) >= 0, 1, -1)


def _threshold(training_scores: np.ndarray, contamination, weights=None) -> float:
    """The log-likelihood below which a row counts as an outlier.

    A float ``contamination`` puts that share of the training rows below it.
    ``'auto'`` assumes no share and uses Tukey's lower fence, ``Q1 - 1.5 IQR``
    of the training scores: rows far below the bulk, however many there are.
    Rows count by their ``weights`` (``_weighted_percentiles``).
    """
    q = [25, 75] if contamination == "auto" else [100 * contamination]
    if weights is None or np.all(weights == weights[0]):
        quantiles = np.percentile(training_scores, q)  # as scikit-learn's detectors
    else:
        quantiles = _weighted_percentiles(training_scores, q, weights)
    if contamination == "auto":
        q1, q3 = quantiles
        return float(q1 - 1.5 * (q3 - q1))
    return float(quantiles[0])


def _weighted_percentiles(values: np.ndarray, q, weights: np.ndarray) -> np.ndarray:
    """The percentiles ``q`` of ``values``, each counted by its positive weight.

    Each value counts as ``w / median(w)`` copies of itself, and the
    percentiles are NumPy's default ones of the copies. Copies are cells of
    length 1 laid end to end, each value's filling a stretch of length
    ``w / median(w)`` (the values in order), and NumPy's percentiles
    interpolate between the cells' centres: 0 % and 100 % lie half a copy
    inside the ends. A value of less than one copy keeps one point, the
    centre of its stretch. So where the median weight is 1, whole weights
    give the percentiles of the values repeated; equal weights give NumPy's
    own; the percentiles move continuously with the weights; and the lowest
    or highest value, as its weight nears 0, sets them as if left out (a
    value between others keeps its point). Lengths are shares of the total
    weight, which do not overflow. (NumPy's weighted percentiles,
    ``method='inverted_cdf'``, step from value to value and differ from its
    default ones for equal weights.)
    """
    order = np.argsort(values, kind="stable")
    values = values[order]
    shares = relative_to_their_mean(weights[order])  # finite at any scale
    shares /= shares.sum()
    copy = np.median(shares)  # the share of one copy
    ends = np.cumsum(shares)
    inset = np.minimum(shares, copy) / 2  # from a stretch's ends to its centres
    points = np.column_stack([ends - shares + inset, ends - inset]).ravel()
    at = copy / 2 + np.asarray(q, dtype=np.float64) / 100.0 * (ends[-1] - copy)
    return np.interp(at, points, np.repeat(values, 2))
