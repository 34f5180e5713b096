"""The caller's container, read as one that validation reads.

``computed`` reads a Dask DataFrame as the pandas one it stands for, a polars
DataFrame or Series as pandas, and a torch tensor as NumPy (or a SciPy CSR
matrix where sparse), before any validation; ``as_polars`` gives rows back
in polars to a model fitted on polars.
"""

from __future__ import annotations

import sys

import scipy.sparse as sp
import torch


def _is_dataframe(X) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


def computed(X):
    """``X`` in a container that validation reads by its columns or values.

    A Dask DataFrame computed into the pandas DataFrame it stands for
    (scikit-learn reads a Dask collection whole, through ``np.asarray``; a
    table's columns are read by their dtypes, which the pandas frame
    holds); a polars DataFrame as a pandas one (``_polars_as_pandas``) and a
    polars Series as a pandas one, a LazyFrame refused; a torch tensor as a
    NumPy array, or a sparse one as a CSR matrix, copied to the host if need
    be.
    """
    polars = sys.modules.get("polars")  # a polars object imported it
    if polars is not None:
        if isinstance(X, polars.LazyFrame):
            raise TypeError(
                "X is a polars LazyFrame, which holds no rows until collected: "
                "pass X.collect()."
            )
        if isinstance(X, polars.Series):
            return X.to_pandas()
        if isinstance(X, polars.DataFrame):
            return _polars_as_pandas(X, polars)
    dask = sys.modules.get("dask")  # a Dask collection imported it
    if dask is not None and _is_dataframe(X) and dask.is_dask_collection(X):
        return X.compute()
    if torch.is_tensor(X):
        return _tensor_as_array(X)
    return X


def _tensor_as_array(X):
    """A torch tensor as a NumPy array, or a SciPy CSR matrix where sparse.

    A tensor sparse in both dimensions (COO, CSR or another layout) keeps
    its stored values stored (an explicit NaN is a missing cell, as in
    SciPy's matrices); one of sparse rows of dense cells is read densely.
    Copied to the host if need be.
    """
    if X.layout == torch.strided:
        return X.numpy(force=True)
    if X.sparse_dim() != 2:
        return X.to_dense().numpy(force=True)
    coo = X.detach().to_sparse_coo().coalesce().cpu()
    rows, columns = coo.indices().numpy()
    return sp.csr_matrix((coo.values().numpy(), (rows, columns)), shape=tuple(X.shape))


def _polars_as_pandas(frame, polars):
    """A polars DataFrame as pandas, each column of the dtype pandas would give.

    ``to_pandas`` makes integers and booleans with nulls float64 and
    objects, and decimals objects: here pandas' nullable integers and
    booleans, and float64 for decimals, which the model reads as numbers.
    """
    frame = frame.with_columns(polars.col(polars.Decimal).cast(polars.Float64))
    converted = frame.to_pandas()
    for name, dtype in frame.schema.items():
        if frame[name].null_count() and (dtype.is_integer() or dtype == polars.Boolean):
            nullable = "boolean" if dtype == polars.Boolean else str(dtype)
            converted[name] = converted[name].astype(nullable)
    return converted


def _is_polars_frame(X) -> bool:
    polars = sys.modules.get("polars")  # a polars frame imported it
    return polars is not None and isinstance(X, polars.DataFrame)


def polars_enums(X) -> list | None:
    """The names of a polars DataFrame's ``Enum`` columns; None for other containers.

    Names, not dtypes: a model keeps them, and a pickle of polars dtypes would
    not load where polars is not installed.
    """
    if not _is_polars_frame(X):
        return None
    import polars

    return [name for name, dtype in X.schema.items() if isinstance(dtype, polars.Enum)]


def as_polars(frame, enums=()):
    """A pandas DataFrame as polars, the columns named in ``enums`` as ``Enum``.

    Each column takes the dtype polars gives pandas' (``category`` becomes
    ``Categorical``, ``Int64`` ``Int64``, NaN null); a ``category`` column
    named in ``enums`` (an ``Enum`` where the rows came from, which pandas
    reads as a ``category``) becomes the ``Enum`` of its categories: the
    training levels, and those of the rows given.
    """
    import pandas as pd
    import polars

    converted = polars.from_pandas(frame)
    casts = [
        polars.col(name).cast(polars.Enum(list(frame[name].cat.categories)))
        for name in enums
        if name in frame.columns and isinstance(frame[name].dtype, pd.CategoricalDtype)
    ]
    return converted.with_columns(casts) if casts else converted
