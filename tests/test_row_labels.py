"""Messages name a row by its position, and a DataFrame's row by its index label too."""

import numpy as np
import pandas as pd
import pytest

from skvae import VAEImputer, VAETransformer
from skvae._data import row_namer

QUICK = dict(latent_dim=2, hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
LABELS = [f"u{i}" for i in range(40)]


@pytest.fixture
def frame():
    rng = np.random.RandomState(0)
    values = rng.randn(40, 2) @ rng.randn(2, 4)
    return pd.DataFrame(values, columns=list("abcd"), index=LABELS)


def _with_cell(frame, row, column, value):
    frame = frame.copy()
    frame.iloc[row, column] = value
    return frame


@pytest.mark.parametrize(
    "rows, position, name",
    [
        (np.zeros((4, 2)), 1, "1"),
        (pd.DataFrame(np.zeros((4, 2))), 1, "1"),  # labels are the positions
        (pd.DataFrame(np.zeros((4, 2))).iloc[2:], 1, "1 (index 3)"),
        (pd.DataFrame(np.zeros((2, 2)), index=["a", "b"]), 1, "1 (index 'b')"),
        # a NumPy label as the value it holds, not np.int64(7)
        (pd.DataFrame(np.zeros((2, 2)), index=np.array([5, 7])), 1, "1 (index 7)"),
        (pd.Series([1.0, 2.0], index=["a", "b"]), 0, "0 (index 'a')"),
        # labels 0, 1, ... of another dtype are the positions too
        (pd.DataFrame(np.zeros((2, 2)), index=pd.array([0, 1], "Int64")), 1, "1"),
        # a label that is the position names the row X.iloc does; others do not
        (pd.DataFrame(np.zeros((3, 2)), index=[1, 0, 2]), 2, "2"),
        (pd.DataFrame(np.zeros((3, 2)), index=[1, 0, 2]), 0, "0 (index 1)"),
        (pd.DataFrame(np.zeros((2, 2)), index=[False, True]), 1, "1 (index True)"),
        (
            pd.DataFrame(
                np.zeros((2, 2)), index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2)])
            ),
            1,
            "1 (index ('a', 2))",
        ),
    ],
)
def test_row_namer_adds_the_label_where_it_is_not_the_position(rows, position, name):
    assert row_namer(rows)(position) == name


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "change, message",
    [
        (lambda X: _with_cell(X, 3, 1, np.inf), "holds inf in row 3 \\(index 'u3'\\)"),
        (
            lambda X: _with_cell(X, 4, 2, 1e39),
            "holds 1e\\+39 in row 4 \\(index 'u4'\\), beyond",
        ),
        (
            lambda X: _with_cell(X, 5, slice(None), np.nan),
            "Row 5 \\(index 'u5'\\) of X has no observed cell",
        ),
    ],
)
def test_fit_and_transform_name_the_row_of_a_frame_by_its_label(frame, change, message):
    with pytest.raises(ValueError, match=message):
        VAETransformer(**QUICK).fit(change(frame))
    vae = VAETransformer(**QUICK).fit(frame)
    with pytest.raises(ValueError, match=message):
        vae.transform(change(frame))
    # the same rows as an array: their positions alone
    vae = VAETransformer(**QUICK).fit(frame.to_numpy())
    with pytest.raises(ValueError, match=message.split(" \\(index")[0]) as error:
        vae.transform(change(frame).to_numpy())
    assert "(index" not in str(error.value)


@pytest.mark.short_fits
def test_a_sliced_frame_names_its_rows_by_position_and_label(frame):
    vae = VAETransformer(**QUICK).fit(frame)
    sliced = _with_cell(frame, 12, 0, np.inf).iloc[10:]
    with pytest.raises(ValueError, match="in row 2 \\(index 'u12'\\)"):
        vae.transform(sliced)


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "column, value, message",
    [
        ("s", "zz", "Column 's' holds 'zz' in row 2 \\(index 'u12'\\), which is not"),
        ("a", "x", "'a' of X holds 'x' in row 2 \\(index 'u12'\\), which is not a"),
        ("b", "yes", "'b' of X holds 'yes' in row 2 \\(index 'u12'\\), which is"),
    ],
)
def test_a_cell_a_table_cannot_read_is_named_by_row_and_label(
    frame, column, value, message
):
    # before: the column and the value, not the row
    table = frame.assign(s=["p", "q"] * 20, b=[True, False] * 20)
    vae = VAETransformer(**QUICK, likelihood="auto").fit(table)
    rows = table.astype({column: object})
    rows.loc["u12", column] = value
    with pytest.raises(ValueError, match=message):
        vae.transform(rows.iloc[10:])


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "likelihood, value, message",
    [
        ("poisson", -1.0, "non-negative counts, .* such as -1.0 in row 2 \\(index"),
        ("poisson", 2.5, "integer counts, .* such as 2.5 in row 2 \\(index 'u12'\\)"),
        ("bernoulli", 1.5, "in \\[0, 1\\], .* such as 1.5 in row 2 \\(index 'u12'\\)"),
    ],
)
def test_a_value_outside_the_familys_domain_is_named_by_row_and_label(
    frame, likelihood, value, message
):
    # before: the column and its range, not the row
    rows = (frame.abs() * 2).round().clip(0, 1 if likelihood == "bernoulli" else None)
    vae = VAETransformer(**QUICK, likelihood=likelihood).fit(rows)
    with pytest.raises(ValueError, match=message):
        vae.transform(_with_cell(rows, 12, 1, value).iloc[10:])
    with pytest.raises(ValueError, match=message.replace("row 2", "row 12")):
        VAETransformer(**QUICK, likelihood=likelihood).fit(
            _with_cell(rows, 12, 1, value)
        )


@pytest.mark.short_fits
def test_latent_points_of_a_frame_are_named_by_label(frame):
    vae = VAETransformer(**QUICK).fit(frame)
    latent = pd.DataFrame(vae.transform(frame), index=frame.index)
    with pytest.raises(ValueError, match="row 7 \\(index 'u7'\\) of X is NaN"):
        vae.inverse_transform(_with_cell(latent, 7, 0, np.nan))
    with pytest.raises(ValueError, match="row 7 \\(index 'u7'\\) of X holds 1e\\+39"):
        vae.inverse_transform(_with_cell(latent, 7, 1, 1e39))


@pytest.mark.short_fits
def test_conditions_of_a_frame_are_named_by_label(frame):
    grouped = frame.assign(group=["x", "y"] * 20)
    vae = VAETransformer(**QUICK, condition_on="group").fit(grouped)
    holed = grouped.copy()
    holed.loc["u3", "group"] = None
    with pytest.raises(ValueError, match="missing in row 3 \\(index 'u3'\\)"):
        vae.transform(holed)
    with pytest.raises(ValueError, match="is 'z' in row 1 \\(index 'u1'\\), a level"):
        vae.transform(_with_cell(grouped, 1, 4, "z"))
    latent = vae.transform(grouped.head(3))
    conditions = pd.DataFrame({"group": ["x", "y", "w"]}, index=["p", "q", "r"])
    with pytest.raises(ValueError, match="is 'w' in row 2 \\(index 'r'\\)"):
        vae.inverse_transform(latent, conditions=conditions)


def test_fit_names_a_condition_beyond_float32_by_label(frame):
    dosed = frame.assign(dose=np.linspace(0.0, 1.0, 40))
    dosed.loc["u2", "dose"] = np.inf
    with pytest.raises(ValueError, match="'dose' is inf in row 2 \\(index 'u2'\\); a"):
        VAETransformer(**QUICK, condition_on="dose").fit(dosed)


@pytest.mark.short_fits
def test_transform_names_a_row_the_encoder_overflows_on_by_label(
    frame, overflow_third_row
):
    vae = VAETransformer(**QUICK).fit(frame)
    overflow_third_row("posterior_mean", float("inf"))
    with pytest.raises(ValueError, match="Row 2 \\(index 'u2'\\) of X lies so far"):
        vae.transform(frame.head(4))


@pytest.mark.short_fits
def test_a_ranking_score_names_a_row_of_a_frame_by_label():
    rng = np.random.RandomState(0)
    clicks = pd.DataFrame(
        (rng.rand(60, 8) < 0.4).astype(float), index=np.arange(100, 160)
    )
    vae = VAETransformer(**QUICK, early_stopping=True, scoring="ndcg@3")
    with pytest.raises(ValueError, match="holds -1.0 in row 2 \\(index 102\\)"):
        vae.fit(_with_cell(clicks, 2, 3, -1.0))


@pytest.mark.short_fits
def test_a_ranking_score_names_a_row_by_label_past_rows_of_weight_0():
    rng = np.random.RandomState(0)
    clicks = pd.DataFrame(
        (rng.rand(60, 8) < 0.4).astype(float), index=np.arange(100, 160)
    )
    weights = np.ones(len(clicks))
    weights[:2] = 0  # left out before the check: row 3 is the second row kept
    vae = VAETransformer(**QUICK, early_stopping=True, scoring="ndcg@3")
    with pytest.raises(ValueError, match="holds -1.0 in row 3 \\(index 103\\)"):
        vae.fit(_with_cell(clicks, 3, 3, -1.0), sample_weight=weights)


@pytest.mark.short_fits
def test_the_imputer_names_rows_by_label_in_columns_it_leaves_out(frame):
    holed = frame.assign(e=np.nan)  # no observed cell: left out of the model
    holed.iloc[0, 0] = np.nan
    with pytest.warns(UserWarning, match="Skipping features without any observed"):
        imputer = VAEImputer(**QUICK).fit(holed)
    with pytest.raises(
        ValueError, match="'e' of X holds inf in row 2 \\(index 'u7'\\)"
    ):
        imputer.transform(_with_cell(holed, 7, 4, np.inf).iloc[5:])


@pytest.mark.short_fits
def test_the_imputer_names_rows_of_sparse_columns_by_label(frame):
    holed = frame.mask(np.random.RandomState(1).rand(*frame.shape) < 0.2)
    # one family for every column: sparse columns stay sparse
    imputer = VAEImputer(**QUICK, likelihood="gaussian").fit(holed)
    sparse = _with_cell(holed, 3, 1, np.inf).astype(pd.SparseDtype(float, 0.0))
    with pytest.raises(ValueError, match="holds inf in row 3 \\(index 'u3'\\)"):
        imputer.transform(sparse)


@pytest.mark.short_fits
def test_the_imputer_names_a_row_it_cannot_fill_by_label(frame, overflow_third_row):
    holed = frame.mask(np.random.RandomState(1).rand(*frame.shape) < 0.2)
    imputer = VAEImputer(**QUICK).fit(holed)
    overflow_third_row("conditional_mean")
    rows = holed[holed.isna().any(axis=1)].head(4)
    with pytest.raises(ValueError, match=f"Row 2 \\(index '{rows.index[2]}'\\) of X"):
        imputer.transform(rows)
