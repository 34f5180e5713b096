"""sample(marginals="training"): numbers follow their training distributions."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from skvae import _marginals
from skvae._marginals import MarginalMap, weighted_quantiles


def spiked_table(n_rows=1_000, seed=0):
    """An integer column 90 % at 0 with a long tail, a number, and levels."""
    rng = np.random.RandomState(seed)
    amount = np.where(rng.rand(n_rows) < 0.9, 0, rng.exponential(1_000, n_rows))
    return pd.DataFrame(
        {
            "amount": amount.round().astype(int),
            "score": rng.normal(size=n_rows) + amount / 1_000,
            "kind": rng.choice(["a", "b", "c"], n_rows),
        }
    )


def assert_map_describes(drawn, fitted, low=-np.inf, high=np.inf):
    """``fitted``'s quantiles of the model's draws are those of ``drawn``.

    ``drawn`` are sample's own draws; the tails are left out. ``low`` and
    ``high`` are the range sample clips a table's numbers to.
    """
    inner = slice(len(fitted.levels) // 10, -len(fitted.levels) // 10)
    expected = np.quantile(drawn, fitted.levels[inner], axis=0)
    quantiles = np.clip(fitted.drawn[inner], low, high)
    # the map drew 1,000 rows: its quantiles are off by 0.05 sd or so
    assert (abs(quantiles - expected) < 0.25 * drawn.std(axis=0)).all()


def ks(a, b) -> float:
    return stats.ks_2samp(np.asarray(a, float), np.asarray(b, float)).statistic


def test_weighted_quantiles_of_equal_weights_are_hazens():
    values = np.random.RandomState(0).exponential(size=101)
    levels = np.linspace(0, 1, 17)
    got = weighted_quantiles(values, np.ones(101), levels)
    assert_allclose(got, np.quantile(values, levels, method="hazen"))
    # only the weights' shares count
    assert_allclose(weighted_quantiles(values, np.full(101, 7.5), levels), got)


def test_weighted_quantiles_of_ties_agree_with_nearly_equal_weights():
    # equal weights take a plain sort; unequal ones the weighted path
    values = np.random.RandomState(0).randint(0, 5, size=200).astype(float)
    levels = np.linspace(0, 1, 33)
    nearly_equal = np.ones(200)
    nearly_equal[7] += 1e-9
    assert_allclose(
        weighted_quantiles(values, np.ones(200), levels),
        weighted_quantiles(values, nearly_equal, levels),
        atol=1e-6,
    )


def test_weighted_quantiles_follow_the_weights():
    values = np.array([0.0, 1.0])
    # 0 holds 90 % of the weight: the quantiles up to its middle (0.45) are 0
    got = weighted_quantiles(values, np.array([9.0, 1.0]), np.array([0.0, 0.45, 1.0]))
    assert_array_equal(got, [0.0, 0.0, 1.0])
    equal = weighted_quantiles(values, np.ones(2), np.array([0.45]))
    assert equal[0] > 0.1


def test_weighted_quantiles_of_weights_near_float64s_limit():
    got = weighted_quantiles(np.array([0.0, 1.0]), np.full(2, 1e308), np.array([0.5]))
    assert_allclose(got, [0.5])


@pytest.mark.short_fits
def test_generated_numbers_follow_the_training_distribution(make_vae):
    table = spiked_table()
    vae = make_vae(max_epochs=30).fit(table)
    mapped = vae.sample(2_000, random_state=1)
    drawn = vae.sample(2_000, random_state=1, marginals="model")
    for column in ("amount", "score"):
        assert ks(mapped[column], table[column]) < 0.06
    # the model's own draws smooth the spike at 0 away; those of the normal
    # score follow its training distribution without the map
    assert ks(drawn["amount"], table["amount"]) > 0.3
    assert abs((mapped["amount"] == 0).mean() - (table["amount"] == 0).mean()) < 0.03
    # dtypes, levels and the levels' draws are those of the model's rows
    assert mapped.dtypes.equals(table.dtypes)
    assert_array_equal(mapped["kind"], drawn["kind"])


@pytest.mark.short_fits
def test_the_map_keeps_the_order_of_each_columns_draws(make_vae, X):
    vae = make_vae(max_epochs=10).fit(X)
    drawn = vae.sample(500, random_state=3, marginals="model")
    mapped = vae.sample(500, random_state=3)
    assert not np.allclose(mapped, drawn)
    for j in range(X.shape[1]):
        order = np.argsort(drawn[:, j])
        assert (np.diff(mapped[order, j]) >= 0).all()
        assert X[:, j].min() <= mapped[:, j].min()
        assert mapped[:, j].max() <= X[:, j].max()


@pytest.mark.short_fits
def test_means_are_not_mapped(make_vae, X):
    vae = make_vae(max_epochs=5).fit(X)
    assert_array_equal(
        vae.sample(50, return_mean=True),
        vae.sample(50, return_mean=True, marginals="model"),
    )


def grouped_table(n_rows=1_200, seed=0):
    """An amount whose distribution depends on ``group``: a spike at 0 in
    ``"x"``, a bump far from 0 in ``"y"``; and ``"rare"`` in 30 rows."""
    rng = np.random.RandomState(seed)
    group = np.where(rng.rand(n_rows) < 0.5, "x", "y").astype(object)
    group[:30] = "rare"
    spiked = np.where(rng.rand(n_rows) < 0.8, 0.0, rng.exponential(5.0, n_rows))
    amount = np.where(group == "y", 20.0 + rng.normal(size=n_rows), spiked)
    return pd.DataFrame(
        {"amount": amount, "other": rng.normal(size=n_rows), "group": group}
    )


@pytest.mark.short_fits
def test_a_conditional_model_maps_each_value_of_its_conditions_to_its_rows(
    make_vae,
):
    # before: conditional models were not mapped; one map of every row
    # would give each group the mixture of both
    table = grouped_table()
    vae = make_vae(max_epochs=10, condition_on="group").fit(table)
    for group in ("x", "y"):
        real = table.loc[table["group"] == group, "amount"]
        conditions = {"group": group}
        mapped = vae.sample(3_000, conditions=conditions, random_state=0)
        drawn = vae.sample(
            3_000, conditions=conditions, random_state=0, marginals="model"
        )
        assert ks(mapped["amount"], real) < 0.06
        assert ks(mapped["amount"], real) < ks(drawn["amount"], real)
        assert ks(mapped["amount"], table["amount"]) > 0.3
        # each column's draws keep their order
        assert stats.spearmanr(mapped["other"], drawn["other"]).statistic > 0.999
    assert (vae.sample(2_000, conditions={"group": "x"})["amount"] == 0).mean() > 0.7


@pytest.mark.short_fits
def test_values_of_too_few_rows_and_numeric_conditions_come_as_drawn(make_vae):
    table = grouped_table()
    vae = make_vae(max_epochs=3, condition_on="group").fit(table)
    # a row per condition, each mapped by its own value's map, or not at all
    conditions = pd.DataFrame({"group": ["rare", "x", "y"] * 100})
    mapped = vae.sample(300, conditions=conditions, random_state=0)
    drawn = vae.sample(300, conditions=conditions, random_state=0, marginals="model")
    rare = (conditions["group"] == "rare").to_numpy()
    assert_array_equal(mapped[rare], drawn[rare])  # 30 training rows: no map
    assert (mapped.loc[~rare, "other"] != drawn.loc[~rare, "other"]).all()
    numeric = make_vae(max_epochs=3, condition_on="other").fit(table)
    assert numeric._marginal_map is None  # every value its own
    on_other = {"other": 0.5}
    assert_array_equal(
        numeric.sample(50, conditions=on_other, random_state=0),
        numeric.sample(50, conditions=on_other, random_state=0, marginals="model"),
    )


@pytest.mark.short_fits
@pytest.mark.parametrize("training", ["float32", "float32 condition", "stream"])
def test_a_numeric_conditions_values_find_their_maps(make_vae, training):
    # before: a stream's rows and float32 input encode the condition in
    # float32, sample in float64, and no value found its map
    rng = np.random.RandomState(0)
    year = np.repeat([2019, 2020, 2021], 200)
    table = pd.DataFrame(
        {"amount": rng.exponential(size=600) + year - 2019, "year": year}
    )
    vae = make_vae(max_epochs=3, condition_on="year")
    if training == "float32":
        vae.fit(table.astype({"amount": np.float32}))
    elif training == "float32 condition":  # standardised in float32
        vae.fit(table.astype({"year": np.float32}))
    else:
        shuffled = table.sample(frac=1, random_state=0)
        for start in (0, 200, 400):
            vae.partial_fit(shuffled.iloc[start : start + 200])
    for value in (2019, 2020, 2021):
        conditions = {"year": value}
        mapped = vae.sample(50, conditions=conditions, random_state=0)
        drawn = vae.sample(50, conditions=conditions, random_state=0, marginals="model")
        assert (mapped["amount"] != drawn["amount"]).all()


@pytest.mark.short_fits
def test_a_conditional_maps_draws_are_those_of_sample_under_its_value(make_vae):
    table = grouped_table()
    vae = make_vae(max_epochs=10, condition_on="group").fit(table)
    assert len(vae._marginal_map.maps) == 2  # "x" and "y"; "rare" has 30 rows
    for group, encoded in [("x", [0.0, 1.0, 0.0]), ("y", [0.0, 0.0, 1.0])]:
        fitted = vae._marginal_map.map_for(np.array(encoded))
        drawn = vae.sample(
            20_000, conditions={"group": group}, random_state=1, marginals="model"
        )[["amount", "other"]].to_numpy()[:, fitted.columns]
        # sample clips a table's numbers to their training range
        columns = table[["amount", "other"]].to_numpy()[:, fitted.columns]
        assert_map_describes(drawn, fitted, columns.min(0), columns.max(0))


@pytest.mark.short_fits
def test_the_map_reads_observed_cells_by_their_weights(make_vae):
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=600), rng.uniform(10, 11, size=600)])
    X[::2, 1] = np.nan  # half of the second column missing
    heavy = X[:, 0] > 0
    weight = np.where(heavy, 4.0, 1.0)
    vae = make_vae(max_epochs=10).fit(X, sample_weight=weight)
    rows = vae.sample(4_000, random_state=0)
    # the share of draws above 0 is the weight's (4 / 5), not the rows' (1 / 2)
    assert abs((rows[:, 0] > 0).mean() - 0.8) < 0.04
    assert (rows[:, 1] >= 10).all() and (rows[:, 1] <= 11).all()


@pytest.mark.short_fits
def test_dense_and_sparse_rows_give_the_same_map(make_vae):
    rng = np.random.RandomState(0)
    X = rng.exponential(size=(200, 4)) * (rng.rand(200, 4) < 0.5)
    X[3, 1] = np.nan  # a stored NaN is missing, an implicit zero a zero
    dense = make_vae(max_epochs=3).fit(X)._marginal_map
    sparse = make_vae(max_epochs=3).fit(sp.csr_matrix(X))._marginal_map
    assert_allclose(sparse.training, dense.training)
    assert dense.training[:, 0].min() == 0.0


@pytest.mark.short_fits
def test_a_stream_maps_to_every_row_it_trained_on(make_vae):
    rng = np.random.RandomState(0)
    vae = make_vae(max_epochs=3)
    vae.partial_fit(rng.normal(0.0, 1.0, size=(500, 3)))
    first = vae._marginal_map
    vae.partial_fit(rng.normal(10.0, 1.0, size=(500, 3)))
    assert vae._marginal_map is not first
    rows = vae.sample(2_000, random_state=0)
    # the sample of the stream's rows holds both chunks, half each
    assert abs((rows > 5).mean() - 0.5) < 0.1


def test_a_map_leaves_columns_without_observed_cells_as_drawn():
    X = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]])
    drawn = np.random.RandomState(0).normal(size=(1_000, 2))
    fitted = MarginalMap.fit(
        X, np.ones(3), np.array([0, 1]), lambda n, mapped: drawn[:n, mapped]
    )
    assert_array_equal(fitted.columns, [0])
    rows = fitted.apply(drawn[:5].copy(), np.random.default_rng(0))
    assert_array_equal(rows[:, 1], drawn[:5, 1])
    assert ((rows[:, 0] >= 1) & (rows[:, 0] <= 3)).all()
    assert MarginalMap.fit(X[:, 1:], np.ones(3), np.array([0]), None) is None


def test_draws_that_tie_take_levels_across_their_tie():
    # a model whose draws of a column take three values, as float32 draws do
    # where a column's spread is small beside its mean
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3_000, 1))
    drawn = rng.choice([-1.0, 0.0, 1.0], size=(3_000, 1), p=[0.25, 0.5, 0.25])
    fitted = MarginalMap.fit(X, np.ones(3_000), np.array([0]), lambda n, m: drawn)
    mapped = fitted.apply(drawn.copy(), rng)
    # before: each draw took the highest level of its tie (mean 0.87)
    assert abs(mapped.mean()) < 0.05
    assert ks(mapped[:, 0], X[:, 0]) < 0.05


def test_fits_draw_only_the_mapped_columns_and_rows_as_many_as_they_read():
    asked = []

    def draw(n_rows, mapped):
        asked.append((n_rows, list(mapped)))
        return np.random.default_rng(0).normal(size=(n_rows, len(mapped)))

    X = np.random.default_rng(1).normal(size=(50_000, 3))
    wide = MarginalMap.fit(X, np.ones(50_000), np.array([0, 2]), draw)
    MarginalMap.fit(X[:2_000], np.ones(2_000), np.array([1]), draw)
    few = MarginalMap.fit(X[:10], np.ones(10), np.array([1]), draw)
    assert asked == [(10_000, [0, 2]), (2_000, [1]), (1_000, [1])]
    # no more quantiles than training rows
    assert len(wide.levels) == 1_000 and len(few.levels) == 10
    assert few.training.shape == few.drawn.shape == (10, 1)


@pytest.mark.short_fits
def test_marginals_must_be_named(make_vae, X):
    vae = make_vae(max_epochs=1).fit(X[:50])
    with pytest.raises(ValueError, match="'marginals' parameter of sample must be"):
        vae.sample(3, marginals="data")
    with pytest.raises(ValueError, match="'marginals' parameter of sample must be"):
        vae.sample(3, marginals=["model"])
    # the switches beside it are booleans too
    with pytest.raises(ValueError, match="'return_mean' parameter of sample must be"):
        vae.sample(3, return_mean="no")
    with pytest.raises(ValueError, match="'missing_cells' parameter of sample must"):
        vae.sample(3, missing_cells=1)


@pytest.mark.short_fits
def test_the_maps_draws_are_those_of_sample(make_vae, X):
    # the map's quantiles of the model's draws describe sample's own draws
    vae = make_vae(max_epochs=10).fit(X)
    fitted = vae._marginal_map
    drawn = vae.sample(20_000, random_state=1, marginals="model")[:, fitted.columns]
    assert_map_describes(drawn, fitted)


@pytest.mark.short_fits
def test_the_likelihoods_draws_are_not_the_latent_draws(make_vae):
    # as many columns as latent dimensions: drawn from one stream, each row's
    # noise would be its code's draws again
    X = np.random.RandomState(0).normal(size=(500, 2))
    vae = make_vae(latent_dim=2, latent_prior="normal", max_epochs=5).fit(X)
    module = vae.module_
    (family,) = module.likelihood.families
    spread = family.distribution(module.decoder(torch.zeros(1, 2))).scale

    def codes_and_noise(z, conditions=None):
        return torch.cat(
            [z, (module.decode_sample(z) - module.decode_mean(z)) / spread], 1
        )

    drawn = vae._decoded_draws(1_000, 0, codes_and_noise)
    codes, noise = drawn[:, :2], drawn[:, 2:]
    assert np.abs(np.corrcoef(codes.T, noise.T)[:2, 2:]).max() < 0.15


def test_columns_sorted_together_give_each_columns_quantiles(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    X[rng.rand(300, 5) < 0.2] = np.nan
    X[:, 3] = np.nan  # nothing observed: no quantiles
    levels = np.linspace(0, 1, 33)
    monkeypatch.setattr(_marginals, "SORTED_VALUES", 600)  # two columns at once
    got = _marginals._training_quantiles(X, np.ones(300), np.arange(5), levels)
    assert list(got) == [0, 1, 2, 4]
    for j, quantiles in got.items():
        observed = X[:, j][~np.isnan(X[:, j])].astype(np.float64)
        assert_array_equal(
            quantiles, weighted_quantiles(observed, np.ones(observed.size), levels)
        )
