"""``VAEImputer``: missing cells filled from the model's conditional means."""

from __future__ import annotations

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._base import BaseVAE
from ._module import VAE
from ._table import _present


class VAEImputer(TransformerMixin, BaseVAE):
    """Fill missing cells with their conditional mean given the observed ones.

    The same variational autoencoder as :class:`VAETransformer`, trained on
    rows with missing cells (each row's likelihood is that of its observed
    cells). ``transform`` fills each missing cell with its mean under
    ``p(x_missing | x_observed)``, estimated by self-normalised importance
    sampling with ``n_importance_samples`` posterior draws (Mattei and
    Frellsen 2019, MIWAE); a categorical cell gets its most probable level.
    Observed cells come back unchanged.

    Parameters
    ----------
    latent_dim : int, default=4
        Number of latent dimensions.
    likelihood : str or dict, default='auto'
        As for :class:`VAETransformer`; ``'auto'`` gives each column of a
        table a family from its dtype.
    **other parameters
        ``hidden_layer_sizes``, ``activation``, ``handle_unknown``, ``beta``,
        ``kl_warmup_epochs``, ``kl_warmup_start``, ``input_dropout``, ``init``,
        ``support_fraction``, ``support_warmup_epochs``, ``learning_rate``,
        ``batch_size``, ``max_epochs``, ``early_stopping``,
        ``validation_fraction``, ``scoring``, ``n_iter_no_change``, ``tol``,
        ``n_importance_samples``, ``device``, ``n_threads``, ``random_state``,
        ``verbose`` and ``warm_start`` mean what they mean for
        :class:`VAETransformer`, and have the same defaults.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    likelihoods_ : dict
        The family of each column.
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    sklearn.impute.IterativeImputer : Each column regressed on the others.
    sklearn.impute.KNNImputer : The mean of the nearest rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAEImputer
    >>> rng = np.random.RandomState(0)
    >>> z = rng.normal(size=(300, 1))
    >>> X = np.hstack([z, 2 * z, -z]) + 0.1 * rng.normal(size=(300, 3))
    >>> X_missing = X.copy()
    >>> X_missing[:5, 0] = np.nan
    >>> filled = VAEImputer(random_state=0).fit_transform(X_missing)
    >>> error = np.abs(filled[:5, 0] - X[:5, 0]).mean()
    >>> error_of_the_mean = np.abs(np.nanmean(X_missing[:, 0]) - X[:5, 0]).mean()
    >>> bool(error < error_of_the_mean / 2)
    True
    >>> bool((filled[5:] == X[5:]).all())
    True
    """

    def __init__(
        self,
        latent_dim=4,
        *,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        likelihood="auto",
        handle_unknown="error",
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
        scoring="elbo",
        n_iter_no_change=10,
        tol=0.05,
        n_importance_samples=50,
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
            n_importance_samples=n_importance_samples,
            device=device,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )

    def transform(self, X):
        """``X`` with each missing cell filled by its conditional mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with missing cells (NaN, ``None`` or ``pd.NA``), each with at
            least one observed cell.

        Returns
        -------
        X_filled : ndarray or DataFrame of shape (n_samples, n_features)
            The rows, missing cells filled and observed cells unchanged: a
            DataFrame with ``X``'s dtypes for a model with a family per column
            (``likelihood='auto'``, the default) fitted on a DataFrame.
        """
        check_is_fitted(self)
        means = self._map_importance_draws(X, VAE.conditional_mean)
        layout = getattr(self, "_table_layout", None)
        if layout is not None and layout.names is not None:
            filled = layout.decode(means)
            filled.index = X.index
            return X.where(X.notna(), filled)
        if layout is None:
            values = self._validate_X(X, reset=False)
        else:
            means = layout.decode(means)
            values = np.asarray(X, dtype=means.dtype)
        return np.where(_present(values), values, means)

    def get_feature_names_out(self, input_features=None):
        """The input's column names: filling cells changes no column.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; ``feature_names_in_`` when fitted on a
            DataFrame, else ``x0``, ``x1``, ...

        Returns
        -------
        feature_names_out : ndarray of str objects
            The same names.
        """
        check_is_fitted(self)
        return _check_feature_names_in(self, input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        tags.input_tags.sparse = False  # sparse input reads no missing cells
        return tags
