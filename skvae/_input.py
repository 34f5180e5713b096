"""How the estimators read ``X``: validation and the columns' bookkeeping.

Every entry point validates its rows in one call, ``_validate_X``, which
learns in ``fit`` what later calls check against: the table's layout (each
column's family and levels), a conditional model's conditions, the columns
left out of the model, and the names and positions of the modelled columns
that messages and ``likelihoods_`` use. Training rows take more checks
(``_validate_training_data``): weights, rows with nothing observed, and each
family's domain.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    _num_samples,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._columns import _column_ranges
from ._conditions import Conditions, condition_keys
from ._containers import _is_dataframe, computed
from ._data import canonical_csr, relative_to_their_mean, row_namer
from ._families import family_class
from ._inflated import InflatedFamily
from ._likelihoods import RealValued, check_block
from ._missing import (
    check_missing_cells,
    columns_finer_than_float32,
    refuse_cells_beyond_float32,
    refuse_empty_columns,
    refuse_values_far_from_their_mean,
    rows_with_nothing_observed,
)
from ._module import VAE
from ._table import (
    TableLayout,
    _of_sparse_columns,
    _shown,
    beyond_float64,
    first_non_number,
    holds_numbers,
    kept_by_a_continued_fit,
    missing_as_nan,
    refuse_cells_of_other_types,
    refuse_non_tables,
    refuse_sparse_columns_not_of_0,
    refuse_time_columns,
    split_categories,
    uses_layout,
    with_declared_columns,
)
from ._warn import warn_user

# A continued fit warns of rows this many of the first rows' standard
# deviations from their mean in some column.
FAR_FROM_THE_FIRST_ROWS = 1e3


def _refuse_text_columns(X, likelihood: str | dict, fitted: bool = False) -> None:
    """Raise a ``ValueError`` naming the first column of text under one family.

    A DataFrame's column by name and dtype; a column of an array (or list of
    rows) of text or objects by position and its first value that is no
    number. ``fitted``: the model read the column as numbers in fit, which the
    message says instead of advising another family.
    """
    if sp.issparse(X):
        return
    frame = _is_dataframe(X)
    if not frame:
        X = np.asarray(X, dtype=object if isinstance(X, list | tuple) else None)
        if X.ndim != 2 or X.dtype.kind not in "OUS":
            return  # numbers, or a shape that validation names
    names = X.columns if frame else range(X.shape[1])
    for j, name in enumerate(names):
        column = X.iloc[:, j] if frame else X[:, j]
        if frame and column.dtype.kind in "biuf":
            continue
        try:  # numbers held as objects or categories convert, as check_array does
            np.asarray(column, dtype=np.float64)
        except OverflowError:  # a Python integer such as 10**400
            raise beyond_float64(name) from None
        except (TypeError, ValueError):
            refuse_cells_of_other_types(np.asarray(column, dtype=object), name)
            wrong = first_non_number(np.asarray(column, dtype=object))
            if frame and not fitted or wrong is None:
                held = f"has dtype {column.dtype}"
            else:  # a stray value in a column of numbers is named by its row
                row = f" in row {row_namer(X)(wrong[0])}" if fitted else ""
                held = f"holds {_shown(wrong[1])}{row}"
            if fitted:
                raise ValueError(
                    f"Column {name!r} of X {held}, which is not a number: the "
                    "model reads this column as numbers, as it did in fit."
                ) from None
            raise ValueError(
                f"Column {name!r} of X {held}, which "
                f"likelihood={likelihood!r} cannot model. Use likelihood='auto', "
                f"which models such columns as categorical, or name a family for "
                f"it: likelihood={{{name!r}: 'categorical'}}."
            ) from None


def _training_weights(sample_weight, X) -> np.ndarray:
    """``sample_weight`` checked for training on ``X``: non-negative, not all 0.

    Divided by their mean (only their ratios count), so that no sum of them
    overflows, however large they are.
    """
    weights = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if weights.size and not weights.any():  # older scikit-learn lets it through
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return relative_to_their_mean(weights)


class InputMixin:
    """Validation of ``X`` and the bookkeeping of its columns, for ``BaseVAE``.

    A mixin of ``BaseVAE`` only: it reads the estimator's parameters
    (``likelihood``, ``categories``, ``condition_on``, ``handle_unknown``) and
    what ``fit`` sets, and writes ``_frame_labels``, ``_conditions``,
    ``_left_out``, ``_table_layout`` and ``likelihoods_``.
    """

    _auto_numeric_family = "gaussian"
    """The family ``likelihood='auto'`` gives numeric columns."""
    _auto_integer_family: str | None = None
    """The family ``likelihood='auto'`` gives a DataFrame's columns of whole
    numbers; None: ``_auto_numeric_family``."""
    _reads_empty_rows = False
    """Whether a model takes rows with no observed cell (the imputer fills
    them, and leaves them out of training, as rows of weight 0)."""

    # The estimator's parameters and fitted attributes that reading X uses.
    likelihood: str | dict
    categories: dict | None
    condition_on: str | int | list | tuple | None
    n_features_in_: int
    likelihoods_: dict
    module_: VAE
    _conditions: Conditions | None
    _left_out: list[int]
    _table_layout: TableLayout | None
    _checked: Callable

    def _placeholders_as_nan(self, X):
        """``X`` with the cells that a placeholder marks missing as NaN.

        NaN, ``None`` and ``pd.NA`` are missing anyway; here no other value
        is (the imputer's ``missing_values`` names one).
        """
        return X

    def _validate_training_data(self, X, sample_weight, reset: bool):
        """``X`` and ``sample_weight`` checked for training, ``X`` in its domain."""
        row_name = row_namer(X)  # X as _fit passes it: computed
        X = self._validate_X(X, reset=reset, training=True, sample_weight=sample_weight)
        if sp.issparse(X):
            # duplicate entries summed, as the dense matrix holds them: the
            # families' statistics read stored values one by one
            X = canonical_csr(X)
        sample_weight = _training_weights(sample_weight, X)
        modelled = self._modelled(X)
        names = self._column_names(modelled.shape[1])
        # A row with nothing observed has nothing to learn from. Refused, unless
        # its weight is 0 or the model fills such rows (then it weighs 0, also
        # under assume_finite: that is the model, not a check).
        empty = rows_with_nothing_observed(modelled)
        if empty.size and self._reads_empty_rows:
            sample_weight = sample_weight.copy()
            sample_weight[empty] = 0.0
        missing = self._what_reads_as_missing(reset)
        conditional = self.condition_on is not None
        weighing = empty[sample_weight[empty] > 0]
        if len(weighing) == np.count_nonzero(sample_weight):
            # every row that weighs holds nothing (or weighs 0 as the model
            # fills it): dropping them would leave no row to train on
            check_missing_cells(
                modelled,
                empty,
                remedy="X needs a row of positive weight with an observed cell",
                missing=missing,
                conditional=conditional,
                row_name=row_name,
            )
        elif not get_config()["assume_finite"]:
            check_missing_cells(
                modelled,
                weighing,
                remedy="Drop them, or give them sample_weight 0",
                missing=missing,
                conditional=conditional,
                row_name=row_name,
            )
        if reset or not hasattr(self, "module_"):
            blurred = None
            for family, columns in self._families(modelled.shape[1]):
                block = modelled if len(columns) == len(names) else modelled[:, columns]
                block_names = [names[j] for j in columns]
                check_block(family_class(family), family, block, block_names, row_name)
                real = issubclass(family_class(family), RealValued | InflatedFamily)
                if real:
                    refuse_values_far_from_their_mean(block, block_names, sample_weight)
                if real and blurred is None and block.dtype == np.float64:
                    # float32 rows hold no more than the network sees
                    blurred = columns_finer_than_float32(
                        block, block_names, sample_weight
                    )
            if blurred is not None:
                warn_user(blurred)
            refuse_empty_columns(modelled, names, sample_weight)
        else:
            self.module_.likelihood.check_domain(modelled, names, row_name)
        return X, sample_weight

    def _input_column_labels(self) -> np.ndarray | None:
        """The labels of the columns of the DataFrame fitted on, or None.

        ``feature_names_in_`` where scikit-learn sets it (every label a
        string); otherwise the labels themselves (integers, say), so that
        messages and ``likelihoods_`` name columns as ``likelihood`` and
        ``condition_on`` do.
        """
        names = getattr(self, "feature_names_in_", None)
        return names if names is not None else getattr(self, "_frame_labels", None)

    def _check_frame_labels(self, X) -> None:
        """Refuse a DataFrame whose labels differ from fit's, where names cannot.

        scikit-learn checks string column names; labels of other types
        (integers, such as item ids) it lets through, and columns reordered
        would be read silently as the wrong ones.
        """
        labels = getattr(self, "_frame_labels", None)
        if (
            labels is None
            or not _is_dataframe(X)
            or hasattr(self, "feature_names_in_")
            or X.shape[1] != len(labels)
        ):
            return  # names, arrays and widths get scikit-learn's checks
        given = X.columns.to_numpy(dtype=object)
        differ = np.flatnonzero(given != labels)
        if differ.size:
            j = differ[0]
            raise ValueError(
                f"X's column {j} is labelled {_shown(given[j])}, but was "
                f"{_shown(labels[j])} in fit: the columns should be those of "
                "fit, in the same order."
            )

    def _column_names(self, n_columns: int):
        """The names of the ``n_columns`` modelled columns: names or indices.

        A conditional model's conditions are left out; the others keep their
        names, or their positions among all of ``X``'s columns.
        """
        names = self._input_column_labels()
        conditions = getattr(self, "_conditions", None)
        left_out = getattr(self, "_left_out", [])
        if conditions is None and not left_out:
            return list(names) if names is not None else list(range(n_columns))
        modelled = self._modelled_positions()
        return modelled if names is None else list(names[modelled])

    def _modelled_positions(self, n_unconditioned: int | None = None) -> list[int]:
        """Positions among all of ``X``'s columns of the modelled ones.

        Neither conditions nor left out; ``n_unconditioned`` is as for
        ``_unconditioned_positions``.
        """
        left_out = getattr(self, "_left_out", [])
        unconditioned = self._unconditioned_positions(n_unconditioned)
        return [j for i, j in enumerate(unconditioned) if i not in left_out]

    def _unconditioned_positions(self, n_columns: int | None = None) -> Sequence[int]:
        """Positions among all of ``X``'s columns of those not conditions.

        ``n_columns``, the number of such columns, stands in for
        ``n_features_in_`` while a fit has yet to set it.
        """
        conditions = getattr(self, "_conditions", None)
        if conditions is None:
            return range(self.n_features_in_ if n_columns is None else n_columns)
        return conditions.modelled_positions(self.n_features_in_)

    def _left_out_positions(self) -> list[int]:
        """Positions among all of ``X``'s columns of those left out of the model."""
        unconditioned = self._unconditioned_positions()
        return [unconditioned[j] for j in self._left_out]

    def _refuse_inf_in_left_out_columns(
        self, X, row_name: Callable[[int], str] = str
    ) -> None:
        """Name an ``inf`` in a column left out of the model, as in the others.

        ``X`` has the conditions taken out. A left-out column is not read, but
        is given back as it came, so it takes the scan every column takes; a
        column of text is given back without one.
        """
        names = self._input_column_labels()
        for j, position in zip(self._left_out, self._left_out_positions(), strict=True):
            try:
                column = np.asarray(_safe_indexing(X, [j], axis=1), dtype=np.float64)
            except (TypeError, ValueError):
                continue
            name = position if names is None else names[position]
            refuse_cells_beyond_float32(column, [name], row_name)

    def _columns_to_leave_out(self, X, sample_weight) -> list[int]:
        """Positions of the columns of ``X`` (conditions taken out) not to model.

        ``sample_weight`` as given to ``fit``: rows of weight 0 do not count.

        Learned once, in ``fit``; every later ``X`` is read without them.
        None here; :class:`VAEImputer` leaves out columns with no observed
        cell.
        """
        return []

    def _what_reads_as_missing(self, reset: bool) -> str:
        """What makes a cell missing, for messages: NaN, and maybe unseen levels."""
        layout = getattr(self, "_table_layout", None)
        if reset or layout is None or self._checked("handle_unknown") != "missing":
            return "NaN"
        return "NaN, or levels unseen in fit, read as missing by handle_unknown"

    def _warn_of_values_far_from_the_first_rows(self, X) -> None:
        """Warn of a numeric column far outside the spread it is standardised by.

        That spread is the one of the rows that first fitted the model. A
        stream's first chunk, or a warm start's first fit, in which a column
        barely varies would make the standardised values of later rows
        enormous, and training on them diverge.
        """
        for names, values, shift, scale in self._standardised_columns(X):
            low, high = _column_ranges(values)
            far = np.fmax(np.abs(low - shift), np.abs(high - shift)) / scale
            if np.nanmax(far, initial=0.0) > FAR_FROM_THE_FIRST_ROWS:
                j = int(np.nanargmax(far))
                warn_user(
                    f"Column {names[j]!r} of X holds values {far[j]:.3g} times "
                    "the spread it is standardised by from the mean of the rows "
                    "that first fitted the model (their standard deviation, or "
                    "1 where they held one value): training on them may "
                    "diverge. Fit anew on representative rows (for partial_fit, "
                    "a first chunk that spans the stream)."
                )
                return

    def _standardised_columns(self, X):
        """Each block of numeric columns the model standardises.

        Yields the columns' names, their values in ``X`` (an inflated
        column's atoms left out, as from its spread), and the shift and
        scale they are standardised by: the modelled columns' families, then
        the numeric conditions, which validated rows hold standardised
        already (shift 0, scale 1).
        """
        modelled = self._modelled(X)
        names = self._column_names(modelled.shape[1])
        likelihood = self.module_.likelihood
        for columns, family in zip(
            likelihood.columns, likelihood.families, strict=True
        ):
            real = family.value if isinstance(family, InflatedFamily) else family
            if not isinstance(real, RealValued):
                continue
            values = modelled[:, columns]
            if isinstance(family, InflatedFamily):
                values = np.array(values, dtype=np.float64)
                for k, atoms in enumerate(family.atoms):
                    values[np.isin(values[:, k], atoms), k] = np.nan
            shift, scale = (
                t.cpu().double().numpy() for t in real.input_standardisation()
            )
            yield [names[j] for j in columns], values, shift, scale
        if self._conditions is not None:
            encoded = X[:, modelled.shape[1] :]
            yield from self._conditions.standardised(encoded)

    def _warn_of_values_left_out(self, X) -> None:
        """Warn if a fit that continues the model gives values to left-out columns."""

    def _families(self, n_columns: int) -> list[tuple[str, list[int]]]:
        """Each family of the model and the columns it models."""
        layout = getattr(self, "_table_layout", None)
        if layout is None:
            return [(self._single_family(), list(range(n_columns)))]
        return layout.blocks()

    def _validate_X(self, X, reset: bool, training: bool = False, sample_weight=None):
        """Validate ``X`` with scikit-learn's helpers, categorical columns coded.

        With ``reset``, first learn the table's layout (each column's family and
        levels) if ``likelihood`` chooses families per column, and the
        conditions' encoding (weighed by ``sample_weight``, as given to
        ``fit``) if ``condition_on`` names any. A conditional model's rows come
        back as the modelled columns followed by the encoded conditions, as the
        network reads them. Rows with no observed cell are refused unless the
        model reads them, or for ``training``, whose check
        ``_validate_training_data`` makes knowing the rows' weights.
        """
        X = computed(X)
        refuse_non_tables(X)
        row_name = row_namer(X)
        X = self._placeholders_as_nan(X)
        refuse_time_columns(X)
        X = missing_as_nan(X)
        if reset:
            self._frame_labels = (
                X.columns.to_numpy(dtype=object) if _is_dataframe(X) else None
            )
            self._conditions = (
                None
                if self.condition_on is None
                else Conditions.from_data(
                    X,
                    self.condition_on,
                    _training_weights(sample_weight, X),
                    skip_empty_rows=training and self._reads_empty_rows,
                    categories=self._condition_categories(),
                )
            )
        else:
            self._check_frame_labels(X)
        conditions = getattr(self, "_conditions", None)
        if conditions is not None:
            # The names and number of all of X's columns, conditions included.
            validate_data(self, X, skip_check_array=True, reset=reset)
            X, encoded = conditions.split(X)
        if reset:
            self._left_out = self._columns_to_leave_out(X, sample_weight)
        left_out = getattr(self, "_left_out", [])
        all_columns_checked = conditions is None and not left_out
        if left_out:
            if conditions is None:
                validate_data(self, X, skip_check_array=True, reset=reset)
            if not hasattr(X, "shape"):  # a list of rows, each cell as it is
                X = np.asarray(X, dtype=object)
            self._refuse_inf_in_left_out_columns(X, row_name)
            if training and not reset:
                self._warn_of_values_left_out(X)
            X = _safe_indexing(X, np.setdiff1d(np.arange(X.shape[1]), left_out), axis=1)
        if reset:
            self._table_layout = self._learn_layout(X, sample_weight)
        layout = getattr(self, "_table_layout", None)
        if training and not reset:
            self._refuse_other_categories(layout)
        if layout is not None:
            if not reset and all_columns_checked:
                # scikit-learn's messages for columns renamed, reordered, or
                # of another number, before the layout reads them by position
                _check_feature_names(self, X, reset=False)
                _check_n_features(self, X, reset=False)
            if training and not reset:
                layout = self._layout_restated(layout, X, sample_weight)
                self._table_layout = layout
            if _of_sparse_columns(X) and not layout.reads_sparse():
                X = X.sparse.to_dense()  # levels and atoms are read from dense columns
            unknown_as_missing = self._checked("handle_unknown") == "missing"
            X = layout.encode(X, unknown_as_missing=unknown_as_missing)
        else:
            _refuse_text_columns(X, self.likelihood, fitted=not reset)
        refuse_sparse_columns_not_of_0(X)
        checks = {
            "accept_sparse": ("csr", "csc"),
            "dtype": (np.float64, np.float32),
            # refuse_cells_beyond_float32 names the column and row of an inf
            "ensure_all_finite": False,
        }
        # a table's columns were checked above, before the layout encoded them
        if all_columns_checked and (reset or layout is None):
            X = validate_data(self, X, reset=reset, **checks)
        else:
            X = check_array(X, input_name="X", estimator=self, **checks)
        names = self._column_names(X.shape[1])
        refuse_cells_beyond_float32(X, names, row_name)
        if not training and not self._reads_empty_rows:
            # training's check weighs the rows first
            check_missing_cells(
                X,
                missing=self._what_reads_as_missing(reset),
                conditional=self.condition_on is not None,
                row_name=row_name,
            )
        if reset:
            self.likelihoods_ = (
                dict.fromkeys(names, self._single_family())
                if layout is None
                else dict(zip(names, layout.column_families().values(), strict=True))
            )
        if conditions is None:
            return X
        return np.hstack([X, encoded.astype(X.dtype)])

    def _learn_layout(
        self, X, sample_weight, values_checked: bool = True
    ) -> TableLayout | None:
        """Each column's family and levels, or None where one family models all.

        ``likelihood='auto'`` on an array of numbers (or a list of rows of
        numbers) or a sparse matrix is the numeric family for every column,
        without a layout: exactly the model that names the family. A DataFrame
        keeps its layout, which gives DataFrames with its dtypes back. Levels
        come from every row; the numeric columns' ranges, and whether they hold
        whole numbers, from the rows of positive weight, the rows trained on.
        """
        categories = self._modelled_categories()
        if not uses_layout(self.likelihood) or (
            self.likelihood == "auto" and holds_numbers(X) and not categories
        ):
            # with_declared_columns names a family for all that has no levels
            with_declared_columns(self.likelihood, categories)
            return None
        likelihood = self.likelihood
        if isinstance(likelihood, Mapping):
            named = condition_keys(self.condition_on)
            conditions = [key for key in likelihood if key in named]
            if conditions:
                raise ValueError(
                    f"likelihood names column {conditions[0]!r}, which condition_on "
                    "makes a condition: conditions are read, not modelled, and "
                    "take no family."
                )
            # a column left out of the model (nothing observed) needs no family
            left_out = getattr(self, "_left_out_names", [])
            likelihood = {k: v for k, v in likelihood.items() if k not in left_out}
        if _num_samples(X) == 0:  # as check_array says it, before the weights are read
            raise ValueError(
                f"Found array with 0 sample(s) (shape={np.shape(X)}) while a "
                f"minimum of 1 is required by {type(self).__name__}."
            )
        n_unconditioned = X.shape[1] + len(getattr(self, "_left_out", []))
        return TableLayout.from_data(
            X,
            likelihood,
            self._auto_numeric_family,
            self._auto_integer_family,
            positions=self._modelled_positions(n_unconditioned),
            trained=_training_weights(sample_weight, X) > 0,
            categories=categories,
            values_checked=values_checked,
        )

    def _condition_categories(self) -> dict:
        """The entries of ``categories`` for the conditions of ``condition_on``."""
        conditions, _ = split_categories(
            self.categories, condition_keys(self.condition_on)
        )
        return conditions

    def _modelled_categories(self) -> dict:
        """The entries of ``categories`` for modelled columns (not conditions).

        Those of columns left out of the model (nothing observed) are dropped,
        as ``likelihood``'s are.
        """
        _, modelled = split_categories(
            self.categories, condition_keys(self.condition_on)
        )
        left_out = getattr(self, "_left_out_names", [])
        return {k: v for k, v in modelled.items() if k not in left_out}

    def _refuse_other_categories(self, layout: TableLayout | None) -> None:
        """Refuse ``categories`` that a continued fit of ``layout`` cannot keep."""
        conditions = getattr(self, "_conditions", None)
        if conditions is not None:
            conditions.refuse_other_categories(self._condition_categories())
        categories = self._modelled_categories()
        if layout is not None:
            layout.refuse_other_categories(categories)
        elif categories:
            family = next(iter(self.likelihoods_.values()))
            raise ValueError(
                f"The fitted network models every column as {family!r}, but "
                f"categories gives column {next(iter(categories))!r} levels: "
                + kept_by_a_continued_fit("each column's family")
            )

    def _layout_restated(self, layout: TableLayout, X, sample_weight) -> TableLayout:
        """The fitted layout, restated under ``likelihood`` if that changed.

        A continued fit may pass another ``likelihood`` that gives every
        column the family it has (the dict of ``likelihoods_``, say): the
        network is then the same, and the layout records the new parameter.
        A column given another family is named in a ``ValueError``. ``X``
        holds the chunk's modelled columns.
        """
        if layout.likelihood == self.likelihood:
            return layout
        # the families alone: the chunk's levels are read as encode reads them
        restated = self._learn_layout(X, sample_weight, values_checked=False)
        if restated is None:  # one family for every column: no longer a table
            return layout  # _continued_module names the change
        for j, (fitted, wanted) in enumerate(
            zip(layout.families, restated.families, strict=True)
        ):
            if fitted != wanted:
                raise ValueError(
                    f"The fitted network models column {layout.name_of(j)!r} as "
                    f"{fitted!r}, but likelihood={self.likelihood!r} gives it "
                    f"{wanted!r}: " + kept_by_a_continued_fit("each column's family")
                )
        layout = copy.copy(layout)
        layout.likelihood = copy.deepcopy(self.likelihood)  # not the caller's dict
        return layout

    def _single_family(self):
        """``likelihood`` for a model without a layout, ``'auto'`` resolved."""
        if self.likelihood == "auto":
            return self._auto_numeric_family
        return self.likelihood

    def _modelled(self, X):
        """Validated rows without a conditional model's conditions."""
        conditions = getattr(self, "_conditions", None)
        return X if conditions is None else X[:, : -conditions.n_features]

    def _validated_in_domain(self, X):
        """``X`` as ``_validate_X`` returns it, its modelled columns domain-checked."""
        check_is_fitted(self)
        row_name = row_namer(X)
        X = self._validate_X(X, reset=False)
        modelled = self._modelled(X)
        self.module_.likelihood.check_domain(
            modelled, self._column_names(modelled.shape[1]), row_name
        )
        return X
