"""Every family a column can have, by the ``likelihood`` name that picks it."""

from __future__ import annotations

from ._inflated import InflatedFamily
from ._likelihoods import FAMILIES, CategoricalFamily, Family

COLUMN_FAMILIES: dict[str, tuple[type[Family], dict]] = FAMILIES | {
    CategoricalFamily.name: (CategoricalFamily, {}),
    "inflated_gaussian": (InflatedFamily, {"noise": "normal", "variance": "learned"}),
}
"""Every family a column can have: ``FAMILIES``, and those that take each
column's levels or atoms from a table's dense columns."""


def family_class(name: str) -> type[Family]:
    """The class of the family that ``likelihood=name`` picks."""
    return COLUMN_FAMILIES[name][0]
