"""recommend: top-k columns of each row from the decoder, in batches."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.utils._param_validation import InvalidParameterError


@pytest.fixture
def clicks(binary_X):
    return binary_X


@pytest.fixture
def recommender(clicks, make_vae):
    return make_vae(likelihood="multinomial").fit(clicks)


def brute_force(model, X, n, filter_seen):
    """The top ``n`` of the full rows-by-items array of decoder means."""
    scores = model.inverse_transform(model.transform(X))
    if model.likelihood == "multinomial":  # its mean is probability x total
        scores = scores / model.module_.likelihood.families[0].total_count.item()
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


def test_multinomial_scores_are_the_softmax_probabilities(recommender, clicks):
    n_items = clicks.shape[1]
    _, scores = recommender.recommend(clicks[:5], n=n_items, filter_seen=False)
    assert_allclose(scores.sum(1), 1.0, rtol=1e-5)


def test_seen_items_are_left_out(recommender, clicks):
    items, scores = recommender.recommend(clicks, n=5)
    listed = items >= 0
    rows = np.broadcast_to(np.arange(len(clicks))[:, None], items.shape)
    assert (clicks[rows[listed], items[listed]] == 0).all()
    assert_array_equal(listed, np.isfinite(scores))
    assert listed.sum() == np.minimum(5, (clicks == 0).sum(1)).sum()


@pytest.mark.parametrize("to_matrix", [np.asarray, sp.csr_matrix])
def test_a_missing_cell_is_not_a_seen_item(clicks, make_vae, to_matrix):
    holed = clicks.copy()
    row = int(np.argmax((clicks != 0).sum(1)))
    held = np.flatnonzero(clicks[row])
    holed[row, held] = np.nan  # the row's items all unknown now
    recommender = make_vae(likelihood="bernoulli").fit(holed)
    n_items = clicks.shape[1]
    items, scores = recommender.recommend(to_matrix(holed[[row]]), n=n_items)
    assert np.isfinite(scores).all()  # every item ranked, the unknown ones too
    assert set(items[0]) == set(range(n_items))
    items, _ = recommender.recommend(to_matrix(clicks[[row]]), n=n_items)
    assert not set(items[0]) & set(held)


def test_sparse_rows_and_small_batches_give_the_same_lists(recommender, clicks):
    items, scores = recommender.recommend(clicks, n=3)
    with config_context(working_memory=0.01):  # batches of a few rows
        sparse_items, sparse_scores = recommender.recommend(sp.csr_matrix(clicks), n=3)
    assert_array_equal(sparse_items, items)
    assert_allclose(sparse_scores, scores, rtol=1e-6)


def test_a_stored_zero_is_not_a_seen_item(recommender, clicks):
    rows = sp.coo_matrix(clicks[:6])
    unseen_row, unseen_item = np.argwhere(clicks[:6] == 0)[::3].T
    with_zeros = sp.csr_matrix(
        (
            np.r_[rows.data, np.zeros(len(unseen_row))],
            (np.r_[rows.row, unseen_row], np.r_[rows.col, unseen_item]),
        ),
        shape=rows.shape,
    )
    assert with_zeros.nnz == rows.nnz + len(unseen_row)  # the zeros are stored
    items, scores = recommender.recommend(clicks[:6], n=5)
    stored_items, stored_scores = recommender.recommend(with_zeros, n=5)
    assert_array_equal(stored_items, items)
    assert_allclose(stored_scores, scores, rtol=1e-6)


def test_a_row_with_few_unseen_items_gets_them_all_then_no_item(
    recommender, clicks, make_vae
):
    row = np.ones((1, clicks.shape[1]))
    row[0, [2, 7]] = 0
    items, scores = recommender.recommend(row, n=4)
    assert set(items[0, :2]) == {2, 7}
    assert items[0, 2:].tolist() == [-1, -1]  # never an item the row holds
    assert np.isfinite(scores[0, :2]).all() and np.isneginf(scores[0, 2:]).all()
    names = [f"film {j}" for j in range(clicks.shape[1])]
    named = make_vae(likelihood="multinomial").fit(pd.DataFrame(clicks, columns=names))
    items, _ = named.recommend(pd.DataFrame(row, columns=names), n=4)
    assert set(items[0, :2]) == {"film 2", "film 7"}
    assert items[0, 2:].tolist() == [None, None]


def test_rows_holding_every_item_are_warned_about(recommender, clicks):
    full = np.ones((3, clicks.shape[1]))  # rows that hold every item
    with pytest.warns(UserWarning, match="no item to recommend: every item"):
        items, _ = recommender.recommend(full, n=2)
    assert (items == -1).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        items, _ = recommender.recommend(full, n=2, filter_seen=False)
    assert (items >= 0).all()


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


@pytest.mark.parametrize("filter_seen", ["False", None, 1, [True]])
def test_filter_seen_must_be_a_boolean(recommender, clicks, filter_seen):
    # before: any truthy value, the string "False" too, filtered
    with pytest.raises(ValueError, match="filter_seen must be True or False"):
        recommender.recommend(clicks, filter_seen=filter_seen)
    recommender.recommend(clicks[:2], filter_seen=np.False_)


def test_rows_of_another_width_or_negative_counts_are_refused(recommender, clicks):
    with pytest.raises(ValueError, match="12 features"):
        recommender.recommend(clicks[:, :5])
    # the width is checked before n, which it bounds (there are 12 items)
    with pytest.raises(ValueError, match="has 8 features"):
        recommender.recommend(clicks[:, :8], n=13)
    negative = clicks.copy()
    negative[0, 3] = -1
    with pytest.raises(ValueError, match="non-negative counts"):
        recommender.recommend(negative)


@pytest.mark.short_fits
def test_a_conditional_model_is_refused(clicks, make_vae):
    vae = make_vae(likelihood="bernoulli", condition_on=11, max_epochs=3).fit(clicks)
    with pytest.raises(ValueError, match="condition_on=11 is not supported"):
        vae.recommend(clicks[:2])


# ----------------------------------------------- refined posteriors (refine_steps)


def test_refining_raises_each_rows_elbo(recommender, clicks):
    module, device = recommender.module_, recommender.device_
    x = torch.as_tensor(clicks, dtype=torch.float32, device=device)
    noise = torch.randn(
        (50, module.latent_dim), generator=torch.Generator().manual_seed(0)
    ).to(device)
    draws = torch.randn(
        (2000, 1, module.latent_dim), generator=torch.Generator().manual_seed(1)
    ).to(device)
    with torch.no_grad():
        encoder = module._posterior_parameters(x)
        refined = module.refined_posterior(x, noise, beta=1.0)
        before, after = (
            module._elbo_terms_at(*q, x, draws).elbo().mean(0)
            for q in (encoder, refined)
        )
    assert (after > before).all()  # each row's by 0.07 nats or more here
    assert (after - before).mean() > 0.1  # 0.35 here


def test_refining_steps_take_no_gradient_of_the_network(
    recommender, clicks, monkeypatch
):
    # the fused sparse step's backward computed the last layer's weights'
    # gradient (as costly as the forward pass) for nothing; the network is
    # left as it was, for every thread (flags toggled on the shared module
    # were left off by two overlapping calls)
    import skvae._likelihoods

    fused = skvae._likelihoods.linear_sparse_log_prob
    layer_fixed = []

    def spied(layer, *args):
        layer_fixed.append(args[-1])
        return fused(layer, *args)

    monkeypatch.setattr(skvae._likelihoods, "linear_sparse_log_prob", spied)
    module = recommender.module_
    parameters = list(module.parameters())
    before = [parameter.detach().clone() for parameter in parameters]
    gradients = [parameter.grad for parameter in parameters]
    rows = sp.csr_matrix(clicks)
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(recommender.recommend, rows, 3, True, 3) for _ in "ab"]
        for call in calls:
            call.result()  # raises what the call raised
    assert layer_fixed and all(layer_fixed)
    for parameter, value, gradient in zip(parameters, before, gradients, strict=True):
        assert parameter.requires_grad and parameter.grad is gradient
        assert torch.equal(parameter, value)
    trained = recommender.partial_fit(clicks).module_  # a trained copy
    assert not torch.equal(trained.decoder[-1].weight, module.decoder[-1].weight)


def test_refining_checks_its_parameters_before_a_random_state_gives_a_seed(
    recommender, clicks
):
    # a bad thread count was found after the seed was drawn, and a bad
    # random_state gave NumPy's message, which does not name the parameter
    state = np.random.RandomState(0)
    recommender.set_params(random_state=state, n_threads=0)
    with pytest.raises(InvalidParameterError, match="'n_threads' parameter"):
        recommender.recommend(clicks, n=3, refine_steps=2)
    assert_array_equal(state.get_state()[1], np.random.RandomState(0).get_state()[1])
    assert state.get_state()[2] == np.random.RandomState(0).get_state()[2]
    recommender.set_params(random_state="0", n_threads=None)
    with pytest.raises(InvalidParameterError, match="'random_state' parameter"):
        recommender.recommend(clicks, n=3, refine_steps=2)


def test_a_failed_refinement_leaves_the_random_state_where_it_was(
    recommender, clicks, monkeypatch
):
    state = np.random.RandomState(0)
    recommender.set_params(random_state=state)

    def failing(*args):
        raise MemoryError("no room for the steps")

    monkeypatch.setattr(recommender.module_, "refined_posterior", failing)
    with pytest.raises(MemoryError, match="no room"):
        recommender.recommend(clicks, n=3, refine_steps=2)
    assert state.randint(2**31) == np.random.RandomState(0).randint(2**31)


def test_a_refined_row_does_not_depend_on_its_batch(recommender, clicks, monkeypatch):
    from skvae import _module

    monkeypatch.setattr(_module, "REFINING_DRAWS_CHUNK", 2)  # 5 steps: 3 chunks
    items, scores = recommender.recommend(clicks, n=3, refine_steps=5)
    with config_context(working_memory=0.01):  # batches of a few rows
        sparse_items, sparse_scores = recommender.recommend(
            sp.csr_matrix(clicks), n=3, refine_steps=5
        )
    assert_array_equal(sparse_items, items)
    assert_allclose(sparse_scores, scores, rtol=1e-5)
    one_items, one_scores = recommender.recommend(clicks[7:8], n=3, refine_steps=5)
    assert_array_equal(one_items[0], items[7])
    assert_allclose(one_scores[0], scores[7], rtol=1e-5)


def test_refined_lists_leave_seen_items_out_and_repeat_for_a_seed(recommender, clicks):
    items, scores = recommender.recommend(clicks, n=5, refine_steps=5)
    recommended = np.take_along_axis(clicks, items, axis=1)
    assert (recommended[np.isfinite(scores)] == 0).all()
    again, _ = recommender.recommend(clicks, n=5, refine_steps=5)
    assert_array_equal(again, items)
    unrefined, _ = recommender.recommend(clicks, n=5)
    assert (unrefined != items).any()


def test_refining_draws_are_made_as_the_steps_go(monkeypatch):
    # recommend made every step's draw at once: refine_steps=10**9 was killed
    # for memory before its first step
    from skvae import _module

    assert next(_module.refining_draws(10**15, 3, 0, "cpu")).shape == (3,)
    monkeypatch.setattr(_module, "REFINING_DRAWS_CHUNK", 4)
    draws = torch.stack(list(_module.refining_draws(10, 3, 0, "cpu")))
    assert draws.shape == (10, 3)
    one_call = torch.randn((4, 3), generator=torch.Generator().manual_seed(0))
    assert torch.equal(draws[:4], one_call)
    assert not torch.equal(draws[4:8], draws[:4])  # the generator goes on
    assert torch.equal(
        torch.stack(list(_module.refining_draws(10, 3, 0, "cpu"))), draws
    )


@pytest.mark.parametrize("steps", [-1, 2.0, True, "3"])
def test_refine_steps_must_be_a_non_negative_integer(recommender, clicks, steps):
    with pytest.raises(ValueError, match="refine_steps must be a non-negative integer"):
        recommender.recommend(clicks, refine_steps=steps)


@pytest.mark.parametrize("beta", [-5.0, None, "auto"])
def test_refinement_checks_a_kl_weight_set_since_fit(recommender, clicks, beta):
    # before: a negative weight ran silently, None and "auto" raised TypeErrors
    recommender.set_params(beta=beta)
    with pytest.raises(InvalidParameterError, match="'beta' parameter"):
        recommender.recommend(clicks, refine_steps=2)
    recommender.recommend(clicks)  # without refinement, beta is not read


# ------------------------------------------- early stopping on a ranking score


def reference_ranking(metric, k, scores, held_out):
    """NDCG@k or Recall@k of each row, written out with a loop."""
    values = []
    for row_scores, relevant in zip(scores, held_out, strict=True):
        top = np.argsort(-row_scores, kind="stable")[:k]
        hits = relevant[top].astype(float)
        n_relevant = min(k, relevant.sum())
        if metric == "recall":
            values.append(hits.sum() / n_relevant)
        else:
            discounts = 1 / np.log2(np.arange(2, k + 2))
            values.append((hits * discounts).sum() / discounts[:n_relevant].sum())
    return np.array(values)


@pytest.mark.parametrize("metric", ["ndcg", "recall"])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_ranking_scores_match_their_definitions(metric, k):
    import torch

    from skvae._ranking import ranking_scores

    rng = np.random.RandomState(k)
    scores = rng.normal(size=(50, 10))
    held_out = rng.rand(50, 10) < 0.3
    held_out[np.arange(50), rng.randint(10, size=50)] = True  # one or more each
    got = ranking_scores(
        metric, k, torch.as_tensor(scores), torch.as_tensor(held_out)
    ).numpy()
    assert_allclose(got, reference_ranking(metric, k, scores, held_out), rtol=1e-12)
    assert ((0 <= got) & (got <= 1)).all()


@pytest.mark.parametrize("scoring", ["ndcg@5", "recall@3"])
def test_early_stopping_follows_a_ranking_score(clicks, make_vae, scoring):
    params = dict(likelihood="multinomial", early_stopping=True, scoring=scoring)
    dense = make_vae(**params).fit(clicks)
    scores = np.array(dense.validation_scores_)
    assert ((0 <= scores) & (scores <= 1)).all() and scores.max() > 0
    assert dense.best_validation_score_ == max(dense.validation_scores_)
    sparse = make_vae(**params).fit(sp.csr_matrix(clicks))
    assert_allclose(sparse.validation_scores_, dense.validation_scores_, atol=1e-5)


def test_a_ranking_score_differs_from_the_elbo(clicks, make_vae):
    params = dict(likelihood="multinomial", early_stopping=True)
    elbo = make_vae(**params).fit(clicks)
    ndcg = make_vae(**params, scoring="ndcg@5").fit(clicks)
    assert elbo.validation_scores_[0] < 0 < ndcg.validation_scores_[0]


@pytest.mark.parametrize(
    "scoring, message",
    [
        ("ndcg", "'elbo', 'ndcg@k' or 'recall@k'"),
        ("recall@0", "'elbo', 'ndcg@k' or 'recall@k'"),
        ("ndcg@13", "top 13 items, but X has only 12 columns"),
    ],
)
def test_a_bad_scoring_is_refused_before_training(clicks, make_vae, scoring, message):
    vae = make_vae(likelihood="multinomial", early_stopping=True, scoring=scoring)
    with pytest.raises(ValueError, match=message):
        vae.fit(clicks)
    assert not hasattr(vae, "n_iter_")


@pytest.mark.short_fits
@pytest.mark.parametrize("family", ["categorical", "inflated_gaussian"])
def test_a_model_of_levels_or_atoms_is_refused(clicks, make_vae, family):
    frame = pd.DataFrame(clicks[:, :4], columns=list("abcd"))
    frame["colour"] = np.resize(["blue", "green", "red"], len(frame))
    likelihood = {"colour": "categorical"}
    if family == "inflated_gaussian":
        frame["colour"] = np.resize([0.0, 0.0, 1.5, 7.0], len(frame))
        likelihood = {"colour": family}
    vae = make_vae(likelihood=likelihood, max_epochs=2).fit(frame)
    # a level's code (0, 1, 2) was ranked as if it were the item's score
    with pytest.raises(ValueError, match=f"column 'colour' is '{family}'"):
        vae.recommend(frame, n=2)


def _with_cell(X, row, column, value):
    X = X.copy()
    X[row, column] = value
    return X


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    "change, message",
    [
        (lambda X: _with_cell(X, 2, 3, -1.0), "column 3 holds -1.0 in row 2"),
        (
            lambda X: _with_cell(X, 2, 4, np.nan),
            "column 4 holds a missing cell in row 2",
        ),
        # as Gaussian rows are: only held-out items could rank, every model scored 1
        (lambda X: X + 1, "every row of X holds every item"),
    ],
)
def test_a_ranking_score_refuses_what_is_not_implicit_feedback(
    clicks, make_vae, sparse, change, message
):
    X = change(clicks)
    vae = make_vae(early_stopping=True, scoring="ndcg@5")
    with pytest.raises(ValueError, match=message):
        vae.fit(sp.csr_matrix(X) if sparse else X)
    assert not hasattr(vae, "n_iter_")


def test_a_ranking_score_names_the_row_of_x_past_rows_of_weight_0(clicks, make_vae):
    X = _with_cell(clicks, 5, 3, -1.0)
    weights = np.ones(len(X))
    weights[:3] = 0  # left out before the check: row 5 was called row 2
    vae = make_vae(early_stopping=True, scoring="ndcg@5")
    with pytest.raises(ValueError, match="column 3 holds -1.0 in row 5"):
        vae.fit(X, sample_weight=weights)


def test_a_ranking_score_needs_rows_with_items_to_hold_out(recommender):
    from skvae._data import rows_of
    from skvae._ranking import RankingValidation

    empty_rows = rows_of(np.zeros((5, 12)), recommender.device_, None)
    validation = RankingValidation(empty_rows, 5, seed=0, metric="ndcg", k=5)
    with pytest.raises(ValueError, match="no held-out row with an item to hold out"):
        validation.score(recommender.module_)


@pytest.mark.short_fits
@pytest.mark.parametrize("family", ["categorical", "inflated_gaussian"])
def test_a_ranking_score_refuses_a_model_of_levels_or_atoms(family, make_vae):
    X = (np.random.RandomState(0).rand(100, 12) < 0.2).astype(float)
    vae = make_vae(likelihood=family, scoring="ndcg@5", early_stopping=True)
    with pytest.raises(ValueError, match=r"scoring='ndcg@5' ranks .* a level or a"):
        vae.fit(X.astype(str) if family == "categorical" else X)
    assert not hasattr(vae, "module_")


@pytest.mark.short_fits
def test_a_multinomial_block_beside_others_is_scored_by_its_probabilities(make_vae):
    X = (np.random.RandomState(0).rand(200, 12) < 0.3).astype(float)
    table = pd.DataFrame(X, columns=[f"i{j}" for j in range(12)])
    likelihood = dict.fromkeys(table.columns[:6], "multinomial")
    likelihood |= dict.fromkeys(table.columns[6:], "bernoulli")
    vae = make_vae(likelihood=likelihood, max_epochs=2).fit(table)
    items, scores = vae.recommend(table.iloc[:3], n=12, filter_seen=False)
    in_block = np.isin(items, table.columns[:6])
    assert_allclose((scores * in_block).sum(axis=1), 1.0, rtol=1e-5)
