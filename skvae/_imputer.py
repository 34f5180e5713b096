"""``VAEImputer``: missing cells filled from the model's conditional means."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import config_context
from sklearn.base import TransformerMixin
from sklearn.impute import MissingIndicator
from sklearn.utils import _safe_indexing, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, MissingValues, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._base import BaseVAE
from ._conditions import condition_keys
from ._containers import _is_dataframe, as_polars, computed, polars_enums
from ._data import canonical_csr, row_namer
from ._families import COLUMN_FAMILIES, family_class
from ._input import _training_weights
from ._missing import (
    count_true,
    missing_cells,
    refuse_cells_beyond_float32,
    refuse_overflowed_rows,
    stored_nan,
)
from ._module import VAE
from ._placeholders import placeholders_as_nan, replace_cells
from ._table import (
    _of_sparse_columns,
    _present,
    missing_as_nan,
    refuse_non_tables,
    refuse_sparse_columns_not_of_0,
    rounded_for,
)
from ._warn import warn_user


def _polars_kept(imputer) -> bool:
    """Whether ``transform`` gives a polars ``X`` back as polars.

    With no ``set_output``, or ``set_output(transform="polars")``, whose
    adapter keeps the dtypes of a polars DataFrame (an ``Enum`` included).
    """
    return _get_output_config("transform", imputer)["dense"] in ("default", "polars")


# The dtypes a filled array keeps; others become float64.
_FLOATS = (np.float64, np.float32)


class VAEImputer(TransformerMixin, BaseVAE):
    """Fill missing cells with their conditional mean given the observed ones.

    The same variational autoencoder as :class:`VAETransformer`, trained on
    rows with missing cells (each row's likelihood is that of its observed
    cells). ``transform`` fills each missing cell with its mean under
    ``p(x_missing | x_observed)``, estimated by self-normalised importance
    sampling with ``n_importance_samples`` posterior draws (Mattei and
    Frellsen 2019, MIWAE); a categorical cell gets its most probable level,
    and a boolean cell its more probable value.
    Observed cells come back unchanged. With ``sample_posterior=True`` each
    missing cell is instead drawn from ``p(x_missing | x_observed)``: a
    completion for multiple imputation.

    Parameters
    ----------
    latent_dim : int, default=8
        Number of latent dimensions.
    beta : float or 'auto', default='auto'
        The weight of the KL term (of ``log p(z) - log q(z | x)`` in the
        importance weights). ``'auto'`` is 0.5 for a model without
        categorical columns and 1 for one with them. Below 1 the model keeps
        more of its ``latent_dim`` dimensions in use, and a column that is
        nearly a linear function of several others needs about as many
        dimensions to be filled well; on tables with categorical columns the
        full weight filled both kinds of cell better.
    likelihood : str or dict, default='auto'
        As for :class:`VAETransformer`, except that ``'auto'`` gives numeric
        columns ``'laplace'``, not ``'gaussian'``: its heavier tails keep a
        few extreme cells from pulling every filled cell of their column,
        and it fills cells better on the benchmark tables. A DataFrame's
        columns of whole numbers (integers, or floats whose observed values
        are whole, as missing cells leave integer columns) get
        ``'inflated_gaussian'``: values held by 5 % of the cells (two at
        least) are atoms, and a fill is the conditional mean over the atoms
        and the other values. Categorical and boolean columns are as for
        :class:`VAETransformer`. ``'multinomial'`` is refused: it models each
        row's total, which a missing cell leaves unknown.
    batch_size : int or 'auto', default=64
        Rows per minibatch. Tables to impute are often small: 64 gives more
        steps per epoch than :class:`VAETransformer`'s ``'auto'`` (200 to 500
        rows, or all of them when fewer), which fills cells better.
    n_importance_samples : int, default=500
        Posterior draws per row that weigh the conditional means of
        ``transform`` (and estimate ``score_samples``): ten times
        :class:`VAETransformer`'s 50, since each filled cell is an average
        over them and fewer draws leave noise in it.
    n_training_draws : int, default=20
        Posterior draws per row in each training step: the model trains on
        the importance-weighted bound with this many draws, as MIWAE does,
        which fits ``p(x)`` more tightly than the ELBO (1 draw) and fills
        cells better.
    n_learning_rate_drops : int, default=1
        As for :class:`VAETransformer` (whose default is 0): when the
        stopping rule first fires, the learning rate is divided by 5 and
        training goes on until the rule fires again, about 10 % more epochs.
        The settled weights fill cells better on the benchmark tables.
    max_epochs : int, default=400
        As for :class:`VAETransformer` (whose default is 1000): the cap the
        imputer's defaults were chosen with.
    n_iter_no_change : int or 'auto', default=10
        As for :class:`VAETransformer` (whose default is ``'auto'``, windows
        of at least 50 steps): ten epochs whatever the table's size. On the
        tables the defaults were chosen on, longer windows filled cells no
        better and took twice as long.
    sample_posterior : bool, default=False
        Fill each row's missing cells with a draw from ``p(x_missing |
        x_observed)`` instead of their mean: one of the ``n_importance_samples``
        posterior draws of ``z`` is picked by its importance weight, and the
        cells are drawn from ``p(x | z)`` there (sampling-importance-resampling,
        as in MIWAE). The draws are seeded by ``random_state``: the same
        integer gives the same completion of the same rows on every call, and
        imputers with different seeds give the several completions of multiple
        imputation, as with :class:`~sklearn.impute.IterativeImputer`. A
        row's draw also depends on the rows before it in ``X`` and on the
        batches that scikit-learn's ``working_memory`` sets, as the draws of
        a random number generator follow one another.
    keep_empty_features : bool, default=False
        What to do with a column that has no observed cell in ``fit``'s
        rows of positive weight: the
        model cannot learn it, so it is left out of the model and, by
        default, of ``transform``'s output, with a warning, as
        :class:`~sklearn.impute.SimpleImputer` does. With ``True`` it stays
        in the output, its cells filled with 0; in a DataFrame, 0 in the
        column's dtype (``False`` for booleans), and a column of text or
        categories, which has no 0, stays missing. For :meth:`partial_fit`,
        the first call decides: a column with no observed cell in the first
        chunk stays left out, and later chunks' values in it are not used
        (with a warning).
    add_indicator : bool, default=False
        Append a :class:`~sklearn.impute.MissingIndicator` of the columns
        that had missing cells in ``fit`` (in rows of positive weight), as
        :class:`~sklearn.impute.SimpleImputer`
        does: a column per such column, 1 where the cell was missing and 0
        elsewhere (as floats, in a DataFrame too). After :meth:`partial_fit`,
        the columns that had missing cells in any of its chunks.
    missing_values : int, float, str, np.nan, None or pandas.NA, default=np.nan
        The value that marks a missing cell, as for
        :class:`~sklearn.impute.SimpleImputer`: a cell that holds it is
        missing in every method, as is a cell that holds NaN, ``None`` or
        ``pd.NA`` whatever this value. Integer arrays holding it come back
        as floats; a DataFrame's integer or boolean column keeps its dtype,
        its fills rounded. A boolean cell does not hold a number (False is
        not a missing 0), and ``condition_on``'s columns, which are read and
        not imputed, are not marked. Sparse ``X`` takes no ``0``: its zeros
        are not stored. Text is refused for ``X`` of numbers alone (an
        array, sparse matrix, or DataFrame of numeric columns), which no
        cell of it can hold, as :class:`~sklearn.impute.SimpleImputer`
        refuses it.
    **other parameters
        ``hidden_layer_sizes``, ``activation``, ``categories``,
        ``handle_unknown``, ``kl_warmup_epochs``, ``kl_warmup_start``,
        ``input_dropout``, ``init``,
        ``support_fraction``, ``support_warmup_epochs``, ``learning_rate``,
        ``early_stopping``, ``validation_fraction``,
        ``scoring``, ``tol``, ``condition_on``,
        ``device``, ``n_threads``, ``random_state``, ``verbose`` and
        ``warm_start`` mean what they mean for :class:`VAETransformer`, and
        have the same defaults. ``latent_prior`` means the same, with the
        default ``'normal'``: the fills weighed under ``N(0, I)`` were the
        better ones on the benchmark tables. With
        ``handle_unknown='missing'``, a level that ``fit`` never saw is read
        as a missing cell, so the row's fills do not lean on it, but the cell
        comes back as it was: only missing values are replaced.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    likelihoods_ : dict
        The family of each column.
    indicator_ : MissingIndicator or None
        The indicator of missing cells that ``add_indicator`` appends, or
        None.
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
        latent_dim=8,
        *,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        likelihood="auto",
        categories=None,
        handle_unknown="error",
        beta="auto",
        kl_warmup_epochs=0,
        kl_warmup_start=0.0,
        input_dropout="auto",
        init="auto",
        support_fraction=1.0,
        support_warmup_epochs=10,
        learning_rate="auto",
        batch_size=64,
        max_epochs=400,
        early_stopping=False,
        validation_fraction=0.1,
        scoring="elbo",
        n_iter_no_change=10,
        tol=0.05,
        n_learning_rate_drops=1,
        n_importance_samples=500,
        n_training_draws=20,
        latent_prior="normal",
        condition_on=None,
        device="auto",
        n_threads=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        sample_posterior=False,
        keep_empty_features=False,
        add_indicator=False,
        missing_values=np.nan,
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
        self.sample_posterior = sample_posterior
        self.keep_empty_features = keep_empty_features
        self.add_indicator = add_indicator
        self.missing_values = missing_values

    _auto_numeric_family = "laplace"
    # Whole numbers pile up at a few values (amounts at 0, hours at 40): atoms
    # make the fill the conditional mean over them and the other values.
    _auto_integer_family = "inflated_gaussian"
    # A row with no observed cell is filled from the model's marginal, with
    # importance draws from the prior. In training it weighs 0.
    _reads_empty_rows = True

    _parameter_constraints = {
        **BaseVAE._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "sample_posterior": ["boolean"],
        "keep_empty_features": ["boolean"],
        "add_indicator": ["boolean"],
        "missing_values": [MissingValues()],
    }

    def _validate_training_data(self, X, sample_weight, reset: bool):
        # not in _validate_params, which skip_parameter_validation skips;
        # the families' own flag, which refuses NaN in VAETransformer's input
        likelihood = self.likelihood
        families = likelihood.values() if isinstance(likelihood, dict) else [likelihood]
        refused = [
            family
            for family in families
            if isinstance(family, str)  # other values: the layout's message
            and family in COLUMN_FAMILIES
            and not family_class(family).accepts_missing
        ]
        if refused:
            raise ValueError(
                f"VAEImputer fills missing cells, which likelihood={likelihood!r} "
                f"cannot have: {refused[0]!r} models each row's total, which a "
                "missing cell leaves unknown. Use 'poisson' for counts."
            )
        return super()._validate_training_data(X, sample_weight, reset)

    def _placeholders_as_nan(self, X):
        # an imputer pickled before missing_values existed reads NaN alone;
        # conditions are read, not imputed: a placeholder there is a value
        # (a 0 that codes a group beside readings where 0 marks a hole)
        columns = list(X.columns) if _is_dataframe(X) else None
        conditions = [  # those it names well; validation names the others
            columns.index(key) if columns is not None else key
            for key in condition_keys(self.condition_on)
            if not isinstance(key, bool | np.bool_)
            and (key in columns if columns is not None else isinstance(key, Integral))
            and (columns is not None or key >= 0)
        ]
        missing_values = (
            self._checked("missing_values")
            if hasattr(self, "missing_values")
            else np.nan
        )
        return placeholders_as_nan(X, missing_values, skip=conditions)

    def _beta(self, categorical: bool) -> float:
        if self.beta != "auto":
            return self.beta
        return 1.0 if categorical else 0.5

    def _columns_to_leave_out(self, X, sample_weight) -> list[int]:
        """The columns with no observed cell, unless every column is so.

        Cells of rows of weight 0 do not count. The columns' names (or
        positions among all of ``X``'s columns) are kept in
        ``_left_out_names``.
        """
        self._left_out_names = []
        if not (sp.issparse(X) or _is_dataframe(X)):
            X = np.asarray(X, dtype=object)
            if X.ndim != 2:
                return []  # left to validation's message
        if sample_weight is not None and X.shape[0]:  # no rows: validation's message
            weights = _training_weights(sample_weight, X)
            if not weights.all():  # a copy only where rows drop out
                X = _safe_indexing(X, np.flatnonzero(weights))
        empty = _empty_columns(X)
        if empty.size == X.shape[1]:
            empty = empty[:0]  # left to the message on rows with no observed cell
        names = (
            list(X.columns)
            if _is_dataframe(X)
            else list(self._unconditioned_positions(X.shape[1]))
        )
        self._left_out_names = [names[j] for j in empty]
        if empty.size and not self.keep_empty_features:
            warn_user(
                f"Skipping features without any observed values: "
                f"{self._left_out_names}. They are left out of transform's "
                "output; keep_empty_features=True keeps them, filled with 0.",
            )
        return empty.tolist()

    def _warn_of_values_left_out(self, X) -> None:
        """Warn that a continued fit drops the values of the columns left out.

        ``X`` (conditions taken out) continues a model built on rows that
        had no observed cell in those columns.
        """
        columns = _safe_indexing(X, self._left_out, axis=1)
        observed = np.setdiff1d(np.arange(len(self._left_out)), _empty_columns(columns))
        if observed.size:
            names = [self._left_out_names[j] for j in observed]
            warn_user(
                f"Columns {names} had no observed value when the model was "
                "built, so it leaves them out; their values here are not used. "
                "To model them, fit (or partial_fit a clone) on rows that have "
                "values in every column."
            )

    def _finish_fit(self, X, training_rows, weights, streaming):
        if not self.add_indicator:
            self.indicator_ = None
            return
        holes = _holes(X)
        earlier = getattr(self, "indicator_", None) if streaming else None
        if earlier is not None:
            # A stream's indicator covers every column missing in any of its
            # chunks: a row with those columns missing joins this chunk's holes.
            seen = np.zeros((1, holes.shape[1]))
            seen[0, earlier.features_] = np.nan
            holes = (
                sp.vstack([holes, sp.csr_matrix(seen)])
                if sp.issparse(holes)
                else np.vstack([holes, seen])
            )
        self.indicator_ = MissingIndicator(error_on_new=False).fit(holes)

    def transform(self, X):
        """``X`` with each missing cell filled by its conditional mean, or a draw.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows with missing cells (NaN, ``None`` or ``pd.NA``); a row with
            no observed cell gets the model's fill for a row about which
            nothing is known. In a sparse matrix a stored NaN is a missing
            cell and an entry that is not stored is an observed zero.

        Returns
        -------
        X_filled : ndarray, DataFrame or sparse matrix
            Of shape (n_samples, n_features_out): the rows, missing cells
            filled and observed cells unchanged. A DataFrame with ``X``'s
            dtypes (a polars one for a polars ``X``, unless ``set_output``
            asks for pandas) for a model with a family per column
            (``likelihood='auto'``, the default) fitted on a DataFrame (a
            categorical column gains the training levels it lacks, where the
            training column was categorical too, or else the levels of its
            fills, and a polars ``Enum`` likewise; a polars decimal column
            comes back ``Float64``; and a
            column with no observed cell takes the dtype of fit where its
            own is float64 or object, as pandas reads a column that is empty
            in a file, or cannot take the fills); for
            sparse ``X``, a CSR matrix (a CSR array for a sparse array) with
            the same stored entries, only the stored NaN filled; a DataFrame
            of pandas sparse columns is read as sparse ``X``, unless the model
            has a family per column. With ``add_indicator``, the indicator's
            columns follow, as numbers (0 or 1) in a DataFrame too; a
            DataFrame whose column labels are not all strings then comes back
            with the names of :meth:`get_feature_names_out` (``x0``,
            ``missingindicator_x0``), as scikit-learn's estimators take no
            labels of mixed types.
        """
        check_is_fitted(self)
        # read at the end, but checked before sample_posterior's draws take a
        # seed from a RandomState: an error leaves it where it was
        self._checked("keep_empty_features")
        enums = polars_enums(X)
        given = X = computed(X)  # a Dask or polars DataFrame as pandas, as fit reads it
        refuse_non_tables(X)
        X = self._placeholders_as_nan(X)
        if _of_sparse_columns(X) and self._table_layout is not None:
            X = X.sparse.to_dense()  # a model of a family per column reads tables
        if sp.issparse(X) or _of_sparse_columns(X):
            filled = self._fill_sparse(X)
        else:
            filled = self._fill(X, self._imputed_values(X))
            if X is not given and _is_dataframe(filled):
                filled = _in_given_dtypes(filled, given)
        if self.indicator_ is not None:
            # an array, whatever transform_output scikit-learn is set to: the
            # imputer's own output is wrapped once, at the end
            with config_context(transform_output="default"):
                holes = self.indicator_.transform(_holes(X))
            filled = self._with_indicator(filled, holes, getattr(X, "columns", None))
        if enums is not None and _is_dataframe(filled) and _polars_kept(self):
            return as_polars(filled, enums)  # a polars DataFrame back for one
        # a sparse array back for a sparse array, as scikit-learn's imputers do
        return sp.csr_array(filled) if isinstance(X, sp.sparray) else filled

    def _with_indicator(self, filled, indicator, labels=None):
        """``filled`` followed by the indicator's columns, in ``filled``'s kind.

        In a DataFrame the indicator's columns are float64, as in an array:
        columns of booleans beside numbers would make the frame's array one
        of objects. They are named ``missingindicator_<label>`` after the
        ``labels`` of the given frame's columns, which ``filled`` keeps. Where
        those are not all strings (``pd.DataFrame(array)``'s 0, 1, ...), every
        column takes its name from ``get_feature_names_out`` (``x0``,
        ``missingindicator_x0``) instead: scikit-learn's estimators refuse a
        frame whose labels mix strings with other types.
        """
        if sp.issparse(filled):
            return sp.hstack([filled, indicator], format=filled.format)
        if not _is_dataframe(filled):  # floats beside objects too, not booleans
            floats = filled.dtype if filled.dtype.kind == "f" else np.float64
            return np.hstack([filled, indicator.astype(floats)])
        import pandas as pd

        if labels is None or not all(isinstance(label, str) for label in labels):
            names = self.get_feature_names_out()
            filled = filled.set_axis(names[: filled.shape[1]], axis=1)
            names = names[filled.shape[1] :]
        else:
            names = self.indicator_.get_feature_names_out(np.asarray(labels, object))
        indicator = pd.DataFrame(
            indicator.astype(np.float64), columns=names, index=filled.index
        )
        return pd.concat([filled, indicator], axis=1)

    def _imputed_values(self, X) -> np.ndarray:
        """Each modelled cell's conditional mean, or with ``sample_posterior`` a draw.

        Only the rows with a missing cell are decoded, as in the sparse path,
        which then draws the same values; the cells of complete rows, which
        the fill does not read, are 0.
        """
        validated = self._validated_in_domain(X)
        # missing cells, and levels read as missing (which the fill keeps)
        unknown = np.isnan(self._modelled(validated))
        holed = np.flatnonzero(unknown.any(axis=1))
        values = np.zeros(unknown.shape)
        if not len(holed):
            return values
        with self._imputing(validated=True) as impute:
            values[holed] = impute(validated[holed])
        # NaN only where the network overflowed; the sparse path checks the
        # rows it decodes
        if np.isnan(values).any():
            missing = _missing_mask(X)[:, self._modelled_positions()]
            _refuse_unfilled(values, missing, np.arange(len(values)), row_namer(X))
            # the rest are observed cells' values, which the fill does not
            # use, but which a column's dtype may not hold
            values = np.where(np.isnan(values), 0.0, values)
        return values

    @contextmanager
    def _imputing(self, validated: bool = False):
        """A function of rows giving :meth:`_imputed_values`, for one ``transform``.

        With ``sample_posterior`` its draws come from one seeded stream for
        every call within the block, so the blocks of rows of one
        ``transform`` each draw afresh. ``validated``: the rows are as
        ``_validate_X`` returns them, in the domain.
        """
        if not self._checked("sample_posterior"):
            yield lambda X: self._map_importance_draws(
                X, VAE.conditional_mean, validated=validated
            )
            return
        n_draws, latent_dim = self._n_importance_draws(), self.module_.latent_dim
        with self._drawn_seed() as seed:
            generator = torch.Generator(self.device_).manual_seed(seed)

            def draw(x):
                shape = (n_draws, len(x), latent_dim)
                noise = torch.randn(shape, generator=generator, device=x.device)
                return self.module_.conditional_sample(x, noise, generator)

            mapped = self._map_validated_rows if validated else self._map_rows
            with self._likelihood_draws_seeded(seed):
                yield lambda X: mapped(X, draw, n_draws)

    def _fill(self, X, values: np.ndarray):
        """``X`` with its missing cells taken from ``values``, in ``X``'s kind.

        ``values`` holds the modelled columns; a conditional model's
        conditions are observed in every row.
        """
        rows = self._with_left_out_columns(self._as_table(values))
        if self._conditions is not None:
            conditions = self._conditions.table_of(X)
            rows = self._conditions.assemble(rows, conditions, len(values))
        if _is_dataframe(rows) and _is_dataframe(X):
            rows.index = X.index
            # by position: labels other than fit's (integers, where fit had
            # names) only make validation warn
            rows.columns = X.columns
            for name in X.columns[self._left_out_positions()]:
                rows[name] = _empty_fill(X[name])
            X, rows = _in_common_dtypes(X, rows)
            filled = replace_cells(X, X.isna(), rows)
        else:  # an array back for an array, as scikit-learn's imputers do
            rows = _as_array(rows) if _is_dataframe(rows) else rows
            X = missing_as_nan(X)  # None and pd.NA in rows given as lists
            # float32 stays float32, as in scikit-learn's imputers
            if self._table_layout is None and self._conditions is None:
                observed = check_array(X, dtype=_FLOATS, ensure_all_finite="allow-nan")
            else:
                observed = np.asarray(X)
                if observed.dtype.kind != "f":
                    # pd.NA of a nullable column read whole, and NaN beside
                    # whole-number fills, which an integer dtype cannot hold
                    observed = missing_as_nan(observed.astype(object))
                    whole = rows.dtype.kind in "biu"
                    observed = observed.astype(np.float64 if whole else rows.dtype)
            fills = rows.astype(observed.dtype, copy=False)
            filled = np.where(_present(observed), observed, fills)
        return self._without_empty_columns(filled)

    def _fill_sparse(self, X):
        """Sparse ``X`` with each stored NaN filled, as a CSR matrix.

        Only the rows with a missing cell are decoded, a block of rows within
        ``working_memory`` at a time; the entries that are not stored stay
        zeros and are not stored.
        """
        row_name = row_namer(X)  # a DataFrame of sparse columns has an index
        refuse_sparse_columns_not_of_0(X)
        given = X
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse="csr",
            dtype=_FLOATS,
            ensure_all_finite=False,
        )
        # before row numbers are those of a block; X has every column, those
        # left out of the model too
        labels = self._input_column_labels()
        names = range(X.shape[1]) if labels is None else labels
        refuse_cells_beyond_float32(X, names, row_name)
        filled = canonical_csr(X).copy()
        holes, rows = stored_nan(filled)
        # a column left out of the model is filled with 0 undecoded, so that
        # rows decode as their dense twins do: those with a modelled hole
        left_out = np.isin(filled.indices[holes], self._left_out)
        filled.data[holes[left_out]] = 0.0
        holes, rows = holes[~left_out], rows[~left_out]
        rows_with_holes, rank = np.unique(rows, return_inverse=True)
        if not len(rows_with_holes):
            return self._without_empty_columns(filled)
        # the modelled columns, validated once against the fitted ones (a
        # block of rows has no column names) and, as the dense path's, in the
        # domain in every row
        modelled = canonical_csr(self._validated_in_domain(given))
        block = get_chunk_n_rows(8 * X.shape[1], max_n_rows=len(rows_with_holes))
        with self._imputing(validated=True) as impute:
            for chunk in gen_batches(len(rows_with_holes), max(block, 1)):
                rows = filled[rows_with_holes[chunk]]
                values = self._with_left_out_columns(
                    impute(modelled[rows_with_holes[chunk]])
                )
                if np.isnan(values).any():
                    missing = missing_cells(rows).toarray()
                    _refuse_unfilled(values, missing, rows_with_holes[chunk], row_name)
                # the chunk's holes are a run of ``holes``: their ranks are sorted
                first, stop = np.searchsorted(rank, [chunk.start, chunk.stop])
                in_chunk = holes[first:stop]
                position = rank[first:stop] - chunk.start
                filled.data[in_chunk] = values[position, filled.indices[in_chunk]]
        return self._without_empty_columns(filled)

    def _with_left_out_columns(self, rows):
        """Decoded rows with the columns left out of the model put back, as 0."""
        if not self._left_out:
            return rows
        if not _is_dataframe(rows):
            n_columns = rows.shape[1] + len(self._left_out)
            full = np.zeros((rows.shape[0], n_columns), rows.dtype)
            full[:, np.setdiff1d(np.arange(n_columns), self._left_out)] = rows
            return full
        rows = rows.copy()
        # in increasing order of position: each lands in its place
        for j, name in zip(self._left_out, self._left_out_names, strict=True):
            rows.insert(j, name, 0.0)
        return rows

    def _without_empty_columns(self, filled):
        """``filled`` without the empty columns, unless ``keep_empty_features``."""
        if self._checked("keep_empty_features") or not self._left_out:
            return filled
        empty = self._left_out_positions()
        if _is_dataframe(filled):
            return filled.drop(columns=filled.columns[empty])
        if sp.issparse(filled):
            kept = np.setdiff1d(np.arange(filled.shape[1]), empty)
            return filled[:, kept]
        return np.delete(filled, empty, axis=1)

    def get_feature_names_out(self, input_features=None):
        """The input's column names, then those of the indicator's columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; ``feature_names_in_`` when fitted on a
            DataFrame, else ``x0``, ``x1``, ...

        Returns
        -------
        feature_names_out : ndarray of str objects
            The input's names (filling cells changes no column), followed with
            ``add_indicator`` by ``missingindicator_<name>`` for each column
            the indicator reports.
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        filled_names = self._without_empty_columns(names[None])[0]
        if self.indicator_ is None:
            return filled_names
        return np.concatenate(
            [filled_names, self.indicator_.get_feature_names_out(names)]
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        tags.input_tags.sparse = True
        return tags


def _as_array(fills):
    """A frame of the model's fills as one array, nullable numbers as numbers.

    pandas before 2.2 gives the cells of nullable numeric columns (``Int64``)
    as objects even where none is missing; the fills have no missing cell.
    """
    import pandas as pd

    array = fills.to_numpy()
    dtypes = fills.dtypes
    if array.dtype == object and all(map(pd.api.types.is_numeric_dtype, dtypes)):
        # the common dtype of the columns' NumPy dtypes, as pandas 2.2 gives
        array = array.astype(
            np.result_type(*(getattr(d, "numpy_dtype", d) for d in dtypes))
        )
    return array


def _empty_fill(column):
    """An empty column as ``keep_empty_features`` fills it, in its own dtype.

    0 (``False``) where the dtype holds numbers; a column of text or categories
    has no 0, and stays missing.
    """
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column.dtype):
        return pd.Series(0, index=column.index).astype(column.dtype)
    return column


def _in_given_dtypes(filled, given):
    """``filled`` with the NumPy integer and boolean dtypes of ``given`` back.

    A placeholder made such a column of ``given`` its nullable twin
    (``Int64``) to hold the missing cells; once they are filled, it takes its
    own dtype again.
    """
    restored = {
        name: dtype
        for name, dtype in given.dtypes.items()
        if isinstance(dtype, np.dtype)
        and dtype.kind in "biu"
        and name in filled.columns
        and filled[name].dtype != dtype
        and filled[name].notna().all()
    }
    return filled.astype(restored) if given.columns.is_unique else filled


def _in_common_dtypes(X, rows):
    """``X`` and its fills ``rows`` with each column in ``X``'s dtype.

    The fills come in the training table's dtypes, which ``X``'s may differ
    from (``Int64`` for ``int64``, categories built apart): integer fills are
    rounded for an integer column, and a categorical column of ``X`` gains the
    training levels it lacks (those of its fills, where the training column
    held text rather than categories). A column of ``X`` with nothing observed
    takes the fills' dtype where its own says nothing of what it holds
    (float64 or object, as pandas reads a column that is empty in a file) or
    cannot take the fills.
    """
    import pandas as pd

    X = X.copy()  # X's categories may grow; ``rows`` is the caller's own
    for name in X.columns:
        dtype, fills = X[name].dtype, rows[name]
        if fills.dtype == dtype:
            continue
        empty = bool(X[name].isna().all())  # then every cell is a fill
        if empty and dtype in (np.float64, object):
            X[name] = rows[name].set_axis(X.index)
            continue
        if isinstance(dtype, pd.CategoricalDtype):
            # every training level, not only the fills', so that batches
            # come back with the same categories
            levels = (
                fills.cat.categories
                if isinstance(fills.dtype, pd.CategoricalDtype)
                else fills.dropna().unique()
            )
            lacking = [level for level in levels if level not in dtype.categories]
            X[name] = X[name].cat.add_categories(lacking)
            dtype = X[name].dtype
        elif pd.api.types.is_integer_dtype(dtype) and not (
            pd.api.types.is_integer_dtype(fills.dtype)
            or pd.api.types.is_bool_dtype(fills.dtype)
        ):
            fills = rounded_for(dtype, pd.to_numeric(fills))
        try:
            rows[name] = fills.astype(dtype)
        except (TypeError, ValueError):
            if empty:
                X[name] = rows[name].set_axis(X.index)
                continue
            raise ValueError(
                f"Column {name!r} of X has dtype {X[name].dtype}, which its fills "
                f"(dtype {fills.dtype}, as in fit) cannot take."
            ) from None
    return X, rows


def _empty_columns(X) -> np.ndarray:
    """Positions of the columns with no observed cell in a 2-D array, frame or CSR."""
    if sp.issparse(X):
        return np.flatnonzero(count_true(missing_cells(X), axis=0) == X.shape[0])
    return np.flatnonzero(_missing_mask(X).all(axis=0))


def _holes(X):
    """``X``'s missing cells as NaN and its other cells as 0.

    What the missing indicator reads: it takes NaN for missing, where ``X``
    may also hold ``None`` or ``pd.NA``. A sparse matrix is read as it is:
    its stored NaN are the missing cells.
    """
    if sp.issparse(X):
        return X
    if _of_sparse_columns(X):
        refuse_sparse_columns_not_of_0(X)
        return X.sparse.to_coo().tocsr()
    return np.where(_missing_mask(X), np.nan, 0.0)


def _missing_mask(X) -> np.ndarray:
    """Which cells of dense ``X`` are missing: NaN, ``None`` or ``pd.NA``."""
    return ~_present(np.asarray(X, dtype=object))


def _refuse_unfilled(
    values: np.ndarray,
    missing: np.ndarray,
    row_numbers: np.ndarray,
    row_name: Callable[[int], str] = str,
) -> None:
    """Raise a ``ValueError`` naming the first row whose fill for a missing cell is NaN.

    ``missing`` marks the cells of ``values`` to fill; ``row_numbers`` are
    the rows' numbers in ``X``, which ``row_name`` names. See
    :func:`refuse_overflowed_rows`.
    """
    refuse_overflowed_rows(
        (np.isnan(values) & missing).any(axis=1),
        row_numbers,
        "its missing cells cannot be filled",
        row_name,
    )
