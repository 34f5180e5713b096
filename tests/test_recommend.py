"""recommend: top-k columns of each row from the decoder, in batches."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context


@pytest.fixture
def clicks(binary_X):
    return binary_X


@pytest.fixture
def recommender(clicks, make_vae):
    return make_vae(likelihood="multinomial").fit(clicks)


def brute_force(model, X, n, filter_seen):
    """The top ``n`` of the full rows-by-items array of decoder means."""
    scores = model.inverse_transform(model.transform(X))
    if filter_seen:
        scores = np.where(X != 0, -np.inf, scores)
    items = np.argsort(-scores, axis=1, kind="stable")[:, :n]
    return items, np.take_along_axis(scores, items, axis=1)


@pytest.mark.parametrize("filter_seen", [True, False])
def test_the_top_items_of_the_decoder_mean(recommender, clicks, filter_seen):
    items, scores = recommender.recommend(clicks, n=4, filter_seen=filter_seen)
    expected_items, expected_scores = brute_force(recommender, clicks, 4, filter_seen)
    assert items.shape == scores.shape == (len(clicks), 4)
    assert_allclose(scores, expected_scores, rtol=1e-5)
    ranked = np.isfinite(expected_scores)  # seen items tie at -inf, in any order
    assert_array_equal(items[ranked], expected_items[ranked])
    assert (np.diff(scores, axis=1) <= 0).all()


def test_seen_items_are_left_out(recommender, clicks):
    items, scores = recommender.recommend(clicks, n=5)
    recommended = np.take_along_axis(clicks, items, axis=1)
    assert (recommended[np.isfinite(scores)] == 0).all()
    assert np.isfinite(scores).sum() == np.minimum(5, (clicks == 0).sum(1)).sum()


def test_sparse_rows_and_small_batches_give_the_same_lists(recommender, clicks):
    items, scores = recommender.recommend(clicks, n=3)
    with config_context(working_memory=0.01):  # batches of a few rows
        sparse_items, sparse_scores = recommender.recommend(sp.csr_matrix(clicks), n=3)
    assert_array_equal(sparse_items, items)
    assert_allclose(sparse_scores, scores, rtol=1e-6)


def test_a_row_with_few_unseen_items_gets_them_all_then_minus_infinity(
    recommender, clicks
):
    row = np.ones((1, clicks.shape[1]))
    row[0, [2, 7]] = 0
    items, scores = recommender.recommend(row, n=4)
    assert set(items[0, :2]) == {2, 7}
    assert np.isfinite(scores[0, :2]).all() and np.isneginf(scores[0, 2:]).all()


def test_column_names_come_back_for_a_dataframe(clicks, make_vae):
    frame = pd.DataFrame(clicks, columns=[f"film {j}" for j in range(clicks.shape[1])])
    items, _ = make_vae(likelihood="bernoulli").fit(frame).recommend(frame[:3], n=2)
    # The same values in an array give the same model, which returns indices.
    on_array = make_vae(likelihood="bernoulli").fit(clicks)
    indices, _ = on_array.recommend(clicks[:3], n=2)
    assert_array_equal(items, frame.columns.to_numpy()[indices])


@pytest.mark.parametrize("n", [0, 13, 2.0, True, "3"])
def test_n_outside_the_items_is_refused(recommender, clicks, n):
    with pytest.raises(ValueError, match="n must be an integer from 1 to the 12"):
        recommender.recommend(clicks, n=n)


def test_rows_of_another_width_or_negative_counts_are_refused(recommender, clicks):
    with pytest.raises(ValueError, match="12 features"):
        recommender.recommend(clicks[:, :5])
    negative = clicks.copy()
    negative[0, 3] = -1
    with pytest.raises(ValueError, match="non-negative counts"):
        recommender.recommend(negative)
