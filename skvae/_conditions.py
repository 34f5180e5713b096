"""The columns a conditional model reads but does not model (``condition_on``).

A conditional VAE (Sohn et al. 2015) models ``p(x | c)``: the condition ``c``
feeds both the encoder, ``q(z | x, c)``, and the decoder, ``p(x | z, c)``, and
has no likelihood of its own. The network reads numeric conditions
standardised and the others one-hot; :class:`Conditions` keeps which columns
they are and how to encode them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn import config_context
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ._containers import _is_dataframe
from ._data import row_namer, rows_of_positive_weight
from ._missing import FLOAT32_LIMIT, first_cell_beyond_float32
from ._table import (
    CATEGORICAL,
    _auto_family,
    _column,
    _holds_booleans,
    _present,
    _shown,
    _warn_of_numbers_as_levels,
    booleans_among,
    declared_levels,
    dtype_holding,
    first_non_boolean,
    kept_by_a_continued_fit,
    refuse_other_levels,
    refuse_repeated_labels,
)


def condition_keys(condition_on) -> list:
    """The columns ``condition_on`` names, as a list (empty for None)."""
    if condition_on is None:
        return []
    if isinstance(condition_on, str | int | np.integer):
        return [condition_on]
    return list(condition_on)


def _as_numbers_if_all_are(column: np.ndarray) -> np.ndarray:
    """A column of objects as numbers if every present cell is a number.

    Integers with none missing keep NumPy's integer dtype (exact beyond
    2**53); other numbers become float64, missing cells NaN. Booleans, text
    and anything else keep the column as objects, as a dict or a DataFrame
    of the same values gives them.
    """
    present = _present(column)
    values = column[present]
    if any(isinstance(value, bool | np.bool_) for value in values):
        return column
    if not all(isinstance(value, Real) for value in values):
        return column
    if present.all() and all(isinstance(value, Integral) for value in values):
        return np.asarray(values.tolist())
    return np.where(present, column, np.nan).astype(np.float64)


def _is_numeric(column: np.ndarray) -> bool:
    return column.dtype.kind in "biuf"


def _without_empty_rows(X, positions: list, sample_weight: np.ndarray) -> np.ndarray:
    """``sample_weight``, 0 for rows with no observed cell outside ``positions``.

    Unchanged if no row of positive weight would be left: the check of
    training rows then says what is wrong.
    """
    observed = np.zeros(len(sample_weight), dtype=bool)
    for j in range(np.shape(X)[1]):
        if j not in positions:
            observed |= _present(_column(X, j))
    weights = np.where(observed, sample_weight, 0.0)
    return weights if weights.any() else sample_weight


def _text_as_numbers(column) -> np.ndarray:
    """A numeric condition's values with text read as numbers (``"2.5"`` as 2.5).

    Encoding reads text as numbers; the rows given back hold the numbers.
    Other cells stay as they are: a Python integer beyond 2**53 stays exact.
    """
    column = np.asarray(column)
    if column.dtype.kind in "US":
        return column.astype(np.float64)
    if column.dtype == object:
        text = (str, bytes)
        cells = [float(cell) if isinstance(cell, text) else cell for cell in column]
        return np.array(cells, dtype=object)
    return column


def _refuse_numbers_beyond_float32(
    values: dict, keys: list, row_name: Callable[[int], str] = str
) -> None:
    """Refuse text, complex numbers, inf, or a number float32 cannot hold.

    ``row_name`` names a row of the table ``values`` come from (see
    :func:`skvae._data.row_namer`).
    """
    for key in keys:
        column = np.asarray(values[key])
        if np.iscomplexobj(column):  # cast to float64, it would lose a part
            raise ValueError(
                f"The condition {key!r} holds complex numbers; a numeric "
                "condition takes real numbers."
            )
        try:
            numbers = column.astype(np.float64)
        except OverflowError:  # a Python integer such as 10**400
            raise ValueError(
                f"The condition {key!r} holds an integer beyond float64's range "
                "(about 1.8e308); a condition takes finite numbers within "
                f"float32's range (±{FLOAT32_LIMIT:.1e})."
            ) from None
        except (TypeError, ValueError):
            row = next(i for i, value in enumerate(column) if not _is_number(value))
            raise ValueError(
                f"The condition {key!r} is {_shown(column[row])} in row "
                f"{row_name(row)}; "
                "it is a numeric condition, which takes numbers."
            ) from None
        cell = first_cell_beyond_float32(numbers[:, None])
        if cell is not None:
            row, _, value = cell
            raise ValueError(
                f"The condition {key!r} is {value:g} in row {row_name(row)}; a "
                "condition takes finite numbers within float32's range "
                f"(±{FLOAT32_LIMIT:.1e})."
            )


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _refuse_sparse(X) -> None:
    if sp.issparse(X):
        raise ValueError(
            "condition_on takes dense X: a DataFrame or an array with the "
            "condition columns."
        )


class Conditions:
    """Which columns of ``X`` are conditions, and their encoding for the network.

    Parameters
    ----------
    positions : list of int
        The conditions' positions among ``X``'s columns, in ``condition_on``'s
        order.
    keys : list
        How ``condition_on`` named them: column names or positions.
    encoder : ColumnTransformer
        Fitted on the training conditions: numeric columns standardised by
        their weighted mean and standard deviation (rows of weight 0 play no
        part), the others one-hot, with the levels of every training row.
    n_features : int
        The width of the encoded conditions: what the network reads.
    dtypes : dict or None
        Each condition's dtype in a training DataFrame; None for arrays.
    booleans : list
        The keys of the conditions that held booleans in training (of a
        boolean dtype, or Python booleans among objects), which take True,
        False, 1 and 0 alone.
    """

    def __init__(
        self, positions, keys, encoder, n_features: int, dtypes=None, booleans=()
    ):
        self.positions = list(positions)
        self.keys = list(keys)
        self.encoder = encoder
        self.n_features = n_features
        self.dtypes = dtypes
        self.booleans = list(booleans)

    @classmethod
    def from_data(
        cls,
        X,
        condition_on,
        sample_weight,
        skip_empty_rows: bool = False,
        categories: Mapping | None = None,
    ) -> Conditions:
        """The conditions ``condition_on`` names, their encoding learned on ``X``.

        ``sample_weight`` (validated, one per row of ``X``) weighs the numeric
        conditions' means and standard deviations. With ``skip_empty_rows``,
        rows with no observed cell but their conditions weigh 0 too, as they
        do in a training that leaves them out. ``categories`` declares the
        levels of some conditions (by key), which are then read one-hot.
        """
        categories = dict(categories or {})
        _refuse_sparse(X)
        frame = _is_dataframe(X)
        columns = list(X.columns) if frame else list(range(np.shape(X)[1]))
        keys = condition_keys(condition_on)
        if not keys:
            raise ValueError(
                "condition_on names no column; pass None for no condition."
            )
        flags = [key for key in keys if isinstance(key, bool | np.bool_)]
        if flags:  # True == 1 would name column 1
            raise ValueError(
                f"condition_on names columns by name or position, not {flags[0]!r}."
            )
        unknown = [key for key in keys if key not in columns]
        if unknown:
            where = "X's columns" if frame else f"0 to {len(columns) - 1}"
            raise ValueError(
                f"condition_on names column {unknown[0]!r}, which is not among {where}."
            )
        refuse_repeated_labels(columns, keys, "X")
        if len(set(keys)) < len(keys):
            raise ValueError(f"condition_on names a column twice: {keys!r}.")
        if len(keys) == len(columns):
            raise ValueError(
                "condition_on names every column of X; at least one column must "
                "be modelled."
            )
        positions = [columns.index(key) for key in keys]
        if skip_empty_rows:
            sample_weight = _without_empty_rows(X, positions, sample_weight)
        values = cls._values(X, positions, keys)
        numeric = [
            j
            for j, position in enumerate(positions)
            if keys[j] not in categories
            and _auto_family(X, position, "numeric", keys[j]) != CATEGORICAL
        ]
        other = [j for j in range(len(keys)) if j not in numeric]
        if frame:
            levels_or_not = [
                CATEGORICAL if j in other else "numeric" for j in range(len(keys))
            ]
            _warn_of_numbers_as_levels(
                X.iloc[:, positions],
                levels_or_not,
                keys,
                named=set(categories),
                conditions=True,
            )
        _refuse_numbers_beyond_float32(values, [keys[j] for j in numeric], row_namer(X))
        # before the declared levels are read: a missing cell is none of them
        _refuse_missing_conditions(
            {key: values[key] for key in categories}, row_namer(X)
        )
        table = cls._as_array(values, keys)
        # Every training row's levels, so that each of them can be encoded,
        # but the numbers' scale from the rows of positive weight alone: a row
        # of weight 0 holding 1e300 leaves it alone.
        levels = OneHotEncoder(sparse_output=False)
        levels_of = {
            keys[j]: declared_levels(categories[keys[j]], X, positions[j], keys[j])
            if keys[j] in categories
            else _levels(table[:, j], keys[j])
            for j in other
        }
        if any(booleans_among(np.asarray(v)).any() for v in levels_of.values()):
            # declared levels of booleans stay booleans, which a table of
            # numbers would make 0.0 and 1.0 (encode reads objects alike)
            levels_of = {key: v.astype(object) for key, v in levels_of.items()}
            table = table.astype(object)
        if other:
            levels.set_params(categories=list(levels_of.values()))
        weighed, weights = rows_of_positive_weight(table, sample_weight)
        # arrays whatever transform_output scikit-learn is set to, here and in
        # encode: the encoder feeds the network, not the user
        with config_context(enable_metadata_routing=True, transform_output="default"):
            scaler = StandardScaler().set_fit_request(sample_weight=True)
            encoder = ColumnTransformer(
                [("numeric", scaler, numeric), ("levels", levels, other)],
                sparse_threshold=0.0,
            )
            # Equal weights fit as no weights do, to the bit.
            equal = np.all(weights == weights[0]) if weights.size else True
            encoder.fit(weighed, sample_weight=None if equal else weights)
        dtypes = (
            {
                key: dtype_holding(X[key].dtype, levels_of[key])
                if key in categories
                else X[key].dtype
                for key in keys
            }
            if frame
            else None
        )
        n_features = len(encoder.get_feature_names_out())
        booleans = [
            key for key, j in zip(keys, positions, strict=True) if _holds_booleans(X, j)
        ]
        return cls(positions, keys, encoder, n_features, dtypes, booleans)

    def refuse_other_categories(self, categories: Mapping) -> None:
        """Raise a ``ValueError`` where ``categories`` asks what a continued fit cannot.

        That is: levels for a condition read as a number, or other levels
        than a condition's fitted ones.
        """
        _, _, one_hot_positions = self.encoder.transformers[1]
        one_hot = self.encoder.named_transformers_["levels"]
        fitted = {
            self.keys[j]: levels
            for j, levels in zip(
                one_hot_positions, getattr(one_hot, "categories_", []), strict=True
            )
        }
        for key in categories:
            if key not in fitted:
                raise ValueError(
                    f"The fitted network reads the condition {key!r} as a number, "
                    "but categories gives it levels: "
                    + kept_by_a_continued_fit("how it reads each condition")
                )
        refuse_other_levels(fitted, categories)

    def modelled_positions(self, n_columns: int) -> list[int]:
        """Positions of the modelled columns among ``n_columns`` columns of ``X``."""
        return [j for j in range(n_columns) if j not in self.positions]

    def split(self, X):
        """``X``'s modelled columns (as ``X`` holds them) and its encoded conditions."""
        _refuse_sparse(X)
        modelled = self.modelled_positions(np.shape(X)[1])
        values = self._values(X, self.positions, self.keys)
        row_name = row_namer(X)
        self._refuse_values_their_dtype_would_change(
            values, integers=False, row_name=row_name
        )
        rest = X.iloc[:, modelled] if _is_dataframe(X) else np.asarray(X)[:, modelled]
        return rest, self._encode(values, row_name)

    def standardised(self, encoded: np.ndarray):
        """The numeric conditions among ``encoded``, as ``_standardised_columns``.

        ``encoded`` holds rows' encoded conditions (the last ``n_features``
        columns of validated rows), the standardised numbers first. Yields,
        if there are any, their names and values, with shift 0 and scale 1.
        """
        names = self._numeric_keys()
        if names:
            values = np.asarray(encoded[:, : len(names)], dtype=np.float64)
            yield names, values, np.zeros(len(names)), np.ones(len(names))

    def _numeric_keys(self) -> list:
        """The numeric conditions: those the encoder standardises, first."""
        _, _, numeric = self.encoder.transformers[0]
        return [self.keys[j] for j in numeric]

    def table_of(self, X) -> np.ndarray:
        """``X``'s conditions, a column each: ``conditions`` for rows of ``X``."""
        return self._as_array(self._values(X, self.positions, self.keys), self.keys)

    def encode(self, conditions, n_rows: int, typed_rows: bool = True) -> np.ndarray:
        """Encoded conditions for ``n_rows`` rows the model generates or decodes.

        ``conditions`` is a dict from condition to one value for every row,
        or a table of ``n_rows`` rows: a DataFrame with the condition columns
        (others are ignored) or an array with one column per condition, in
        ``condition_on``'s order. ``typed_rows``: the rows come back as a
        DataFrame in the dtypes of fit, so a value its condition's column
        cannot hold is refused; otherwise only a boolean condition's are.
        """
        values = self._raw(conditions, n_rows)
        row_name = row_namer(conditions)
        self._refuse_values_their_dtype_would_change(
            values, integers=typed_rows, row_name=row_name
        )
        return self._encode(values, row_name)

    def _refuse_values_their_dtype_would_change(
        self, values: dict, integers: bool = True, row_name: Callable[[int], str] = str
    ) -> None:
        """Refuse a value that the condition's column of integers or booleans lacks.

        Rows generated under 1.7 would come back labelled 1 in a column of
        integers, under 200 labelled -56 in a column of ``int8``, under 2
        labelled True in a column of booleans. With ``integers=False``, for
        rows of ``X``, which are read rather than generated, and rows that
        come back as numbers, only booleans are checked: 0.5 is no boolean,
        as in a modelled column. Booleans are the conditions that held them
        in training, whatever their dtype. ``row_name`` names a row of the
        table ``values`` come from.
        """
        import pandas as pd

        booleans, dtypes = self._boolean_keys(), self.dtypes or {}
        for key in self.keys:
            column, dtype = np.asarray(values[key]), dtypes.get(key)
            if key in booleans:
                kind, wrong = "booleans", first_non_boolean(column)
            elif (
                integers and dtype is not None and pd.api.types.is_integer_dtype(dtype)
            ):
                kind, wrong = "integers", _first_non_integer(column, dtype)
            else:
                continue  # numbers of an array come back as numbers
            if wrong is not None:
                row, value = wrong
                held = f"its column of {kind}" + (f" ({dtype})" if dtype else "")
                raise ValueError(
                    f"The condition {key!r} is {_shown(value)} in row "
                    f"{row_name(row)}, which {held} cannot hold"
                    + (": rows come back in the dtype of fit." if integers else ".")
                )

    def _boolean_keys(self) -> list:
        """The conditions that held booleans in training.

        A model pickled before they were recorded knows those of a boolean
        dtype.
        """
        booleans = getattr(self, "booleans", None)
        if booleans is not None:
            return booleans
        import pandas as pd

        return [
            key
            for key, dtype in (self.dtypes or {}).items()
            if pd.api.types.is_bool_dtype(dtype)
        ]

    def _encode(self, values: dict, row_name: Callable[[int], str] = str) -> np.ndarray:
        """The encoder's columns for ``values``; ``row_name`` names their rows."""
        _refuse_missing_conditions(values, row_name)
        self._check_levels(values, row_name)
        _refuse_numbers_beyond_float32(values, self._numeric_keys(), row_name)
        table = self._as_array(values, self.keys)
        one_hot = self.encoder.named_transformers_["levels"]
        levels = getattr(one_hot, "categories_", [])  # none if no one-hot condition
        if any(column_levels.dtype == object for column_levels in levels):
            # numbers given for a column of objects: OneHotEncoder compares
            # object levels with objects alone
            table = table.astype(object)
        try:
            with config_context(transform_output="default"):
                return self.encoder.transform(table)
        except ValueError as error:  # a value it cannot read: text for a number
            raise ValueError(f"In the conditions {self.keys!r}: {error}") from None

    def _check_levels(self, values: dict, row_name: Callable[[int], str] = str) -> None:
        """Raise a ``ValueError`` naming a level the training rows did not hold."""
        _, _, positions = self.encoder.transformers[1]  # the one-hot conditions
        if not positions:
            return
        one_hot = self.encoder.named_transformers_["levels"]
        for j, levels in zip(positions, one_hot.categories_, strict=True):
            key = self.keys[j]
            column = np.asarray(values[key])
            known = np.isin(column, levels)
            # True is no level 1, though True == 1: a boolean must be a level
            known &= ~booleans_among(column) | np.isin(
                column, levels[booleans_among(levels)]
            )
            unknown = np.flatnonzero(~known)
            if len(unknown):
                value = column[unknown[0]]
                raise ValueError(
                    f"The condition {key!r} is {_shown(value)} in row "
                    f"{row_name(unknown[0])}, a level the training rows do not "
                    "hold; its levels are "
                    f"[{', '.join(_shown(level) for level in levels)}]. A new "
                    "stream, whose first partial_fit chunk may lack some, can "
                    "declare every level of a condition with categories."
                )

    @staticmethod
    def _values(X, positions, keys) -> dict:
        return {key: _column(X, j) for j, key in zip(positions, keys, strict=True)}

    @staticmethod
    def _all_numeric(values: dict, keys) -> bool:
        return all(_is_numeric(np.asarray(values[key])) for key in keys)

    @classmethod
    def _as_array(cls, values: dict, keys) -> np.ndarray:
        if cls._all_numeric(values, keys):  # integers stay integers
            return np.column_stack([np.asarray(values[key]) for key in keys])
        table = np.empty((len(values[keys[0]]), len(keys)), dtype=object)
        for j, key in enumerate(keys):
            table[:, j] = values[key]
        return table

    def assemble(self, modelled, conditions, n_rows: int):
        """Rows in the training column order: ``modelled`` with the conditions put back.

        ``modelled`` is what the model decoded (an array, or a DataFrame for a
        model fitted on one); ``conditions`` as for :meth:`encode`.
        """
        values = self._raw(conditions, n_rows)
        for key in self._numeric_keys():
            values[key] = _text_as_numbers(values[key])
        if _is_dataframe(modelled):
            import pandas as pd

            table = modelled.copy()
            booleans = self._boolean_keys()
            for j, key in sorted(zip(self.positions, self.keys, strict=True)):
                column = values[key]
                if key in booleans:  # 1 for True in a column of objects too
                    column = np.array([bool(value) for value in column], dtype=object)
                if self.dtypes is not None:
                    column = pd.Series(column, index=table.index).astype(
                        self.dtypes[key]
                    )
                table.insert(j, key, column)
            return table
        n_columns = modelled.shape[1] + len(self.keys)
        dtype = modelled.dtype if self._all_numeric(values, self.keys) else object
        rows = np.empty((n_rows, n_columns), dtype=dtype)
        rows[:, self.modelled_positions(n_columns)] = modelled
        for j, key in zip(self.positions, self.keys, strict=True):
            rows[:, j] = values[key]
        return rows

    def _raw(self, conditions, n_rows: int) -> dict:
        """Each condition's values for ``n_rows`` rows, as ``conditions`` gives them."""
        if conditions is None:
            raise ValueError(
                f"The model is conditioned on {self.keys!r}: pass conditions=, "
                "a dict from each of them to a value, or a table of their values."
            )
        if isinstance(conditions, Mapping):
            # an unknown key first: a misspelt key also leaves one without value
            unknown = [key for key in conditions if key not in self.keys]
            if unknown:
                raise ValueError(
                    f"conditions names {unknown[0]!r}, which is not a condition; "
                    f"the model is conditioned on {self.keys!r}."
                )
            missing = [key for key in self.keys if key not in conditions]
            if missing:
                raise ValueError(f"conditions lacks a value for {missing[0]!r}.")
            for key in self.keys:
                if np.ndim(conditions[key]) != 0:
                    raise ValueError(
                        f"conditions gives {key!r} {np.size(conditions[key])} "
                        "values; a dict gives one value to every row. For a "
                        "value per row, pass a table (a DataFrame or an array) "
                        "with a row for each."
                    )
            values = {key: np.repeat(conditions[key], n_rows) for key in self.keys}
        elif _is_dataframe(conditions):
            missing = [key for key in self.keys if key not in conditions.columns]
            if missing:
                raise ValueError(f"conditions lacks the column {missing[0]!r}.")
            refuse_repeated_labels(list(conditions.columns), self.keys, "conditions")
            values = {key: conditions[key].to_numpy() for key in self.keys}
        else:
            rows = not hasattr(conditions, "shape")
            # rows given as lists keep each cell's type, as X's rows do: each
            # column then takes its own dtype, not NumPy's text for them all
            table = np.asarray(conditions, dtype=object) if rows else conditions
            if table.ndim != 2 or table.shape[1] != len(self.keys):
                raise ValueError(
                    f"conditions as an array needs shape (n_rows, {len(self.keys)}), "
                    f"a column for each of {self.keys!r}; got shape {table.shape}."
                )
            values = {
                key: _as_numbers_if_all_are(table[:, j]) if rows else table[:, j]
                for j, key in enumerate(self.keys)
            }
        lengths = {len(column) for column in values.values()}
        if lengths != {n_rows}:
            n_given = lengths.pop()
            raise ValueError(
                f"conditions has {n_given} rows, for {n_rows} rows to generate or "
                "decode: a table of conditions gives one row to each, a dict one "
                "value to all."
            )
        return values


def _refuse_missing_conditions(values: dict, row_name: Callable[[int], str]) -> None:
    """Raise a ``ValueError`` naming the first row of ``values`` missing a condition."""
    for key, column in values.items():
        missing = np.flatnonzero(~_present(column))
        if len(missing):
            raise ValueError(
                f"The condition {key!r} is missing in row "
                f"{row_name(missing[0])}; a conditional model needs every "
                "condition's value."
            )


def _levels(column: np.ndarray, key) -> np.ndarray:
    """The sorted levels of a condition read one-hot, named if they do not sort."""
    try:
        return OneHotEncoder().fit(column[:, None]).categories_[0]
    except TypeError as error:
        kinds = sorted({type(value).__name__ for value in column})
        raise ValueError(
            f"The condition {key!r} holds values of types {', '.join(kinds)} "
            f"({error}). A condition read one-hot takes all strings or all "
            "numbers."
        ) from None


def _first_non_integer(column: np.ndarray, dtype):
    """The row and value of ``column``'s first cell that ``dtype`` cannot hold.

    None if every present cell is a whole number within the integer dtype's
    limits. Text and infinity are left to the encoding's messages.
    """
    try:
        numbers = column.astype(np.float64)
    except (TypeError, ValueError, OverflowError):
        return None  # text, or an integer beyond float64: the encoding says so
        # (_refuse_numbers_beyond_float32 for conditions, TableLayout for columns)
    info = np.iinfo(getattr(dtype, "numpy_dtype", dtype))  # Int8 as int8
    within = _within(column, numbers, info) | np.isinf(numbers)
    held = (numbers == np.round(numbers)) & within
    wrong = np.flatnonzero(~held & ~np.isnan(numbers))
    return (wrong[0], column[wrong[0]]) if wrong.size else None


def _within(column: np.ndarray, numbers: np.ndarray, info: np.iinfo) -> np.ndarray:
    """Whether each value of ``column`` lies within an integer dtype's limits.

    Integers are compared exactly: as a float, int64's largest value rounds
    up to 2**63, which the cast would wrap around to the smallest. Floats
    (``numbers``, the column as float64) are compared with the limits as
    floats, the upper one excluded.
    """
    if column.dtype.kind in "iu":
        return (column >= info.min) & (column <= info.max)
    as_floats = (numbers >= float(info.min)) & (numbers < float(info.max) + 1.0)
    if column.dtype.kind != "O":
        return as_floats
    exact = [
        info.min <= int(value) <= info.max if isinstance(value, Integral) else within
        for value, within in zip(column.ravel(), as_floats.ravel(), strict=True)
    ]
    return np.array(exact, dtype=bool).reshape(column.shape)
