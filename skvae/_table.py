"""Tables of mixed columns: which family models each column, and levels as codes.

``TableLayout`` is what ``fit`` learns about the columns of a table: each
column's likelihood family, the levels of the categorical columns, and, for a
DataFrame, the column names and dtypes. It turns tables into the float arrays
the network reads (a categorical column becomes the codes 0 to ``K - 1`` of
its levels) and turns decoded arrays back into tables, after
``_containers.computed`` has read the caller's container.
"""

from __future__ import annotations

import copy
import datetime
import sys
from collections.abc import Collection, Mapping, Sequence
from numbers import Number, Real

import numpy as np
import scipy.sparse as sp

from ._columns import _column_ranges, _fractional_columns
from ._containers import _is_dataframe
from ._data import row_namer
from ._families import COLUMN_FAMILIES
from ._likelihoods import FAMILIES, CategoricalFamily
from ._warn import warn_user

CATEGORICAL = CategoricalFamily.name
TABLE_FAMILIES = set(COLUMN_FAMILIES) - set(FAMILIES)
"""The families that only a table's dense columns can have."""


def _shown(value, longest: int = 80) -> str:
    """``repr`` of a value for messages, abridged where long.

    NumPy scalars show as the Python values they hold; ``10**400`` would
    print 401 digits.
    """
    shown = repr(value.item() if isinstance(value, np.generic) else value)
    if len(shown) <= longest:
        return shown
    return f"{shown[: longest // 2]}...{shown[-10:]} ({len(shown)} characters)"


def _column(X, j: int) -> np.ndarray:
    return X.iloc[:, j].to_numpy() if _is_dataframe(X) else np.asarray(X)[:, j]


def _holds_booleans(X, j: int) -> bool:
    """Whether column ``j`` of ``X`` holds booleans (and missing cells).

    A boolean dtype, or Python booleans among missing cells in an object
    column (as ``pd.DataFrame({"a": [True, None]})`` holds them).
    """
    return _of_boolean_dtype(X, j) or _all_booleans(_column(X, j))


def _of_boolean_dtype(X, j: int) -> bool:
    """Whether column ``j`` of ``X`` has a boolean dtype (NumPy's, pandas', Arrow's)."""
    if _is_dataframe(X):
        import pandas as pd

        return pd.api.types.is_bool_dtype(X.dtypes.iloc[j])
    return np.asarray(X).dtype.kind == "b"


def _all_booleans(column: np.ndarray) -> bool:
    """Whether an object column holds booleans and missing cells only."""
    if column.dtype != object:
        return False
    values = column[_present(column)]
    return values.size > 0 and bool(booleans_among(values).all())


def booleans_among(values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are booleans (NumPy's or Python's)."""
    if values.dtype.kind == "b":
        return np.ones(values.shape, dtype=bool)
    if values.dtype.kind != "O":
        return np.zeros(values.shape, dtype=bool)
    flags = [isinstance(value, bool | np.bool_) for value in values.ravel()]
    return np.array(flags, dtype=bool).reshape(values.shape)


def _auto_family(X, j: int, numeric: str, name=None) -> str:
    """The family ``likelihood='auto'`` gives column ``j``, from its dtype.

    ``numeric`` is the family of numeric columns; ``name`` names the column
    in messages (``j`` by default).
    """
    if _holds_booleans(X, j):
        return "bernoulli"
    if _is_dataframe(X):
        import pandas as pd

        dtype = X.dtypes.iloc[j]
        if dtype == np.dtype(object):
            refuse_cells_of_other_types(_column(X, j), j if name is None else name)
        return numeric if pd.api.types.is_numeric_dtype(dtype) else CATEGORICAL
    column = np.asarray(X)[:, j]
    if column.dtype.kind in "OUS":
        try:
            column.astype(np.float64)
        except OverflowError:  # a number beyond float64, which its checks name
            return numeric
        except (TypeError, ValueError):
            refuse_cells_of_other_types(column, j if name is None else name)
            return CATEGORICAL
    return numeric


def refuse_non_tables(X) -> None:
    """Refuse what is no table of rows, with scikit-learn's messages.

    A string, a dict, None or a single row ("Expected 2D array"), and a
    DataFrame without columns ("Found array with 0 feature(s)"), before
    anything reads their columns.
    """
    from sklearn.utils import check_array

    rows = isinstance(X, list | tuple)
    one_row = rows and len(X) > 0 and np.ndim(X[0]) == 0
    if getattr(X, "ndim", 2) == 1 or one_row or not (rows or hasattr(X, "shape")):
        check_array(X, dtype=None, ensure_all_finite=False)
    if _is_dataframe(X) and X.shape[1] == 0:
        check_array(np.empty(X.shape))


# What a cell of a table may hold under 'auto': text, or a number.
_READABLE = str | bytes | Number | np.generic


def refuse_cells_of_other_types(column: np.ndarray, name) -> None:
    """Raise a ``TypeError`` naming a cell that is neither text nor a number.

    A dict or a list in a column of objects, say: ``float()`` refuses it
    with a ``TypeError``, as scikit-learn's validation does.
    """
    values = column[_present(column)]
    if all(issubclass(kind, _READABLE) for kind in set(map(type, values))):
        return  # each type read once, not each cell
    value = next(value for value in values if not isinstance(value, _READABLE))
    raise TypeError(
        f"Column {name!r} of X holds {_shown(value)}, of type "
        f"{type(value).__name__}: each argument must be a string "
        "or a number."
    )


# What a column of dates, times or durations holds as objects (pandas'
# Timestamp and Timedelta are among them, as subclasses).
_TIME_TYPES = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    np.datetime64,
    np.timedelta64,
)


def refuse_time_columns(X) -> None:
    """Raise a ``ValueError`` naming the first column of dates or durations.

    A column of a datetime or timedelta dtype, or of objects whose first
    present value is a date, time or duration, in a DataFrame, an array or a
    list of rows. Neither is a number nor a category: as levels, every new
    date would be unseen.
    """
    if sp.issparse(X):
        return
    frame = _is_dataframe(X)
    if not (frame or hasattr(X, "dtype")):
        X = np.asarray(X, dtype=object)
    elif not (frame or isinstance(X.dtype, np.dtype)):  # another library's array
        X = np.asarray(X)
    if getattr(X, "ndim", 2) != 2:
        return  # left to validation's message
    if not frame and X.dtype.kind not in "MmO":
        return  # an array of numbers
    dtypes = X.dtypes if frame else [X.dtype] * X.shape[1]
    for j, dtype in enumerate(dtypes):
        if _is_time_dtype(dtype):
            held = f"dtype {dtype}"
        elif dtype == np.dtype(object):
            first = _first_present(X.iloc[:, j] if frame else X[:, j])
            if not (isinstance(first, _TIME_TYPES) or _is_period(first)):
                continue
            held = f"{type(first).__name__} objects"
        else:
            continue
        name = X.columns[j] if frame else j
        raise ValueError(
            f"Column {name!r} of X holds dates or durations ({held}), which the "
            "model does not read: convert them to numbers (days since a date, "
            "say) or to categories first."
        )


def _is_time_dtype(dtype) -> bool:
    """Whether ``dtype`` holds dates, times, durations or periods.

    NumPy's and pandas' datetimes and timedeltas (kinds ``M`` and ``m``, Arrow's
    timestamps, dates and durations among them), pandas' periods, and Arrow's
    times of day (kind ``O``, as Arrow's other types without a NumPy kind).
    """
    if getattr(dtype, "kind", None) in ("M", "m"):
        return True
    pandas = sys.modules.get("pandas")  # not a dependency: arrays come without it
    if pandas is not None and isinstance(dtype, pandas.PeriodDtype):
        return True
    arrow_type = getattr(dtype, "pyarrow_dtype", None)
    if arrow_type is None:
        return False
    import pyarrow as pa

    return pa.types.is_temporal(arrow_type)


def _is_period(value) -> bool:
    """Whether ``value`` is a pandas ``Period`` (pandas loaded only if so)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.Period)


def _first_present(column):
    """The first value of a column of objects that is not missing, or None."""
    values = np.asarray(column, dtype=object)
    for part in (values[:64], values):  # most often found among the first
        present = part[_present(part)]
        if present.size:
            return present[0]
    return None


def _whole_numbers(column) -> bool:
    """Whether a DataFrame column holds numbers, all of them whole (or missing)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(column.dtype):
        return False
    values = column.dropna().to_numpy(dtype=np.float64)
    return bool(values.size) and not _fractional_columns(values[:, None])[0]


def uses_layout(likelihood) -> bool:
    """Whether ``likelihood`` chooses families per column (not one for all)."""
    return isinstance(likelihood, Mapping) or likelihood in TABLE_FAMILIES | {"auto"}


class TableLayout:
    """Each column's family and levels, learned from a training table.

    Parameters
    ----------
    likelihood : str or dict
        The estimator's ``likelihood`` the layout was learned for.
    families : list of str
        The ``likelihood`` name of each column.
    levels : dict of int to ndarray
        The sorted levels of each categorical column, by position.
    ranges : dict of int to (float, float)
        The smallest and largest training value of each other column.
    names : pandas.Index or None
        The DataFrame's column labels (a ``MultiIndex`` stays one); None for
        arrays.
    dtypes : pandas.Series or None
        The DataFrame's column dtypes (a pandas sparse column's as its
        values' dtype: decoded rows are dense); None for arrays.
    booleans : list of int
        The positions of the columns of booleans: their decoded means come
        back as whole booleans.
    positions : list of int or None
        An array's columns' positions among the user's, where the
        conditions' columns are taken out; None otherwise.
    array_dtype : numpy.dtype or None
        The dtype decoded rows of an array come back in where it is not
        float64 or object: ``bool`` for an array of booleans.
    absent : dict of int to ndarray of bool, default=None
        For each column whose levels ``categories`` declared, which of them
        no training row holds (None: none).
    """

    def __init__(
        self,
        likelihood,
        families,
        levels,
        ranges,
        names=None,
        dtypes=None,
        booleans=(),
        positions=None,
        array_dtype=None,
        absent=None,
    ):
        self.likelihood = copy.deepcopy(likelihood)
        self.families = list(families)
        self.levels = dict(levels)
        self.ranges = dict(ranges)
        self.names = names
        self.dtypes = dtypes
        self.booleans = list(booleans)
        self.positions = None if positions is None else list(positions)
        self.array_dtype = array_dtype
        self.absent = dict(absent or {})

    def reads_sparse(self) -> bool:
        """Whether every column's family reads sparse columns (no levels, no atoms)."""
        return all(family in FAMILIES for family in self.families)

    @classmethod
    def from_data(
        cls,
        X,
        likelihood,
        numeric: str = "gaussian",
        integer: str | None = None,
        positions: Sequence[int] | None = None,
        trained: np.ndarray | None = None,
        categories: Mapping | None = None,
        values_checked: bool = True,
    ) -> TableLayout:
        """Each column's family from ``likelihood``, and its levels from ``X``.

        ``likelihood`` is ``'auto'``, a family name for every column, or a
        dict from column (name for DataFrames, position for arrays) to family
        name, the other columns following ``'auto'``, which gives numeric
        columns ``numeric``, and a DataFrame's columns of whole numbers
        ``integer`` where given. ``positions`` are the positions of an array's
        columns among the user's (whose conditions, say, ``X`` lacks), which
        the dict names; by default ``0`` to ``X.shape[1] - 1``. ``trained``
        marks the rows that training reads (by default all): only their cells
        set a numeric column's range and say whether it holds whole numbers;
        the levels of a categorical column come from every row, unless
        ``categories`` (a dict from column, named as in ``likelihood``, to its
        levels) declares them: such a column is categorical, and a value
        outside its levels is refused. Without ``values_checked`` the layout
        serves for its families alone, and has no levels and ranges: a
        continued fit's restated layout, whose chunk is read against the
        fitted levels, as ``handle_unknown`` says.
        """
        frame = _is_dataframe(X)
        X = _checked_table(X, likelihood)
        keys = list(X.columns) if frame else list(positions or range(X.shape[1]))
        if trained is None:
            trained = np.ones(X.shape[0], dtype=bool)
        categories = dict(categories or {})
        refuse_undeclarable_columns(categories, keys, frame)
        named = likelihood if isinstance(likelihood, Mapping) else {}
        for parameter, columns in (("likelihood", named), ("categories", categories)):
            refuse_repeated_labels(keys, columns, "X", f"a column {parameter} names")
        families = _column_families(
            X,
            with_declared_columns(likelihood, categories),
            keys,
            numeric,
            integer,
            trained,
        )
        levels, ranges = (
            _levels_and_ranges(X, families, keys, trained)
            if values_checked
            else ({}, {})  # the families alone
        )
        dtypes = _dense_dtypes(X) if frame else None
        absent = {}
        for key, declared in categories.items() if values_checked else ():
            j = keys.index(key)
            column = _column(X, j)
            present = _present(column)
            levels[j] = declared_levels(declared, X, j, key, column, present)
            # the levels no trained row holds: rows of weight 0 set no baseline
            absent[j] = ~held_levels(levels[j], column[present & trained])
            if dtypes is not None:
                dtypes.iloc[j] = dtype_holding(dtypes.iloc[j], levels[j])
        booleans = [
            j
            for j, family in enumerate(families)
            if family == "bernoulli" and _holds_booleans(X, j)
        ]
        names = X.columns if frame else None
        return cls(
            likelihood,
            families,
            levels,
            ranges,
            names,
            dtypes,
            booleans,
            None if frame else keys,
            # an array of booleans holds no missing cell, and gets booleans back
            np.dtype(bool) if not frame and X.dtype == bool else None,
            absent,
        )

    def widened(self, X) -> TableLayout:
        """A copy whose numeric columns' ranges also cover ``X``'s observed cells.

        ``X`` holds the modelled columns as :meth:`encode` gives them (dense,
        or sparse for a frame of pandas sparse columns): rows
        that a later ``partial_fit`` (or warm start) trains on, so that
        ``decode`` clips to the range of every row trained on.
        """
        lows, highs = _column_ranges(X)  # NaN where nothing is observed
        ranges = {
            j: (np.fmin(low, lows[j]), np.fmax(high, highs[j]))
            for j, (low, high) in self.ranges.items()
        }
        widened = copy.copy(self)
        widened.ranges = ranges
        if self.dtypes is not None:  # an integer dtype holds the whole range
            widened.dtypes = self.dtypes.copy()
            for j, (low, high) in ranges.items():
                widened.dtypes.iloc[j] = integer_dtype_holding(
                    self.dtypes.iloc[j], low, high
                )
        return widened

    def column_families(self) -> dict:
        """Each column's family, by name for DataFrames, by position for arrays."""
        keys = [self.name_of(j) for j in range(len(self.families))]
        return dict(zip(keys, self.families, strict=True))

    def refuse_other_categories(self, categories: Mapping) -> None:
        """Raise a ``ValueError`` where ``categories`` asks what a continued fit cannot.

        That is: levels for a column that is not this layout's, or that it
        models in another family, or other levels than a column's fitted ones.
        """
        families = self.column_families()
        refuse_undeclarable_columns(categories, list(families), self.names is not None)
        for key in categories:
            if families[key] != CATEGORICAL:
                raise ValueError(
                    f"The fitted network models column {key!r} as "
                    f"{families[key]!r}, but categories gives it levels: "
                    + kept_by_a_continued_fit("each column's family")
                )
        fitted = {self.name_of(j): levels for j, levels in self.levels.items()}
        refuse_other_levels(fitted, categories)

    def blocks(self) -> list[tuple[str, list[int]]]:
        """The columns of each family, in order of first appearance."""
        blocks: dict[str, list[int]] = {}
        for j, family in enumerate(self.families):
            blocks.setdefault(family, []).append(j)
        return list(blocks.items())

    def n_levels(self, columns: Sequence[int]) -> list[int]:
        return [len(self.levels[j]) for j in columns]

    def absent_levels(self, columns: Sequence[int]) -> np.ndarray:
        """Which levels of ``columns``, in order, were declared and held by no row."""
        return np.concatenate(
            [
                self.absent.get(j, np.zeros(len(self.levels[j]), dtype=bool))
                for j in columns
            ]
        )

    def encode(self, X, unknown_as_missing: bool = False):
        """``X`` with each categorical column replaced by its levels' codes.

        A DataFrame stays a DataFrame with the same column names (now all
        numeric), so that scikit-learn's checks of names still apply. A
        value outside a column's training levels raises a ``ValueError``
        naming the column and the value, or is missing (NaN) with
        ``unknown_as_missing``.
        """
        if sp.issparse(X):
            self._refuse_sparse_unless_read(X)
            return X
        self._refuse_non_booleans(X)
        if not self.levels:
            self._refuse_non_numbers(X)  # text where fit had numbers
            return X
        frame = _is_dataframe(X)
        if frame or hasattr(X, "dtype"):  # a list of rows is read cell by cell
            _refuse_complex_columns(X)
        # As objects, rows given as lists keep each cell's type: NumPy would
        # turn the numbers (NaN too) into text beside text.
        X = X if frame else np.asarray(X, dtype=object)
        if frame:
            encoded = X.copy()
        else:
            encoded = np.array(X, dtype=object)
        for j, levels in self.levels.items():
            if j >= X.shape[1]:
                break  # the width check of validate_data names the problem
            codes = self._codes(
                X, j, levels, self.name_of(j), unknown_as_missing, frame
            )
            if frame:
                encoded[encoded.columns[j]] = codes
            else:
                encoded[:, j] = codes
        try:
            return encoded.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            self._refuse_non_numbers(encoded)
            raise

    def _refuse_sparse_unless_read(self, X) -> None:
        """Refuse a sparse matrix that this table's families cannot read.

        Sparse rows are read under one family for every column, which is not
        one of levels or atoms (a boolean column's stored values are checked
        as a dense one's are).
        """
        families = sorted(set(self.families))
        if len(families) > 1 or families[0] not in FAMILIES:
            raise ValueError(
                f"This model reads its columns as {' and '.join(families)}, "
                "which takes dense X (sparse X takes one family for all its "
                "columns, not categorical nor inflated): pass X.toarray() or "
                "a DataFrame."
            )
        self._refuse_non_booleans(X)

    def _refuse_non_booleans(self, X) -> None:
        """Raise a ``ValueError`` naming a value of a boolean column that is not one.

        A Bernoulli column would score any other number in [0, 1] as a soft
        label (see ``first_non_boolean``). A sparse matrix's stored values
        are read.
        """
        if sp.issparse(X) and self.booleans:
            X = X.tocsc()
        for j in self.booleans:
            if j >= X.shape[1]:
                break  # the width check of validate_data names the problem
            if sp.issparse(X):
                values = X.data[X.indptr[j] : X.indptr[j + 1]]
                rows = X.indices[X.indptr[j] : X.indptr[j + 1]]
            elif _of_boolean_dtype(X, j):
                continue  # holds nothing else
            else:
                values = _column(X, j)
                rows = np.arange(len(values))
            wrong = first_non_boolean(values)
            if wrong is not None:
                position, value = wrong
                raise ValueError(
                    f"Column {self.name_of(j)!r} of X holds {_shown(value)} in "
                    f"row {row_namer(X)(rows[position])}, which is not a boolean: "
                    "the column held booleans in fit (True or False, or the "
                    "numbers 1 or 0, are read)."
                )

    def _refuse_non_numbers(self, encoded) -> None:
        """Raise a ``ValueError`` naming the first value that is not a float64.

        Columns of a numeric dtype hold none, and are not read.
        """
        if not hasattr(encoded, "shape"):  # rows given as lists
            encoded = np.asarray(encoded, dtype=object)
        frame = _is_dataframe(encoded)
        dtypes = list(encoded.dtypes) if frame else [encoded.dtype] * encoded.shape[1]
        for j, dtype in enumerate(dtypes):
            if getattr(dtype, "kind", "O") in "biuf":
                continue
            column = _column(encoded, j)
            wrong = first_non_number(column)
            if wrong is not None:
                row, value = wrong
                raise ValueError(
                    f"Column {self.name_of(j)!r} of X holds {_shown(value)} in "
                    f"row {row_namer(encoded)(row)}, which is not a number: the "
                    "model reads this column as numbers, as it did in fit."
                )
            try:
                np.asarray(column[_present(column)], dtype=np.float64)
            except OverflowError:
                raise beyond_float64(self.name_of(j)) from None

    def name_of(self, j: int):
        """Column ``j``'s name, or its position among the user's columns."""
        if self.names is not None:
            return self.names[j]
        positions = getattr(self, "positions", None)  # None in older pickles
        return j if positions is None else positions[j]

    @staticmethod
    def _codes(
        X, j: int, levels, name, unknown_as_missing: bool, frame: bool
    ) -> np.ndarray:
        """The codes of column ``j`` of ``X``: positions among ``levels``."""
        column = _column(X, j)
        present = _present(column)
        values = column[present]
        hashed = (
            frame
            and len(values) >= _HASHED_LOOKUPS
            and _hashed_exactly(X.dtypes.iloc[j], values)
        )
        positions, unseen = _positions_among(levels, values, hashed)
        codes = positions.astype(np.float64)
        if unseen.any() and unknown_as_missing:
            codes[unseen] = np.nan
        elif unseen.any():
            first = np.argmax(unseen)
            row = row_namer(X)(np.flatnonzero(present)[first])
            raise ValueError(
                f"Column {name!r} holds {_shown(values[first])} in row {row}, "
                f"which is not among its {len(levels)} levels seen in fit, or in a "
                "stream's first partial_fit chunk (such as "
                f"{', '.join(_shown(level) for level in levels[:3])}). "
                "handle_unknown='missing' reads unseen levels as missing "
                "cells, and a new stream can declare every level of a column "
                "with categories."
            )
        result = np.full(len(column), np.nan)
        result[present] = codes
        return result

    def decode(self, values: np.ndarray):
        """Decoded float rows back as a table: levels for codes, original dtypes.

        Numeric columns are clipped to their training range, as SDV's
        synthesizers do by default. A DataFrame for a model fitted on one,
        with its columns and dtypes (integer columns rounded); otherwise an
        array, of objects if a categorical column's levels are not numbers.
        """
        columns = [
            _levels_of(self.levels[j], values[:, j])
            if j in self.levels
            else np.clip(values[:, j], *self.ranges[j])
            for j in range(values.shape[1])
        ]
        for j in self.booleans:  # missing cells stay missing
            columns[j] = np.where(np.isnan(columns[j]), np.nan, columns[j] >= 0.5)
        array_dtype = getattr(self, "array_dtype", None)  # None in older pickles
        if array_dtype is not None:
            return np.column_stack(columns).astype(array_dtype)
        if self.names is None:
            numeric = not self.booleans and all(
                np.asarray(levels).dtype.kind in "biuf"
                for levels in self.levels.values()
            )
            array = np.empty(values.shape, dtype=np.float64 if numeric else object)
            for j, column in enumerate(columns):
                array[:, j] = _python_booleans(column) if j in self.booleans else column
            return array
        import pandas as pd

        decoded = {}
        for j, (column, dtype) in enumerate(zip(columns, self.dtypes, strict=True)):
            if pd.api.types.is_integer_dtype(dtype) and column.dtype.kind == "f":
                column = rounded_for(dtype, column)
            if pd.api.types.is_bool_dtype(dtype) and column.dtype.kind == "f":
                # a nullable array keeps a missing cell missing, not False
                column = pd.array(_python_booleans(column), dtype="boolean")
            elif j in self.booleans:  # Python booleans and None, as in fit
                column = _python_booleans(column)
            if isinstance(dtype, pd.CategoricalDtype) and column.dtype.kind == "f":
                # a category column of numbers under a numeric family
                column = _nearest_categories(dtype.categories, column)
            if isinstance(dtype, np.dtype) and dtype.kind in "biu":
                if pd.isna(column).any():
                    # missing cells in a column whose training dtype cannot
                    # hold them (a later partial_fit chunk had some): pandas'
                    # nullable twin of the dtype (Int64, UInt8, boolean)
                    dtype = _nullable(dtype)
            decoded[j] = (
                _arrow_dictionary(column, dtype)
                if _is_arrow_dictionary(dtype)
                # built as the array's dtype: pandas 3 reads text and None
                # as its str dtype, None as NaN
                else pd.Series(column, dtype=column.dtype).astype(dtype)
            )
        frame = pd.DataFrame(decoded)
        frame.columns = self.names  # tuple labels stay whole, not levels
        return frame


def _is_arrow_dictionary(dtype) -> bool:
    """Whether ``dtype`` is pandas' Arrow dictionary (Arrow's categorical)."""
    arrow_type = getattr(dtype, "pyarrow_dtype", None)
    if arrow_type is None:
        return False
    import pyarrow as pa

    return pa.types.is_dictionary(arrow_type)


def _arrow_dictionary(column: np.ndarray, dtype):
    """``column`` as a Series of the Arrow dictionary ``dtype``, missing as null.

    pandas casts objects (text levels) to such a dtype but not NumPy numbers:
    the values are encoded by Arrow itself.
    """
    import pandas as pd
    import pyarrow as pa

    arrow_type = dtype.pyarrow_dtype
    values = pa.array(column, from_pandas=True).cast(arrow_type.value_type)
    encoded = values.dictionary_encode().cast(arrow_type)
    return pd.Series(pd.arrays.ArrowExtensionArray(encoded))


def integer_dtype_holding(dtype, low: float, high: float):
    """``dtype``, or the narrowest integer dtype as wide that holds ``low`` to ``high``.

    A stream's first chunk sets a column's dtype; a later chunk may bring
    values beyond it (945 in a column first seen as ``int8``). Integer
    dtypes, NumPy's or pandas' nullable ones, widen: unsigned while ``low``
    is not negative, signed otherwise. Other dtypes, and ranges that no
    64-bit integer holds, stay as they are (decoded values are then
    clipped to the dtype's limits).
    """
    numpy_dtype = getattr(dtype, "numpy_dtype", dtype)  # Int8 as int8
    if not (isinstance(numpy_dtype, np.dtype) and numpy_dtype.kind in "iu"):
        return dtype
    arrow = getattr(dtype, "pyarrow_dtype", None) is not None  # int8[pyarrow]
    kind = "u" if numpy_dtype.kind == "u" and low >= 0 else "i"
    for size in (1, 2, 4, 8):
        candidate = np.dtype(f"{kind}{size}")
        info = np.iinfo(candidate)
        if size < numpy_dtype.itemsize or not info.min <= low <= high <= info.max:
            continue
        if candidate == numpy_dtype:
            return dtype
        if numpy_dtype is dtype:
            return candidate
        if arrow:  # an Arrow dtype stays Arrow's: int8[pyarrow] to int16[pyarrow]
            import pandas as pd

            return pd.api.types.pandas_dtype(f"{candidate.name}[pyarrow]")
        return _nullable(candidate)  # and a nullable one nullable: Int8 to Int16
    return dtype


def rounded_for(dtype, values):
    """Float ``values`` (an array or Series) rounded to whole numbers ``dtype`` holds.

    Near the limits of 64-bit integers float64 is coarser than one: int64's
    maximum is the float 2**63, which would wrap to the minimum in a cast, so
    values are clipped to the float below it.
    """
    info = np.iinfo(getattr(dtype, "numpy_dtype", dtype))  # Int64 as int64
    high = float(info.max)
    if int(high) > info.max:
        high = float(np.nextafter(high, 0.0))
    return np.clip(np.round(values), float(info.min), high)


def _python_booleans(flags: np.ndarray) -> np.ndarray:
    """Numbers (or NaN) as Python booleans (or None) in an array of objects.

    True from 0.5 up: a boolean column under another family than the
    Bernoulli (a Gaussian's mean of 0.73, say) decodes to its nearer value.
    """
    booleans = (flags >= 0.5).astype(object)
    booleans[np.isnan(flags)] = None
    return booleans


def _nearest_categories(categories, values: np.ndarray) -> np.ndarray:
    """Each of ``values`` as its nearest numeric category (NaN stays NaN).

    Decoded numbers lie between a category column's categories, which
    ``astype`` would turn into missing cells. Categories that are not
    numbers leave ``values`` as they are.
    """
    try:
        numbers = np.asarray(categories, dtype=np.float64)
    except (TypeError, ValueError):
        return values
    missing = np.isnan(values)
    nearest = np.abs(values[:, None] - numbers[None, :]).argmin(1)
    chosen = np.asarray(categories, dtype=object)[nearest]
    chosen[missing] = np.nan
    return chosen


def _levels_of(levels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The levels that ``codes`` stand for; NaN (or None for text) where missing."""
    missing = np.isnan(codes)
    found = levels[np.where(missing, 0, codes).astype(np.intp)]
    if not missing.any():
        return found
    if found.dtype.kind in "iuf":
        return np.where(missing, np.nan, found)
    found = found.astype(object)
    found[missing] = None
    return found


_HASHED_LOOKUPS = 1_000
"""From this many values, ``_positions_among`` hashes the levels."""


def _positions_among(levels: np.ndarray, values: np.ndarray, hashed: bool = False):
    """Each value's position among the sorted ``levels``, and which are not levels.

    A value that does not compare with the levels (a number among text levels)
    is not a level. Where ``hashed`` (see ``_hashed_exactly``), values are
    looked up in a hash table of the levels (pandas'), as the fallback below
    does, which is quicker than a binary search among Python objects once
    the table is built (``_codes`` asks for it from ``_HASHED_LOOKUPS``
    values). Dates and durations (a categorical column's, as NumPy's
    datetime64 and timedelta64) are looked up there too: a dictionary of
    pandas' Timestamp and Timedelta levels misses them, as NumPy hashes
    datetime64 apart from Timestamp before 2.2 and timedelta64 apart from
    Timedelta since.
    """
    if hashed or values.dtype.kind in "mM":
        import pandas as pd

        table = pd.Index(levels, dtype=object)
        positions = table.get_indexer(pd.Index(values, dtype=object))
        unseen = positions < 0
        return np.where(unseen, 0, positions), unseen
    foreign = _of_foreign_types(levels, values)
    if foreign is not None:
        positions, unseen = np.zeros(len(values), np.intp), foreign.copy()
        positions[~foreign], unseen[~foreign] = _positions_among(
            levels, values[~foreign]
        )
        return positions, unseen
    try:
        positions = np.minimum(np.searchsorted(levels, values), len(levels) - 1)
    except TypeError:
        position_of = {level: position for position, level in enumerate(levels)}
        unseen = np.array([value not in position_of for value in values], dtype=bool)
        positions = np.array([position_of.get(value, 0) for value in values])
        return positions.astype(np.intp), unseen
    return positions, levels[positions] != values


def _of_foreign_types(levels: np.ndarray, values: np.ndarray) -> np.ndarray | None:
    """Which ``values`` are of a type no level has, other than text and numbers.

    A list or an array among text levels is no level, but would not hash, or
    would compare as its elements; None where no value is of such a type.
    """
    if values.dtype != object:
        return None
    level_types = set(map(type, levels))
    foreign = {
        kind
        for kind in set(map(type, values)) - level_types
        if not issubclass(kind, _READABLE)
    }
    if not foreign:
        return None
    return np.array([type(value) in foreign for value in values], dtype=bool)


def _nullable(dtype):
    """A NumPy integer or boolean dtype's pandas twin that holds missing cells."""
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        import pandas as pd

        return pd.array(np.empty(0, dtype)).dtype  # Int64, UInt8, boolean
    return dtype


def _hashed_exactly(dtype, values: np.ndarray) -> bool:
    """Whether a DataFrame column's ``values`` may be hashed to find levels.

    A ``string`` column holds only text, a ``category`` column only its
    categories, and a column of objects may hold only Python strings: then
    no two equal values differ (``1`` and ``True``, ``0.0`` and ``-0.0``,
    ``'a'`` and ``np.str_('a')``) and every value hashes, so pandas' hash
    table finds what sorting finds. Other columns are sorted.
    """
    import pandas as pd

    if isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
        return True
    return dtype == np.dtype(object) and set(map(type, values)) <= {str}


def _checked_table(X, likelihood):
    """``X`` as a DataFrame or a 2-D array, refused if sparse or complex."""
    if sp.issparse(X):
        raise ValueError(
            f"likelihood={likelihood!r} chooses a family per column, which "
            "takes dense X; pass a single family name for sparse X."
        )
    frame = _is_dataframe(X)
    X = X if frame else np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead. Reshape your "
            "data with array.reshape(-1, 1) for a single feature or "
            "array.reshape(1, -1) for a single sample."
        )
    _refuse_complex_columns(X)
    return X


def _refuse_complex_columns(X) -> None:
    """Raise a ``ValueError`` naming the first column of a complex dtype.

    Cast to float64, its numbers would lose their imaginary parts with a
    warning. (Complex numbers among objects are not numbers to the checks
    that read such columns.)
    """
    if _is_dataframe(X):
        kinds = [getattr(dtype, "kind", None) for dtype in X.dtypes]
        complex_columns = [j for j, kind in enumerate(kinds) if kind == "c"]
    else:
        complex_columns = [0] if np.asarray(X).dtype.kind == "c" else []
    if complex_columns:
        j = complex_columns[0]
        name = X.columns[j] if _is_dataframe(X) else j
        raise ValueError(f"Complex data not supported: column {name!r} of X.")


def _column_families(X, likelihood, keys, numeric, integer, trained) -> list[str]:
    """Each column's family: ``TableLayout.from_data``'s rules, checked."""
    frame = _is_dataframe(X)
    for_all = isinstance(likelihood, str) and likelihood in TABLE_FAMILIES
    named: Mapping = likelihood if isinstance(likelihood, Mapping) else {}
    families: list = [
        likelihood
        if for_all
        else None  # a family the dict names, set below
        if keys[j] in named
        else _auto_family(X, j, numeric, keys[j])
        for j in range(X.shape[1])
    ]
    if integer is not None and frame and not for_all:
        for j in range(X.shape[1]):
            if families[j] == numeric and _whole_numbers(X.iloc[trained, j]):
                families[j] = integer
    for key, family in named.items():
        if key not in keys:
            where = (
                "X's columns"
                if frame
                else f"the positions of X's modelled columns, {keys}"
            )
            raise ValueError(
                f"likelihood names column {key!r}, which is not among {where}."
            )
        if not isinstance(family, str) or family not in COLUMN_FAMILIES:
            raise ValueError(
                f"likelihood gives column {key!r} the family {family!r}; "
                f"the families are {sorted(COLUMN_FAMILIES)}."
            )
        families[keys.index(key)] = family
    if frame and not for_all:
        _warn_of_numbers_as_levels(X, families, keys, set(named))
    return families


def _levels_and_ranges(X, families, keys, trained) -> tuple[dict, dict]:
    """Each categorical column's levels and each other column's range, by position.

    A range is that of the ``trained`` rows' observed cells; levels are those
    of every row.
    """
    frame = _is_dataframe(X)
    levels, ranges = {}, {}
    for j, family in enumerate(families):
        column = _column(X, j)
        present = _present(column)
        try:
            if family == CATEGORICAL:
                values = column[present]
                hashed = frame and _hashed_exactly(X.dtypes.iloc[j], values)
                levels[j] = _sorted_levels(values, hashed)
            elif (observed := present & trained).any():
                values = column[observed].astype(np.float64)
                ranges[j] = (values.min(), values.max())
        except OverflowError:  # a Python integer such as 10**400
            raise beyond_float64(keys[j]) from None
        except (TypeError, ValueError) as error:
            kinds = sorted({type(value).__name__ for value in column[present]})
            raise ValueError(
                f"Column {keys[j]!r} of X cannot be modelled as {family!r}: it "
                f"holds values of types {', '.join(kinds)} ({error}). A "
                "categorical column takes all strings or all numbers; a "
                "numeric family takes numbers."
            ) from None
    return levels, ranges


def _sorted_levels(values: np.ndarray, hashed: bool) -> np.ndarray:
    """The distinct ``values``, sorted: a column's levels.

    ``hashed`` (see ``_hashed_exactly``): pandas finds them first by
    hashing, so that only they are sorted, not every cell (15 ms for 50,000
    strings).
    """
    if hashed:
        import pandas as pd

        values = pd.unique(values)
    return np.unique(values)


def _warn_of_numbers_as_levels(X, families, keys, named=(), conditions=False) -> None:
    """Warn of a DataFrame's categorical text columns that hold only numbers.

    Such a column, made categorical by ``'auto'`` (of dtype ``object`` or
    ``string``, not ``category`` or an Arrow dictionary, which ask for
    levels), is most often a numeric column read as text: a CSV with a
    marker of missing cells, or a frame built from an array of objects.
    Columns named in a ``likelihood`` dict are not warned of. With
    ``conditions``, the columns are conditions, which take text as levels.
    """
    import pandas as pd

    numbers_as_text = []
    for j, key in enumerate(keys):
        if families[j] != CATEGORICAL or key in named:
            continue
        dtype = X.dtypes.iloc[j]
        if isinstance(dtype, pd.CategoricalDtype) or _is_arrow_dictionary(dtype):
            continue
        column = _column(X, j)
        values = column[_present(column)]
        if _hashed_exactly(dtype, values):  # text: each distinct value once
            values = pd.unique(values)
        if values.size and _read_by_to_numeric(values):
            numbers_as_text.append(f"{key!r} ({len(pd.unique(values))} levels)")
    if numbers_as_text:
        listed = ", ".join(numbers_as_text[:3])
        if len(numbers_as_text) > 3:
            listed += f" and {len(numbers_as_text) - 3} more"
        if conditions:
            read, keep = "condition_on takes them as levels", ""
        else:
            read = "likelihood='auto' models them as categorical"
            keep = " (or name their family in a likelihood dict)"
        warn_user(
            f"Columns {listed} of X hold only numbers but have an object or "
            f"string dtype, so {read}. Convert them with pd.to_numeric "
            "(errors='coerce' turns markers of missing cells into NaN) for numbers, or "
            f"to the 'category' dtype{keep} to keep levels without this "
            "warning."
        )


def _read_by_to_numeric(values: np.ndarray) -> bool:
    """Whether ``pd.to_numeric`` reads every value as a number (NaN aside)."""
    import pandas as pd

    try:
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    except OverflowError:  # integers beyond float64, which it cannot convert
        return False
    return bool(numbers.notna().all())


def first_non_boolean(column: np.ndarray):
    """The row and value of ``column``'s first present cell that is not a boolean.

    None if every present cell is True, False, or a number equal to 1 or 0.
    Text is not a boolean, not even ``"1"``.
    """
    if column.dtype.kind == "b":
        return None
    present = np.flatnonzero(_present(column))
    if column.dtype.kind in "iuf":
        values = column[present]
        wrong = present[(values != 0) & (values != 1)]
        return (wrong[0], column[wrong[0]]) if len(wrong) else None
    # objects: their few distinct values read one at a time (10**400 is a
    # Python int, not a float), then the first cell that holds a wrong one
    distinct = _distinct(column[present])
    if all(_is_boolean(value) for value in distinct):
        return None
    row = next(i for i in present if not _is_boolean(column[i]))
    return row, column[row]


def _distinct(values: np.ndarray):
    """The distinct values of an array of objects (equal ones once: 1 for True)."""
    try:
        import pandas as pd
    except ImportError:
        return values
    try:
        return pd.unique(values)
    except TypeError:  # unhashable cells
        return values


def _is_boolean(value) -> bool:
    if isinstance(value, bool | np.bool_):
        return True
    return isinstance(value, Number) and value in (0, 1)


def beyond_float64(name) -> ValueError:
    """The error for a column holding a Python integer such as ``10**400``."""
    return ValueError(
        f"Column {name!r} of X holds an integer beyond float64's range (about 1.8e308)."
    )


def first_non_number(column: np.ndarray):
    """The row and value of ``column``'s first present cell that is not a number.

    None if every present cell is one.
    """
    for row in np.flatnonzero(_present(column)):
        try:
            float(column[row])
        except OverflowError:  # an integer beyond float64 is a number
            continue
        except (TypeError, ValueError):
            return row, column[row]
    return None


def _dense_dtypes(X):
    """A DataFrame's dtypes, each pandas sparse dtype as its values' dtype."""
    import pandas as pd

    return X.dtypes.map(
        lambda dtype: dtype.subtype if isinstance(dtype, pd.SparseDtype) else dtype
    )


def _of_sparse_columns(X) -> bool:
    """Whether ``X`` is a DataFrame of pandas sparse columns only.

    scikit-learn's validation reads such a frame as a sparse matrix.
    """
    if not _is_dataframe(X):
        return False
    import pandas as pd

    return all(isinstance(dtype, pd.SparseDtype) for dtype in X.dtypes)


def refuse_sparse_columns_not_of_0(X) -> None:
    """Refuse a DataFrame of sparse columns whose unstored cells are not 0.

    It is read as a sparse matrix, whose unstored cells are 0; pandas refuses
    to make one of a column whose unstored cells are NaN, say, with a message
    that names no column.
    """
    if not _of_sparse_columns(X):
        return
    for name, dtype in X.dtypes.items():
        fill = dtype.fill_value
        if not (isinstance(fill, Number) and fill == 0):  # NaN, pd.NA
            raise ValueError(
                f"Column {name!r} of X is a pandas sparse column whose unstored "
                f"cells are {_shown(fill)}: a DataFrame of sparse "
                "columns is read as a sparse matrix, whose unstored cells are 0. "
                "Store its columns with pd.SparseDtype(float, 0.0) (a stored "
                "NaN is a missing cell), or pass X.sparse.to_dense()."
            )


def missing_as_nan(X):
    """``X`` with each missing cell of its object columns held as NaN.

    ``None`` and ``pd.NA`` mark a missing cell as NaN does, but NumPy cannot
    turn ``pd.NA`` into a float, and a column of numbers beside it would read
    as text. Rows given as a list come back as an array of objects, so that
    each cell keeps its type; other containers come back as they are.
    """
    if isinstance(X, list | tuple):
        X = np.asarray(X, dtype=object)
    if _is_dataframe(X):
        import pandas as pd

        held_as_nan = X
        for j, dtype in enumerate(X.dtypes):
            if dtype != np.dtype(object):
                continue
            column = X.iloc[:, j].to_numpy(dtype=object)
            missing = ~_present(column)
            if missing.any():
                if held_as_nan is X:  # the caller's frame stays as it is
                    held_as_nan = X.copy()
                column = column.copy()
                column[missing] = np.nan
                # a Series keeps the dtype: pandas 3 makes an array of text str
                held_as_nan.isetitem(j, pd.Series(column, X.index, dtype=object))
        return held_as_nan
    if isinstance(X, np.ndarray) and X.dtype == object:
        missing = ~_present(X)
        if missing.any():
            X = X.copy()
            X[missing] = np.nan
    return X


def holds_numbers(X) -> bool:
    """Whether ``X`` is an array of numbers, given as an array, a list or sparse.

    Missing cells may be NaN, ``None`` or ``pd.NA``; booleans and text are not
    numbers here. A DataFrame is a table, whatever its dtypes.
    """
    if sp.issparse(X):
        return True
    if _is_dataframe(X):
        return False
    try:
        values = np.asarray(X)
    except ValueError:  # ragged rows: scikit-learn's check names the problem
        return False
    if values.dtype.kind in "iuf":
        return True
    if values.dtype != object:
        return False
    return all(
        isinstance(value, Real) and not isinstance(value, bool | np.bool_)
        for value in values[_present(values)]
    )


def _present(values: np.ndarray) -> np.ndarray:
    """Which cells of an array hold a value (not NaN, None or ``pd.NA``)."""
    try:
        import pandas as pd
    except ImportError:  # then the cells are NumPy values or None
        holds_value = np.frompyfunc(lambda v: v is not None and v == v, 1, 1)
        return holds_value(values).astype(bool)
    return ~np.asarray(pd.isna(values))


# ------------------------------------------------------------ declared levels
#
# By default a categorical column's levels are those its training rows hold:
# a stream's first ``partial_fit`` chunk, or a Dask collection's first
# partition. ``categories`` declares them, as ``OneHotEncoder(categories=...)``
# does, so that a level the first chunk lacks is known from the start.


def split_categories(categories: Mapping | None, keys) -> tuple[dict, dict]:
    """``categories`` split into the entries that name one of ``keys``, and the rest."""
    categories = dict(categories or {})
    named = {key: levels for key, levels in categories.items() if key in keys}
    return named, {k: v for k, v in categories.items() if k not in named}


def refuse_undeclarable_columns(categories: Mapping, keys, frame: bool) -> None:
    """Raise a ``ValueError`` if ``categories`` names a column not among ``keys``."""
    for key in categories:
        if isinstance(key, bool | np.bool_) or key not in keys:
            where = "X's columns" if frame else f"the positions of X's columns, {keys}"
            raise ValueError(
                f"categories names column {key!r}, which is not among {where}."
            )


def refuse_repeated_labels(
    columns: list, keys, what: str, needing: str = "a condition's column"
) -> None:
    """Raise a ``ValueError`` naming one of ``keys`` that several ``columns`` label.

    ``what`` names the table, and ``needing`` the column that needs a label
    of its own, in the message.
    """
    repeated = [key for key in keys if columns.count(key) > 1]
    if repeated:
        raise ValueError(
            f"{what} has more than one column labelled {repeated[0]!r}; "
            f"{needing} needs a label of its own."
        )


def kept_by_a_continued_fit(what: str, it: str = "it") -> str:
    """The end of a message that refuses a change a continued fit cannot make."""
    return (
        f"a continued fit (partial_fit, or fit with warm_start=True) keeps "
        f"{what}. Fit anew, on a clone or with warm_start=False, to change {it}."
    )


def with_declared_columns(likelihood, categories: Mapping):
    """``likelihood`` with the columns ``categories`` names made categorical.

    A family name for every column other than ``'categorical'`` (or
    ``'auto'``), or a dict that gives a declared column another family, is
    refused: levels are a categorical column's alone.
    """
    if not categories:
        return likelihood
    if isinstance(likelihood, Mapping):
        for key, family in likelihood.items():
            if key in categories and family != CATEGORICAL:
                raise ValueError(
                    f"likelihood gives column {key!r} the family {family!r}, and "
                    "categories gives it levels: only a categorical column has "
                    "levels. Drop one of the two."
                )
        return dict.fromkeys(categories, CATEGORICAL) | dict(likelihood)
    if likelihood == "auto":
        return dict.fromkeys(categories, CATEGORICAL)
    if likelihood == CATEGORICAL:
        return likelihood
    raise ValueError(
        f"likelihood={likelihood!r} models every column as one family, and "
        f"categories gives column {next(iter(categories))!r} levels: only a "
        "categorical column has levels. Pass likelihood as a dict of the "
        "other columns' families, or leave it 'auto'."
    )


def declared_levels(declared, X, j: int, key, column=None, present=None) -> np.ndarray:
    """The sorted levels ``categories`` gives column ``j`` of ``X`` (``key``), checked.

    The levels are values of the column's kind (see ``_levels_of_kind``),
    and each present cell of the column must be one of them. ``column`` and
    ``present``: the column's cells and which of them are present, where
    the caller has them.
    """
    if column is None:
        column = _column(X, j)
        present = _present(column)
    seen = column[present]
    levels = _levels_of_kind(declared, values_dtype(X, j), _holds_booleans(X, j), key)
    try:
        values = np.unique(seen)
    except TypeError:  # text beside numbers
        kinds = sorted({type(value).__name__ for value in seen})
        raise ValueError(
            f"Column {key!r} holds values of types {', '.join(kinds)}, which no "
            "levels can all match: a categorical column takes all strings or "
            "all numbers."
        ) from None
    _, unknown = _positions_among(levels, values)
    if unknown.any():
        value = values[unknown][0]
        row = row_namer(X)(np.flatnonzero(present)[np.argmax(seen == value)])
        shown = ", ".join(_shown(level) for level in levels[:3])
        raise ValueError(
            f"Column {key!r} holds {_shown(value)} in row {row}, which is not "
            f"among the levels categories gives it ({shown}"
            f"{', ...' if len(levels) > 3 else ''})."
        )
    return levels


def held_levels(levels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of ``levels`` one of ``values`` is, matched as ``encode`` matches them."""
    positions, unknown = _positions_among(levels, values)
    held = np.zeros(len(levels), dtype=bool)
    held[positions[~unknown]] = True
    return held


def values_dtype(X, j: int) -> np.dtype:
    """The NumPy dtype of the values of column ``j`` of ``X``; object for text.

    A DataFrame column's own dtype, not that of the array its cells make
    (where pandas' missing cells turn integers into floats or objects):
    ``Int64`` and ``int64[pyarrow]`` give int64, a ``category`` of
    integers int64, ``boolean`` bool.
    """
    if _is_dataframe(X):
        import pandas as pd

        dtype = _dense_dtypes(X).iloc[j]
        if isinstance(dtype, pd.CategoricalDtype):
            dtype = dtype.categories.dtype
        dtype = getattr(dtype, "numpy_dtype", dtype)  # nullable and Arrow dtypes
    else:
        dtype = np.asarray(X).dtype
    try:
        dtype = np.dtype(dtype)
    except TypeError:  # a dtype NumPy has no match for
        return np.dtype(object)
    return dtype if dtype.kind in "biuf" else np.dtype(object)


def _levels_of_kind(declared, dtype: np.dtype, booleans: bool, key) -> np.ndarray:
    """The levels ``declared`` for column ``key``, sorted, as values of ``dtype``.

    Refused: anything but a flat collection of levels (a list, an array),
    an empty or repeated one, a missing value among them, levels that do
    not sort together (text beside numbers), booleans for a column that
    does not hold booleans (``booleans``) and anything else for one that
    does, and levels of a column of numbers that its ``dtype`` does not
    hold as they are (text, or fractions for integers). A column of text or
    objects takes any levels that sort together.
    """
    if isinstance(declared, str | bytes | Mapping) or not isinstance(
        declared, Collection
    ):
        raise ValueError(
            f"categories gives column {key!r} {declared!r}; give a list of its levels."
        )
    declared = list(declared)
    if any(np.ndim(level) for level in declared):
        raise ValueError(
            f"categories gives column {key!r} the levels {declared!r}; give a "
            "flat list of its levels, each a single value."
        )
    given = np.empty(len(declared), dtype=object)
    given[:] = declared
    if not len(given) or not _present(given).all():
        raise ValueError(
            f"categories gives column {key!r} the levels {declared!r}; give "
            "at least one level, and no missing value (NaN or None) among them: a "
            "missing cell is no level."
        )
    if any(isinstance(level, bool | np.bool_) != booleans for level in declared):
        what = "booleans alone" if booleans else "no booleans"
        raise ValueError(
            f"categories gives column {key!r} the levels {declared!r}; the column "
            f"holds {'booleans' if booleans else 'no booleans'}, so give it {what}."
        )
    try:
        as_values = given if dtype.kind == "O" else given.astype(dtype)
        levels = np.unique(as_values)
        held = all(value == cast for value, cast in zip(given, as_values, strict=True))
    except (TypeError, ValueError, OverflowError):
        held = False
    if not held:
        raise ValueError(
            f"categories gives column {key!r} the levels {declared!r}, which do "
            f"not sort together or are not all values of the column's dtype "
            f"({dtype}) as they are."
        )
    if len(levels) < len(given):
        raise ValueError(
            f"categories gives column {key!r} a level twice: {declared!r}."
        )
    return levels


def dtype_holding(dtype, levels: np.ndarray):
    """``dtype``, or a pandas ``category`` dtype widened to hold ``levels`` too.

    A stream's first chunk may read a column as a ``category`` of the
    levels it holds; decoded levels beyond them would become missing cells.
    Declared levels it lacks are appended to its categories.
    """
    import pandas as pd

    if not isinstance(dtype, pd.CategoricalDtype):
        return dtype
    lacking = [level for level in levels if level not in dtype.categories]
    if not lacking:
        return dtype
    return pd.CategoricalDtype([*dtype.categories, *lacking], ordered=dtype.ordered)


def refuse_other_levels(fitted: Mapping, categories: Mapping) -> None:
    """Raise a ``ValueError`` if a continued fit declares other levels than it has.

    ``fitted`` maps each categorical column's key to its fitted levels;
    ``categories`` declares levels for some of those columns.
    """
    for key, declared in categories.items():
        levels = fitted[key]
        booleans = bool(booleans_among(levels).all())
        as_read = _levels_of_kind(declared, levels.dtype, booleans, key)
        if not np.array_equal(as_read, levels):
            raise ValueError(
                f"The fitted network models column {key!r} with the levels "
                f"[{', '.join(_shown(level) for level in levels)}], but "
                f"categories gives it {list(declared)!r}: "
                + kept_by_a_continued_fit("each column's levels", "them")
            )
