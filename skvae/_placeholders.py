"""Cells equal to a placeholder (``missing_values`` of ``VAEImputer``) read as missing.

``placeholders_as_nan`` marks them missing before validation, in each
container and dtype, and ``replace_cells`` writes fills back into a table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ._containers import _is_dataframe
from ._table import (
    _arrow_dictionary,
    _is_arrow_dictionary,
    _nullable,
    _present,
    booleans_among,
)


def placeholders_as_nan(X, placeholder, skip: Sequence[int] = ()):
    """``X`` with each cell equal to ``placeholder`` missing (NaN).

    Dense ``X``'s columns at the positions ``skip`` are left as they are
    (conditions, which are read and not imputed).

    ``X`` itself, untouched, for a placeholder that is already missing (NaN,
    ``None`` or ``pd.NA``) or that no cell holds. Otherwise a copy: numbers
    of an integer or boolean array become floats, to hold NaN, and such a
    DataFrame column its nullable twin (``Int64``, ``boolean``); text arrays
    become arrays of objects. A sparse matrix's stored entries
    equal to ``placeholder`` become stored NaN; its implicit zeros are
    observed, so ``placeholder=0`` is refused, as by scikit-learn's imputers;
    so is text where every cell it could mark is a number.
    """
    if not _present(np.array([placeholder], dtype=object))[0]:
        return X
    if isinstance(placeholder, str):
        _refuse_text_placeholder_for_numbers(X, placeholder, skip)
    if sp.issparse(X):
        if X.format not in ("csr", "csc", "coo", "bsr"):
            X = X.tocsr()  # LIL's data are lists, DOK has none
        if placeholder == 0:
            raise ValueError(
                "missing_values=0 cannot mark the missing cells of sparse X, "
                "whose zeros are not stored. Use dense X, or mark the missing "
                "cells with NaN or another value."
            )
        matches = np.asarray(X.data == placeholder)
        if not matches.any():
            return X
        X = X.astype(np.float64)  # a copy, of the same format and entry order
        X.data[matches] = np.nan
        return X
    if _is_dataframe(X):
        matches = X.apply(_cells_equal_to, placeholder=placeholder)
        matches.iloc[:, [j for j in skip if j < matches.shape[1]]] = False
        if not matches.to_numpy().any():
            return X
        if X.columns.is_unique:  # integers and booleans as pandas' nullable twins
            X = X.astype(
                {
                    name: _nullable(dtype)
                    for name, dtype in X.dtypes.items()
                    if matches[name].any()
                }
            )
        return replace_cells(X, matches)
    values = np.asarray(X, dtype=object if isinstance(X, list | tuple) else None)
    if values.dtype.kind == "b" and not isinstance(placeholder, bool | np.bool_):
        return X  # False == 0, but a boolean column holds no numbers (as frames)
    matches = np.zeros(values.shape, dtype=bool)
    present = _present(values)  # pd.NA == placeholder is neither True nor False
    matches[present] = np.asarray(values[present] == placeholder, dtype=bool)
    if values.dtype == object and matches.any():
        matches &= ~_booleans_unlike(values, placeholder)
    if matches.ndim == 2:  # other shapes are named by validation
        width = np.shape(matches)[1]
        matches[:, [j for j in skip if j < width]] = False
    if not matches.any():
        return X
    kind = values.dtype.kind
    values = values.astype(
        np.float64 if kind in "iub" else object if kind in "US" else values.dtype
    )
    values[matches] = np.nan
    return values


def _refuse_text_placeholder_for_numbers(X, placeholder: str, skip) -> None:
    """Refuse a text ``placeholder`` where every cell it could mark is a number.

    No cell of such ``X`` can hold it, so the user's missing cells would stay
    as they are: scikit-learn's imputers refuse it too. A DataFrame's columns
    at the positions ``skip`` (conditions, not marked) do not count.
    """
    if sp.issparse(X):
        kind = f"a sparse matrix of {X.dtype}"
    elif _is_dataframe(X):
        import pandas as pd

        marked = [j for j in range(X.shape[1]) if j not in skip]
        if not marked or not all(
            pd.api.types.is_numeric_dtype(X.dtypes.iloc[j]) for j in marked
        ):
            return
        kind = "a DataFrame of numeric columns"
        if skip:  # the columns the placeholder could mark
            kind += " beside its conditions"
    else:
        try:  # a list of numbers too, as validation will read it
            values = np.asarray(X)
        except (ValueError, TypeError):
            return  # ragged rows, which validation names
        if values.dtype.kind not in "iubf" or values.ndim != 2:
            return  # other shapes are named by validation
        kind = f"an array of {values.dtype}"
    try:
        number = f" ({float(placeholder):g}, not {placeholder!r})"
    except ValueError:
        number = ""
    raise ValueError(
        f"missing_values={placeholder!r} is text, and X is {kind}: no cell can "
        f"hold it. Give the placeholder as a number{number}."
    )


def replace_cells(X, cells, values=None):
    """DataFrame ``X`` with its ``cells`` (a frame of booleans) from ``values``.

    ``values`` is a frame of ``X``'s shape, or None to make the cells missing.
    pandas moves the values of an Arrow dictionary column that it masks, or
    refuses to set them: such columns are replaced as objects and encoded
    again.
    """
    dictionaries = {
        name: dtype for name, dtype in X.dtypes.items() if _is_arrow_dictionary(dtype)
    }
    as_objects = dict.fromkeys(dictionaries, object)
    if as_objects:  # astype rebuilds the frame even when given nothing to do
        X = X.astype(as_objects)
        values = None if values is None else values.astype(as_objects)
    replaced = X.mask(cells) if values is None else X.mask(cells, values)
    for name, dtype in dictionaries.items():
        column = _arrow_dictionary(replaced[name].to_numpy(), dtype)
        replaced[name] = column.set_axis(replaced.index)
    return replaced


def _cells_equal_to(column, placeholder):
    """Which cells of a DataFrame column equal ``placeholder``.

    None of them where the column cannot hold it: an Arrow column of numbers
    refuses to compare itself with text.
    """
    import pandas as pd

    none = pd.Series(False, index=column.index)
    if pd.api.types.is_bool_dtype(column.dtype) and not isinstance(
        placeholder, bool | np.bool_
    ):
        return none  # Arrow's booleans would take -1 for True
    try:
        matches = column.isin([placeholder])
    except (TypeError, ValueError):  # pyarrow's ArrowTypeError, ArrowInvalid
        return none
    if column.dtype.kind == "O" and matches.any():  # objects, categories
        matches &= ~_booleans_unlike(column.to_numpy(dtype=object), placeholder)
    return matches


def _booleans_unlike(values: np.ndarray, placeholder) -> np.ndarray:
    """Which of an object array's values are booleans, where ``placeholder`` is not.

    False == 0 and True == 1, but a boolean cell does not hold the number
    that marks missing cells.
    """
    if isinstance(placeholder, bool | np.bool_):
        return np.zeros(values.shape, dtype=bool)
    return booleans_among(values)
