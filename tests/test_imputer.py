"""VAEImputer: missing cells filled from the model, observed cells untouched."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.impute import SimpleImputer

from skvae import VAEImputer


@pytest.fixture
def correlated():
    """Five columns driven by one factor, a fifth of the cells missing."""
    rng = np.random.RandomState(0)
    factor = rng.normal(size=(400, 1))
    X = factor @ rng.normal(size=(1, 5)) + 0.2 * rng.normal(size=(400, 5))
    holes = rng.rand(*X.shape) < 0.2
    holes[holes.all(axis=1), 0] = False
    return X, np.where(holes, np.nan, X)


def make_imputer(**params):
    return VAEImputer(**{"hidden_layer_sizes": (32,), "random_state": 0, **params})


def test_observed_cells_come_back_bit_for_bit(correlated):
    X, holed = correlated
    filled = make_imputer().fit_transform(holed)
    observed = ~np.isnan(holed)
    assert_array_equal(filled[observed], holed[observed])
    assert np.isfinite(filled).all()


def test_missing_cells_are_closer_than_the_column_means(correlated):
    X, holed = correlated
    missing = np.isnan(holed)
    vae_error = np.mean((make_imputer().fit_transform(holed) - X)[missing] ** 2)
    mean_error = np.mean((SimpleImputer().fit_transform(holed) - X)[missing] ** 2)
    assert vae_error < 0.5 * mean_error


def test_a_table_comes_back_with_its_dtypes_and_levels():
    rng = np.random.RandomState(0)
    group = rng.choice(["a", "b"], size=300)
    size = np.where(group == "a", 3.0, -3.0) + rng.normal(size=300)
    table = pd.DataFrame({"size": size, "group": pd.Categorical(group)})
    holed = table.copy()
    holed.loc[:19, "group"] = np.nan
    holed.loc[20:39, "size"] = np.nan
    filled = make_imputer().fit(holed).transform(holed)
    assert (filled.dtypes == table.dtypes).all()
    assert filled.notna().all(axis=None)
    assert (filled.loc[:19, "group"] == table.loc[:19, "group"]).mean() > 0.9
    assert np.corrcoef(filled.loc[20:39, "size"], table.loc[20:39, "size"])[0, 1] > 0.5
    assert filled.loc[40:].equals(holed.loc[40:])


def test_feature_names_out_are_the_input_names(correlated):
    _, holed = correlated
    frame = pd.DataFrame(holed, columns=list("abcde"))
    imputer = make_imputer().fit(frame)
    assert list(imputer.get_feature_names_out()) == list("abcde")
