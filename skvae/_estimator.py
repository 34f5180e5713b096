"""``VAETransformer``: the scikit-learn face of the variational autoencoder."""

from __future__ import annotations

from contextlib import nullcontext
from functools import partial
from numbers import Integral

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import (
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_array, check_is_fitted

from ._base import BaseVAE, _has_categorical, _rollback_on_error
from ._containers import _is_dataframe, computed
from ._data import host_batches, map_batches, row_namer
from ._missing import (
    FLOAT32_LIMIT,
    first_cell_beyond_float32,
    has_missing,
    refuse_overflowed_rows,
)
from ._module import refining_draws
from ._ranking import (
    item_scores,
    refuse_columns_without_item_scores,
    without_held_items,
)
from ._seeds import Stream, derived_seed
from ._warn import warn_user


class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseVAE):
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
    latent_dim : int, default=4
        Number of latent dimensions, the width of ``transform``'s output.
        ``latent_dim=2`` gives a map to draw.
    hidden_layer_sizes : array-like of int or int, default=(256, 128)
        Widths of the encoder's hidden layers; the decoder uses them in reverse.
        An int is one layer, as in :class:`~sklearn.neural_network.MLPRegressor`.
        An empty tuple gives a linear encoder and decoder.
    activation : {'relu', 'tanh', 'logistic', 'identity'}, default='relu'
        Activation between hidden layers.
    likelihood : {'gaussian', 'gaussian_fixed', 'gaussian_standardised', \
            'laplace', 'laplace_standardised', 'bernoulli', \
            'continuous_bernoulli', 'poisson', 'negative_binomial', \
            'multinomial', 'categorical', 'inflated_gaussian', 'auto'} or dict, \
            default='auto'
        Observation model ``p(x | z)``. Every family's ``score`` is a
        log-likelihood in nats, so ``GridSearchCV`` can compare them on the
        same data (densities for continuous families, probabilities for
        discrete ones). The default, ``'auto'``, is ``'gaussian'`` for
        numeric input, and picks a family per column for tables with text,
        category or boolean columns.

        - ``'gaussian'``: Normal with a learned variance per feature (floored at
          1e-3 of the feature's variance, so constant columns stay finite,
          and with a prior worth 50 rows of the feature's whole variance, so
          features all but constant in training keep some; with
          ``condition_on`` and the default ``init``, of the share a linear
          regression on the conditions leaves). The model
          standardises features internally and reports densities in the
          units of ``X``.
        - ``'gaussian_fixed'``: Normal with variance 1 in the units of ``X``:
          the squared-error (MSE) loss of most tutorials, as a likelihood.
        - ``'gaussian_standardised'``: Normal with each feature's variance
          fixed at its variance in the training data: the MSE of standardised
          features, whatever the units of ``X``.
        - ``'laplace'``, ``'laplace_standardised'``: the same two with a
          Laplace in place of the Normal, the absolute error (L1) instead of
          the squared error. Rows far off in a few features weigh less in the
          fit.
        - ``'bernoulli'``: values in [0, 1]; the binary cross-entropy. A true
          likelihood for binary data only.
        - ``'continuous_bernoulli'``: values in [0, 1]; the normalised density
          of Loaiza-Ganem & Cunningham (2019), for intensities such as pixels.
        - ``'poisson'``: non-negative integer counts.
        - ``'negative_binomial'``: over-dispersed counts, with a dispersion
          learned per feature.
        - ``'multinomial'``: how each row's total count is shared among the
          features (Mult-VAE, Liang et al., 2018), for bag-of-words and
          implicit-feedback matrices; two features or more.

        - ``'categorical'``: every column a set of levels (strings, numbers,
          pandas categories), each with its own softmax; the encoder sees the
          columns one-hot. Dense ``X`` only, and ``input_dropout`` 0.
        - ``'inflated_gaussian'``: numbers with frequent exact values, such as
          amounts that are mostly 0 or hours that are mostly 40: each value
          held by at least 5 % of a column's training cells, and by two
          cells at least, (an *atom*) gets a probability of its own, the
          other values a ``'gaussian'``. The
          encoder sees which atom a cell is, one-hot, and the other values
          standardised. ``sample`` draws the other values within the range
          of the training ones (their Gaussian truncated to it), so that a
          draw beyond the range does not become the atom at its end. Dense
          ``X`` only.
        - ``'auto'``: a family per column from its dtype: categorical for
          pandas ``category``, ``object`` and ``string`` columns (and arrays of
          text that are not all numbers: an array of text that parses as
          numbers is read as numbers), ``'bernoulli'`` for booleans (also
          Python booleans and missing cells in an ``object`` column),
          ``'gaussian'`` for numbers.
          Numeric input alone (arrays, sparse matrices, DataFrames of numbers)
          trains exactly as ``'gaussian'`` does; a model fitted on a DataFrame
          still gives its table back (below).
        - a dict from column (a name for DataFrames, a position for arrays) to
          family name: those columns get those families, the others follow
          ``'auto'``.

        Count families and ``'multinomial'`` show the encoder ``log1p(X)``.
        With a family per column (``'auto'``, ``'categorical'``,
        ``'inflated_gaussian'`` or a dict),
        ``sample`` and ``inverse_transform`` give categorical columns back as
        their levels and boolean columns as booleans (``inverse_transform``
        the more probable of each), and a model fitted on a DataFrame gives a
        DataFrame with
        the training columns and dtypes (integer columns rounded, numeric
        columns clipped to their training range, as SDV's synthesizers do).
    categories : dict or None, default=None
        The levels of categorical columns, declared instead of learned, as
        :class:`~sklearn.preprocessing.OneHotEncoder`'s ``categories``: a dict
        from column (named as in ``likelihood``'s dict; a condition of
        ``condition_on`` too) to the list of its levels. Such a column is
        categorical, with exactly these levels, whichever of them the
        training rows hold; a training value outside them is refused. None
        learns each categorical column's levels from the training rows,
        which in a stream are the first ``partial_fit`` chunk's (with
        dask-ml's ``Incremental``, the first chunk it visits): declare the
        levels when that chunk may lack some. Levels are values of the
        column's own dtype as they are (``2007``, not ``'2007'`` or
        ``2007.5``, for integers, ``Int64`` ones too), booleans for a column
        of booleans and only there; a ``category`` column whose dtype lacks
        some comes back with them appended to its categories. A declared
        level that the first rows lack starts as likely as a level one more
        row would hold (``1 / (n + 1)`` of ``n`` rows), and training moves
        it from there: a few passes over rows that hold it make it as likely
        as they say. A continued fit keeps the levels it has.
    handle_unknown : {'error', 'missing'}, default='error'
        What a categorical column's level that ``fit`` never saw does in later
        calls: raise a ``ValueError`` naming the column and the value, or
        count as a missing cell, as ``OneHotEncoder(handle_unknown=...)``
        lets one choose. A condition (``condition_on``) cannot be missing:
        an unseen level of one is always refused.
    beta : float, default=1.0
        Weight of the KL term in the training loss (1 is the ELBO; other values
        give the beta-VAE of Higgins et al., 2017).
    kl_warmup_epochs : int, default=0
        Move the KL weight linearly from ``kl_warmup_start * beta`` to ``beta``
        over this many epochs (KL annealing, as in Mult-VAE and scVI). Stopping
        rules wait until the warm-up is over.
    kl_warmup_start : float, default=0.0
        The KL weight at the start of the warm-up, as a multiple of ``beta``.
        0 is the usual warm-up from no KL term. Above 1, training starts with
        a stronger KL term that falls to ``beta``: the code can carry little
        at first, so the latent space is laid out coarsely before it is
        refined (in the spirit of the capacity annealing of Burgess et al.,
        2018): a tool for 2-D maps.
    input_dropout : float or 'auto', default='auto'
        During training, zero each input value the encoder sees with this
        probability and scale the others by ``1 / (1 - input_dropout)``: the
        denoising of Mult-VAE, meant for counts, binary and [0, 1] data, where
        zero means absent. The reconstruction target is always the full row.
        ``'auto'`` is 0.5, Mult-VAE's rate, for the Bernoulli and continuous
        Bernoulli likelihoods, and 0 for the others (for real-valued data a
        zero is just another value). ``input_dropout_`` holds the rate used.
    init : {'auto', 'pca', 'random'}, default='auto'
        How the latent layout starts. ``'pca'`` first trains the encoder, for
        200 minibatch steps (or 50 passes over the rows when they are fewer,
        at a learning rate raised in proportion), to map each row to its
        whitened principal component scores (of the features as the encoder
        sees them: standardised for the real-valued likelihoods,
        ``log1p(X)`` for counts), then trains the ELBO from there, as
        :class:`~sklearn.manifold.TSNE` starts from PCA: the layout then
        depends much less on the seed. The columns are centred implicitly,
        so sparse ``X`` stays sparse, and dense, sparse and pandas input of
        the same values start alike. ``'random'`` starts from the random
        initial weights. ``'auto'`` is ``'pca'``. With ``'pca'``, learned
        variances (``'gaussian'``, ``'laplace'``) start at the share of each
        feature's variance that the principal components (at most half as
        many as there are features) leave unexplained, the noise of a
        probabilistic PCA, weighed against the 50 rows' worth of the whole
        variance that their prior holds (see ``likelihood``), rather than at
        the whole of it.
        With ``condition_on``, the components are those of what a linear
        regression on the encoded conditions leaves, the variances start at
        the share that both leave (their prior centred on the share the
        regression leaves), and the decoder is first trained for as
        many steps to give the rows back from their components and
        conditions: ``z`` starts with what the conditions do not explain.
        This is for models of one family fitted without missing cells: in a
        table of several families the real columns' head start draws the
        latent away from the others, and the components of mean-filled cells
        are not those of the observed ones. Any other conditional model (a
        table of several families, or one with missing cells) starts from
        the components of all its columns, its variances, and their prior's
        centre, at the share the regression leaves of each column's observed
        cells. Only a new
        network is initialised; ``warm_start`` and later ``partial_fit``
        calls continue the fitted one.
    support_fraction : float in (0, 1], default=1.0
        Share of each minibatch that a training step learns from: the rows of
        highest ELBO, so that the rows the model finds least likely (outliers
        among the training rows) do not pull it towards themselves, as in the
        maximum trimmed likelihood estimator (Hadi & Luceno, 1997) and the
        ``support_fraction`` of :class:`~sklearn.covariance.MinCovDet`. 1
        trains on every row. The training loss is then the mean over the rows
        trained on; the early-stopping score still counts every held-out row.
        With ``sample_weight``, the share is of the minibatch's weight, as
        if each row were repeated by its weight.
    support_warmup_epochs : int, default=10
        Epochs that train on every row before ``support_fraction`` applies, so
        that the model has learned the bulk of the rows before it ranks them.
        Stopping rules wait until they are over. Ignored when
        ``support_fraction=1``.
    learning_rate : float or 'auto', default='auto'
        Step size of the Adam optimizer. ``'auto'`` is 1e-3 for batches of up
        to 200 rows and grows with the square root of larger batches (1.6e-3
        for 500 rows), as the noise of their gradient shrinks.
    batch_size : int or 'auto', default='auto'
        Rows per minibatch; ``'auto'`` is a 50th of the training rows, at
        least 200 (or all the rows, when fewer) and at most 500: tables of
        over 10,000 rows train in fewer, larger steps. Values above ``n_samples``
        are clipped.
    max_epochs : int, default=1000
        Maximum number of passes over the training data. If they run out while
        the score is still improving (see ``tol``), or within a warm-up
        before the score is judged, ``fit`` warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning`.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when their score
        (see ``scoring``) stops improving, and keep the weights of the best
        epoch. Otherwise stop when the training loss stops improving.
    validation_fraction : float, default=0.1
        Share of the rows held out when ``early_stopping`` is True.
    scoring : str, default='elbo'
        The held-out score that ``early_stopping`` follows. ``'elbo'``: the
        rows' mean ELBO. ``'ndcg@k'`` or ``'recall@k'`` (``k`` a positive
        integer), for rows of implicit feedback: Mult-VAE's epoch selection.
        About 20 % of each held-out row's nonzero items (the same ones at every
        epoch) are hidden, the others are the row as the encoder reads it, and
        the score is how well :meth:`recommend` ranks the hidden items among
        the rest: NDCG@k, or Recall@k divided by ``min(k, number hidden)``.
        ``X`` must then read as implicit feedback: non-negative, no missing
        cells, and some entries 0 (the items a row does not hold).
    n_iter_no_change : int or 'auto', default='auto'
        Width, in epochs, of the windows that the stopping rule compares.
        ``'auto'`` is 10 epochs, or more where an epoch takes few optimizer
        steps, so that each window holds at least 50 steps: a table of a few
        hundred rows (one or two batches an epoch) is judged on as much
        training as a larger one. ``n_iter_no_change_`` is the width used.
    tol : float, default=0.05
        Training stops once the mean score (the negative training loss, or
        the held-out ``scoring`` with ``early_stopping``) of the last
        ``n_iter_no_change`` epochs beats the mean of the ``n_iter_no_change``
        epochs before by no more than ``tol`` times its gain since the second
        window of ``n_iter_no_change`` epochs. A relative tolerance, which
        means the same whatever the units and number of features of ``X``:
        smaller values train longer, and 0 stops only once the score falls.
    n_learning_rate_drops : int, default=0
        How many times the stopping rule (see ``tol``) divides the learning
        rate by 5 and lets training go on, before it ends training, as
        :class:`~sklearn.neural_network.MLPRegressor` does with
        ``learning_rate='adaptive'``. After a drop the rule waits
        ``n_iter_no_change`` epochs, then compares them with the window
        before. The smaller steps settle the weights that the noise of
        minibatches kept moving, for a few more epochs. :meth:`partial_fit`,
        which runs one epoch, never drops the rate; each :meth:`fit` starts
        again from ``learning_rate``.
    n_importance_samples : int, default=50
        Posterior draws per row in ``score_samples`` (1 gives the ELBO).
    n_training_draws : int, default=1
        Posterior draws per row in each training step. 1 trains on the ELBO;
        more train on the importance-weighted bound of Burda et al. (2016),
        which fits ``p(x)`` more tightly and leaves a broader ``q(z | x)``,
        at that many times the decoder's work per step (MIWAE trains on it
        with 20 draws).
    latent_prior : 'normal' or int, default=10
        The prior ``p(z)`` that ``sample`` draws from and that
        ``score_samples`` weighs with. An int ``k``: once training ends, a
        Gaussian mixture of ``k`` components fitted to draws of ``z`` from
        the training rows' posteriors ``q(z | x)`` (10,000 draws, spread
        evenly over the rows but at most 20 from each, or one from each of
        10,000 rows; rows of unequal ``sample_weight`` are picked as many
        times in all, with replacement, in proportion to their weights);
        each ``fit`` call fits it again on its rows, each
        ``partial_fit`` call on a uniform sample of the rows of the last
        ``fit`` and of every ``partial_fit`` call since (see
        ``drop_optimizer_state``). The aggregate
        posterior that it estimates has no regions of low density between
        clusters that ``N(0, I)`` would draw from, so generated rows fall
        between kinds of rows less often (Ghosh et al. 2020, "From Variational
        to Deterministic Autoencoders"; Tomczak and Welling 2018, "VAE with a
        VampPrior"), and held-out rows mostly score higher. ``'normal'``:
        ``N(0, I)``, the prior that training assumes. Training, ``transform``
        and ``inverse_transform`` do not change.
    condition_on : str, int, list or None, default=None
        Columns of ``X`` (names for a DataFrame, positions for an array) that
        the model reads but does not model: a conditional VAE (Sohn et al.
        2015) of ``p(x | c)``, the conditions feeding both the encoder and
        the decoder, numeric ones standardised and the others one-hot. Dense
        ``X`` only, with a value for every condition of every row.
        ``transform`` and ``score_samples`` read them from ``X``; ``sample``
        and ``inverse_transform`` take them as ``conditions=``.
    device : str or torch.device, default='auto'
        Where to train and infer: ``'auto'`` (CUDA, then MPS, then CPU),
        ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'`` or a :class:`torch.device`.
    n_threads : int or None, default=None
        Threads of PyTorch's CPU kernels. None runs each fit and each
        inference call (``transform``, ``score_samples``, ``sample``, ...) on
        at most ``torch.get_num_threads()`` threads and at most the cores that
        other processes leave idle, re-measured every quarter of a second (on
        Linux): a call beside other work then keeps close to its speed on a
        quiet machine, where PyTorch's waiting threads would make it several
        times slower. An int uses that many threads in every call. PyTorch's
        global setting is restored when each call returns.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order and the noise of training, and the
        draws of ``score_samples``. An int gives identical results on the CPU
        for the same number of threads; fix ``n_threads`` for results that do
        not depend on what else the machine runs.
    verbose : int, default=0
        Show a progress bar with the running loss when positive.
    warm_start : bool, default=False
        Let ``fit`` continue training the fitted network instead of starting
        anew, as ``partial_fit`` does: Adam's moment estimates and step counts
        carry over, the KL warm-up goes on from ``n_iter_``, each call draws
        its own batch order and noise, and ``early_stopping`` holds out the
        same rows every time. The stopping rule starts afresh with each call.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    device_ : torch.device
        The device ``device`` resolved to; a GPU by its index (``cuda:0``).
    batch_size_ : int
        The batch size used.
    learning_rate_ : float
        The learning rate training started from (``learning_rate`` with
        ``'auto'`` resolved); each drop the stopping rule made (see
        ``n_learning_rate_drops``) divided it by 5 from there.
    n_iter_no_change_ : int
        The width, in epochs, of the stopping rule's windows in the last
        :meth:`fit` (``n_iter_no_change`` with ``'auto'`` resolved).
        :meth:`partial_fit`, which runs no stopping rule, does not set it.
    input_dropout_ : float
        The input dropout used (``input_dropout`` with ``'auto'`` resolved).
    likelihoods_ : dict
        The family of each column, by name for DataFrames, by position for
        arrays.
    loss_curve_ : list of float
        Mean training loss of each epoch, in nats per row: minus the ELBO
        with its KL term weighted by ``beta`` (the KL warm-up's weight during
        it), over the rows trained on (the most likely ``support_fraction``
        of each batch, once trimming starts), or minus the importance-weighted
        bound with ``n_training_draws`` above 1.
    validation_scores_ : list of float
        The held-out rows' ``scoring`` after each epoch; only with
        ``early_stopping``. NaN for the epochs of earlier calls that held no
        rows out (a warm start that turned ``early_stopping`` on).
    best_validation_score_ : float
        The held-out score of the weights the fit kept; only with
        ``early_stopping``. That is the best score of the fit's epochs after
        the warm-ups (``kl_warmup_epochs``, ``support_warmup_epochs``), whose
        weights are restored, or the last epoch's score when the fit ended
        within a warm-up (interrupted there, the network also keeps the
        steps of the epoch in progress). A fit with ``warm_start`` judges its own epochs
        only.
    best_loss_ : float
        Lowest value of ``loss_curve_``.
    n_iter_ : int
        Number of epochs run (each ``partial_fit`` call counts one).
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
    a lower bound on ``log p(x)`` in expectation over its draws, that tightens
    as ``n_importance_samples`` grows. All rows share the same standard Normal
    draws, fixed when the model is fitted, so scores are deterministic and a
    row's score does not depend on the other rows passed with it, up to
    float32 rounding (the kernels may sum in another order for another number
    of rows).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(latent_dim=2, hidden_layer_sizes=(64,), random_state=0)
    >>> vae.fit_transform(X).shape
    (1797, 2)
    >>> vae.n_iter_ < vae.max_epochs  # the stopping rule ended training
    True
    >>> vae.inverse_transform([[0.0, 0.0]]).shape
    (1, 64)
    >>> vae.score_samples(X[:3]).shape
    (3,)
    """

    _maps_sampled_numbers = True

    # ---------------------------------------------------------------- inference

    def fit_transform(self, X, y=None, **fit_params):
        """Fit on ``X``, then return its latent means.

        As ``fit(X, **fit_params).transform(X)``, but if the transform fails
        (a training row of weight 0 with no observed cell has no latent
        mean), the estimator is left as it was before the call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.
        **fit_params : dict
            Passed to :meth:`fit`, such as ``sample_weight``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, latent_dim)
            Latent means of the rows of ``X``.
        """
        with _rollback_on_error(self, interrupts=False):
            return super().fit_transform(X, y, **fit_params)

    def transform(self, X):
        """Posterior means of the latent variables.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to encode, in the fitted likelihood's domain.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim)
            Mean of ``q(z | x)`` for each row, in ``X``'s float dtype.

        Raises
        ------
        ValueError
            For a row so far from the training data (cells near float32's
            limit) that the encoder's float32 arithmetic overflows on it.
        """
        check_is_fitted(self)
        X = computed(X)  # once: a Dask DataFrame's rows named below too
        rows = self._validated_in_domain(X)
        encode = partial(self.module_.posterior_mean, maybe_missing=has_missing(rows))
        Z = self._map_validated_rows(rows, encode, dtype=None)
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, 1e38 + 1e38
            finite = np.isfinite(np.sum(Z))  # one pass; rows only if not
        if not finite:
            refuse_overflowed_rows(
                ~np.isfinite(Z).all(axis=1),
                np.arange(len(Z)),
                "its latent mean is not finite",
                row_namer(X),
            )
        return Z

    def inverse_transform(self, X, conditions=None):
        """Decode latent points to the mean of ``p(x | z)`` in input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, latent_dim)
            Latent points, for example the output of ``transform``.
        conditions : dict, DataFrame or array-like, default=None
            For a model fitted with ``condition_on``, the conditions to decode
            under (required): a dict from each condition to one value for
            every point, or a table with a row per point (a DataFrame with the
            condition columns, or an array with a column per condition in
            ``condition_on``'s order). The latent points of some rows decoded
            under other conditions show those rows as the model would have
            them under those conditions (a batch effect swapped out).

        Returns
        -------
        X_original : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            The decoder's mean for each latent point, with the conditions in
            their columns for a conditional model. A DataFrame where
            ``likelihood`` gave a family per column of a training DataFrame
            (see ``likelihood``), with the index of ``X`` if ``X`` is a
            DataFrame, or else of ``conditions`` if they are one; a polars
            DataFrame, without an index, for a model fitted on one.
        """
        check_is_fitted(self)
        conditions = computed(conditions)  # a Dask or polars DataFrame as pandas
        X = computed(X)
        index = X.index if _is_dataframe(X) else None
        Z = check_array(
            X,
            dtype=(np.float64, np.float32),
            input_name="X",
            ensure_all_finite=False,
            estimator=self,
        )
        if Z.shape[1] != self.module_.latent_dim:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"latent_dim={self.module_.latent_dim} columns."
            )
        if not get_config()["assume_finite"] and has_missing(Z):
            row, column = np.argwhere(np.isnan(Z))[0]
            raise ValueError(
                f"The latent point in row {row_namer(X)(row)} of X is NaN in "
                f"column {column}: a latent point has no missing coordinates."
            )
        beyond = first_cell_beyond_float32(Z)  # inf, or what float32 makes inf
        if beyond is not None:
            row, column, value = beyond
            raise ValueError(
                f"The latent point in row {row_namer(X)(row)} of X holds {value:g} "
                f"in column {column}, beyond the float32 range the network "
                f"computes in (±{FLOAT32_LIMIT:.1e})."
            )
        decode, encoded = self._latent_decoder(
            self.module_.decode_mean, conditions, len(Z)
        )
        inputs = Z if encoded is None else np.hstack([Z, encoded.astype(Z.dtype)])
        batches = host_batches(inputs, self._batch_rows(1), self.device_)
        decoded = map_batches(
            decode, batches, len(Z), Z.dtype, threads=self._thread_policy()
        )
        rows = self._as_rows(decoded, conditions)
        if index is not None and _is_dataframe(rows):
            rows.index = index
        return rows

    def recommend(self, X, n=10, filter_seen=True, refine_steps=0):
        """The ``n`` highest-scoring columns of each row: top-k recommendations.

        For rows of implicit feedback (users by items, counts or 0/1), each
        item's score is the decoder's mean at the row's posterior mean, the
        ranking of Mult-VAE (Liang et al. 2018): a probability for
        ``likelihood='bernoulli'``; for ``'multinomial'``, the decoder's
        softmax, the probability that the row's next item is this one; for
        count families, the expected count. Items of families of different
        scales are ranked together as they are: beside a multinomial block,
        whose probabilities sum to 1, a Poisson column's expected count of 1
        ranks above every item of the block. Rows
        go through in batches within scikit-learn's ``working_memory``, so no
        dense rows-by-items array is made. Every column is an item: a model
        with ``condition_on``, or with a categorical or
        ``'inflated_gaussian'`` column, is refused.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to recommend for, in the training data's columns.
        n : int, default=10
            Items per row, at most the number of columns.
        filter_seen : bool, default=True
            Leave out the items a row already holds (its non-zero entries;
            a missing cell, NaN, is not held and may be recommended).
            A row with fewer than ``n`` other items gets them all, then the
            item -1 (``None`` for column labels) with score ``-inf`` for the
            places left: a held item is never recommended.
        refine_steps : int, default=0
            Refine each row's approximate posterior before ranking: starting
            from the encoder's ``q(z | x)``, this many Adam steps (learning
            rate 0.03) on the row's ELBO with the decoder fixed, each at one
            draw of ``z`` (Krishnan et al. 2018, "On the challenges of
            learning with inference networks on sparse, high-dimensional
            data"). The ELBO is the one training climbs, under ``N(0, I)``
            whatever the ``latent_prior``. The draws are seeded by the
            estimator's ``random_state``.
            Each step costs a training step's work on the batch, less the
            gradients of the network's weights; 0
            ranks from the encoder's posterior mean.

        Returns
        -------
        items : ndarray of shape (n_samples, n)
            Column indices, best first; the column labels (names, item ids)
            if the model was fitted on a DataFrame. Items of equal score
            come in an order that ``torch.topk`` leaves unspecified.
        scores : ndarray of shape (n_samples, n)
            Each recommended item's score.

        Examples
        --------
        >>> import numpy as np
        >>> from skvae import VAETransformer
        >>> rng = np.random.RandomState(0)
        >>> X = (rng.rand(300, 20) < 0.2).astype(float)
        >>> vae = VAETransformer(likelihood="bernoulli", random_state=0).fit(X)
        >>> items, scores = vae.recommend(X[:2], n=3)
        >>> items.shape, bool((X[np.arange(2)[:, None], items] == 0).all())
        ((2, 3), True)
        """
        check_is_fitted(self)
        if self._conditions is not None:
            raise ValueError(
                "recommend ranks the items of implicit feedback; a model with "
                f"condition_on={self.condition_on!r} is not supported."
            )
        refuse_columns_without_item_scores(self.likelihoods_, "recommend")
        X = self._validated_in_domain(X)  # its width first: n counts its items
        n_items = self.n_features_in_
        _check_count(n, "n", 1, n_items, f"an integer from 1 to the {n_items} items")
        _check_count(refine_steps, "refine_steps", 0, None, "a non-negative integer")
        if not isinstance(filter_seen, bool | np.bool_):
            raise ValueError(f"filter_seen must be True or False, got {filter_seen!r}.")
        module = self.module_
        if refine_steps:
            # beta may have been set since fit, where scikit-learn checks it
            self._checked("beta")
            beta = self._beta(_has_categorical(module))

        def posterior_mean(x, seed):
            if not refine_steps:
                return module.posterior_mean(x)
            # every batch sees the same draws, made as the steps go
            draws = refining_draws(refine_steps, module.latent_dim, seed, self.device_)
            return module.refined_posterior(x, draws, beta)[0]

        def top_items(x, seed):
            scores = item_scores(module, posterior_mean(x, seed))
            if filter_seen:
                scores = without_held_items(scores, x)
            best = torch.topk(scores, n, dim=-1)
            # on the host: MPS holds no float64, and the result goes there anyway
            return torch.stack(
                [best.indices.cpu().double(), best.values.cpu().double()], 1
            )

        # A refining step keeps the decoder's output, its gradient and the
        # log-probabilities of each row: three decoded copies; its batches
        # fill working_memory, as each step re-reads the decoder's weights.
        with self._drawn_seed() if refine_steps else nullcontext() as seed:
            top = self._map_validated_rows(
                X,
                partial(top_items, seed=seed),
                n_draws=3 if refine_steps else 1,
                cache_sized=not refine_steps,
            )
        items, scores = top[:, 0].astype(np.intp), top[:, 1]
        # places left over once a row's unseen items ran out: no item there
        items[scores == -np.inf] = -1
        if items.size and (items == -1).all():
            warn_user(
                "recommend found no item to recommend: every item of every row "
                "is held (a nonzero value), as in rows of real values. It ranks "
                "implicit feedback, where 0 is an item not held; "
                "filter_seen=False ranks every item.",
            )
        names = self._input_column_labels()
        if names is not None:
            items = np.where(items >= 0, names[items], None)
        return items, scores

    def sample(
        self,
        n_samples=None,
        random_state=None,
        *,
        return_mean=False,
        conditions=None,
        missing_cells=False,
        marginals="training",
    ):
        """Generate rows: ``z ~ p(z)`` (see ``latent_prior``), then ``x ~ p(x | z)``.

        By default each real-valued column (of a Normal or Laplace family) is
        then mapped to follow the training rows' distribution (``marginals``;
        a model pickled before this mapping existed draws as ``'model'``).

        Parameters
        ----------
        n_samples : int, default=None
            Number of rows to generate. None generates one row, or one for
            each row of a table of ``conditions``.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws. None takes them from the estimator's
            ``random_state``, as :meth:`sklearn.mixture.GaussianMixture.sample`
            does: a model fitted with an integer ``random_state`` then draws
            the same rows on every call.
        return_mean : bool, default=False
            Return the decoder's mean ``E[x | z]`` instead of a draw from
            ``p(x | z)``: the smooth picture one usually wants for images.
        conditions : dict, DataFrame or array-like, default=None
            For a model fitted with ``condition_on``, the conditions of the
            rows to generate (required), as for :meth:`inverse_transform`:
            ``{'digit': 3}`` generates ``n_samples`` rows of ``p(x | digit=3)``;
            a table (a DataFrame, or an array of a column for each condition)
            gives the conditions of each row to generate.
        missing_cells : bool, default=False
            Leave cells missing (NaN, or None in a column of levels; null in
            a polars DataFrame): each
            row gets the missing cells of a training row drawn at random
            (weighted by ``sample_weight``), so that each pattern of missing
            cells comes at its training frequency and cells that go missing
            together in training go missing together here. The pattern is
            drawn independently of the row's values. The fitted model keeps
            each distinct pattern once, in ``n_features_in_ / 8`` bytes. The
            draws are seeded with the rest.
        marginals : {'training', 'model'}, default='training'
            ``'training'``: each real-valued column's draws are mapped,
            monotonically, to the training rows' distribution of that column:
            a draw at the model's ``q``-quantile of its column becomes the
            training rows' ``q``-quantile (by ``sample_weight``, over the
            observed cells; those of a stream's sample of rows after
            ``partial_fit``). Spikes (a column mostly 0), skew and bounds come
            out as in training, and the order of each column's draws, so the
            dependence between columns that the model learned, is kept. The
            model's quantiles come from rows that ``fit`` draws, as many as
            the training rows it reads (1,000 to 10,000; fewer for more than
            500 mapped columns). A model fitted with ``condition_on`` has a
            map for each value of its conditions that at least 50 training
            rows hold (a level of a categorical condition, say), from those
            rows and from draws under that value; rows generated under other
            values (most values of a numeric condition) come as drawn. Not
            with ``return_mean``.
            ``'model'``: the draws of ``p(x | z)`` as they are, whose density
            is the one :meth:`score_samples` gives.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            Generated rows, with the conditions in their columns for a
            conditional model. A DataFrame where ``likelihood`` gave a family
            per column of a training DataFrame (see ``likelihood``), with the
            training columns and dtypes, and the index of ``conditions`` given
            as a DataFrame; a polars DataFrame for a model fitted on one.
        """
        check_is_fitted(self)
        validate_parameter_constraints(
            {
                "random_state": ["random_state"],
                "return_mean": ["boolean"],
                "missing_cells": ["boolean"],
                "marginals": [StrOptions({"training", "model"})],
            },
            {
                "random_state": random_state,
                "return_mean": return_mean,
                "missing_cells": missing_cells,
                "marginals": marginals,
            },
            caller_name="sample",
        )
        conditions = computed(conditions)  # a Dask DataFrame as pandas
        table_rows = _table_rows(conditions)
        if n_samples is None:
            n_samples = 1 if table_rows is None else table_rows
        _check_count(n_samples, "n_samples", 1, None, "a positive integer")
        if table_rows is not None and n_samples != table_rows:
            raise ValueError(
                f"n_samples is {n_samples}, but conditions is a table of "
                f"{table_rows} rows, the conditions of each row to generate: "
                "leave n_samples out to generate a row for each, or pass a dict "
                "to give one value to all."
            )
        decode = self.module_.decode_mean if return_mean else self.module_.decode_sample
        # the conditions checked before a RandomState gives a seed (the thread
        # count too, by _drawn_seed): an error leaves it where it was
        decode, encoded = self._latent_decoder(decode, conditions, n_samples)
        with self._drawn_seed(random_state) as seed:
            rows = self._decoded_draws(n_samples, seed, decode, encoded)
            marginal_map = getattr(self, "_marginal_map", None)
            if marginals == "training" and not return_mean and marginal_map is not None:
                rng = np.random.default_rng(derived_seed(seed, Stream.MARGINALS))
                if encoded is None:
                    rows = marginal_map.apply(rows, rng)
                else:  # one map for each value of the conditions
                    rows = marginal_map.apply(rows, encoded, rng)
            if missing_cells:
                rows = self._leave_cells_missing(rows, seed)
            return self._as_rows(rows, conditions)

    # -------------------------------------------------------- scikit-learn glue

    @property
    def _n_features_out(self):
        return self.module_.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _table_rows(conditions) -> int | None:
    """The rows of a table of conditions; None for a dict, None or no table."""
    if conditions is None or isinstance(conditions, dict):
        return None
    try:
        shape = np.shape(conditions)  # a DataFrame's own, not an array's
    except ValueError:
        return None  # ragged rows: the conditions' own check says so
    if len(shape) != 2:
        return None  # not a table: the conditions' own check says so
    n_rows = shape[0]
    if n_rows == 0:
        raise ValueError("conditions is a table of no rows: no row to generate.")
    return n_rows


def _check_count(value, name: str, low: int, high: int | None, expected: str) -> None:
    """Refuse ``value`` unless it is an integer (not a bool) in ``[low, high]``.

    ``expected`` says what was wanted, in the error: "a positive integer".
    """
    whole = isinstance(value, Integral) and not isinstance(value, bool)
    if not whole or value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
