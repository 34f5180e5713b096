"""The training loop: stopping rules, warm starts, progress and reproducibility."""

import functools
import pickle
import warnings
from unittest import mock

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skvae import VAEImputer, VAEOutlierDetector, VAETransformer
from skvae._data import DenseRows
from skvae._likelihoods import VARIANCE_PRIOR_ROWS
from skvae._training import (
    Stopping,
    _drop_inputs,
    _trained_terms,
    kl_weight,
    most_likely_rows,
)


@pytest.mark.short_fits
def test_loss_curve_falls(X, make_vae):
    vae = make_vae(max_epochs=30, n_iter_no_change=100).fit(X)
    assert len(vae.loss_curve_) == vae.n_iter_ == 30
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    assert vae.best_loss_ == min(vae.loss_curve_)
    assert not hasattr(vae, "validation_scores_")


@pytest.mark.short_fits
def test_max_epochs_without_convergence_warns(X, make_vae):
    with pytest.warns(ConvergenceWarning, match="max_epochs=3"):
        make_vae(max_epochs=3).fit(X)


def test_stops_when_training_loss_stalls(X, make_vae):
    vae = make_vae(max_epochs=500, tol=1.0, n_iter_no_change=2).fit(X)
    assert vae.n_iter_ < 20


def test_max_epochs_past_64_bits_leaves_the_stopping_to_the_rule(X, make_vae):
    # before: the progress bar took len(range(...)), and raised OverflowError
    vae = make_vae(max_epochs=2**70, tol=1.0, n_iter_no_change=2).fit(X)
    assert vae.n_iter_ < 20


def test_early_stopping_keeps_the_best_epoch(X, make_vae):
    # tol=0 stops once the held-out score falls, so the best epoch is not the
    # last; a wide network on 60 rows overfits soon.
    vae = make_vae(
        early_stopping=True,
        max_epochs=300,
        n_iter_no_change=5,
        tol=0.0,
        hidden_layer_sizes=(64,),
    )
    vae.fit(X[:60])
    assert vae.n_iter_ < 300
    assert len(vae.validation_scores_) == vae.n_iter_
    assert vae.best_validation_score_ == max(vae.validation_scores_)
    # The restored weights are those of the best epoch, not of the last one.
    assert np.argmax(vae.validation_scores_) < vae.n_iter_ - 1


@pytest.mark.parametrize(
    ("scores", "kept", "ending"),
    [
        # the fit ends within its KL warm-up of 4 epochs: no epoch is judged,
        # the last epoch's weights stay, and so does its score
        ([-5.0, -1.0, -3.0], -3.0, "all within its warm-up"),
        # a warm-up epoch scores best, but only judged epochs are restored
        ([-5.0, -1.0, -3.0, -2.0, -4.0], -2.0, "still improving"),
    ],
)
def test_best_validation_score_is_that_of_the_weights_kept(
    X, make_vae, scores, kept, ending
):
    from skvae._training import Validation

    held_out = iter(scores)
    vae = make_vae(early_stopping=True, kl_warmup_epochs=4, max_epochs=len(scores))
    with mock.patch.object(Validation, "score", lambda self, module: next(held_out)):
        with pytest.warns(ConvergenceWarning, match=ending):
            vae.fit(X)
    assert vae.validation_scores_ == scores
    assert vae.best_validation_score_ == kept


# Scores that stall the rule (tol=0.1, windows of 2) at the 10th epoch: its
# window (60) gains nothing on the one before.
STALLING_SCORES = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 60.0, 60.0, 60.0]


SCRIPTED = dict(early_stopping=True, tol=0.1, n_iter_no_change=2)


def _fit_on_scripted_scores(vae, X, scores):
    """``vae.fit(X)`` with ``scores`` as the held-out score of each epoch."""
    from skvae._training import Validation

    held_out = iter(scores)
    with mock.patch.object(Validation, "score", lambda self, module: next(held_out)):
        return vae.fit(X)


def _final_learning_rate(vae) -> float:
    return vae._optimizer_state["param_groups"][0]["lr"]


def test_a_learning_rate_drop_goes_on_for_a_window_then_judges_again(X, make_vae):
    stopped = _fit_on_scripted_scores(make_vae(**SCRIPTED), X, STALLING_SCORES)
    assert stopped.n_iter_ == 10
    assert _final_learning_rate(stopped) == stopped.learning_rate_
    # After the drop the rule waits a window of 2, then compares it with the
    # window before: both 60, no gain.
    dropping = make_vae(**SCRIPTED, n_learning_rate_drops=1)
    dropped = _fit_on_scripted_scores(dropping, X, STALLING_SCORES + [60.0, 60.0, 0.0])
    assert dropped.n_iter_ == 12
    assert dropped.learning_rate_ == stopped.learning_rate_  # the rate it started at
    assert _final_learning_rate(dropped) == pytest.approx(dropped.learning_rate_ / 5)
    # A window that gains goes on past the wait: 75 on 60 is more than 0.1 of
    # its gain since the second window (25), and so is 80 on 65; 80 on 75 is not.
    rising = _fit_on_scripted_scores(
        clone(dropping), X, STALLING_SCORES + [70.0, 80.0, 80.0, 80.0, 0.0]
    )
    assert rising.n_iter_ == 14


def test_the_best_epoch_is_kept_across_a_learning_rate_drop(X, make_vae):
    # The 10th epoch scores best; after the drop both epochs score lower.
    scores = STALLING_SCORES + [50.0, 50.0]
    vae = make_vae(**SCRIPTED, n_learning_rate_drops=1)
    _fit_on_scripted_scores(vae, X, scores)
    assert vae.validation_scores_ == scores
    assert vae.best_validation_score_ == 60.0


def test_each_fit_drops_from_the_learning_rate_it_was_given(X, make_vae):
    vae = make_vae(**SCRIPTED, n_learning_rate_drops=1, warm_start=True)
    for _ in range(2):
        _fit_on_scripted_scores(vae, X, STALLING_SCORES + [60.0, 60.0])
    assert vae.n_iter_ == 24
    assert _final_learning_rate(vae) == pytest.approx(vae.learning_rate_ / 5)


@pytest.mark.parametrize(
    ("after_the_drop", "max_epochs", "warns"),
    [
        ([], 10, False),  # the drop on the last epoch
        ([60.0], 11, False),  # level with the window that stalled
        ([80.0], 11, True),  # above it, within the wait
        ([70.0, 80.0], 12, True),  # the wait over, judged by the rule
    ],
)
def test_max_epochs_after_a_drop_warns_only_of_a_rising_score(
    X, make_vae, after_the_drop, max_epochs, warns
):
    vae = make_vae(**SCRIPTED, n_learning_rate_drops=1, max_epochs=max_epochs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit_on_scripted_scores(vae, X, STALLING_SCORES + after_the_drop)
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    assert any("still improving" in m for m in messages) == warns, messages


def test_a_rise_right_after_a_drop_is_not_averaged_away(X, make_vae):
    """With windows of 4, one epoch above the window that stalled still warns."""
    rising_then_level = [10.0 * epoch for epoch in range(10)] + [100.0] * 7
    vae = make_vae(
        early_stopping=True, tol=0.1, n_iter_no_change=4, n_learning_rate_drops=1
    )
    vae.set_params(max_epochs=len(rising_then_level))  # stalls on the last epoch
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _fit_on_scripted_scores(vae, X, rising_then_level)
    vae.set_params(max_epochs=len(rising_then_level) + 1)
    with pytest.warns(ConvergenceWarning, match="still improving"):
        _fit_on_scripted_scores(vae, X, rising_then_level + [101.0])


def test_partial_fit_never_drops_the_learning_rate(X, make_vae):
    vae = make_vae(n_learning_rate_drops=3)
    # a rule that would stop every epoch of a fit
    stalled = mock.PropertyMock(return_value=True)
    with mock.patch.object(Stopping, "stalled", new_callable=lambda: stalled):
        for _ in range(3):
            vae.partial_fit(X)
    assert _final_learning_rate(vae) == vae.learning_rate_


def test_divergence_after_a_drop_quotes_the_step_it_took(X, make_vae):
    from skvae import TrainingDivergedError

    losses = [1.0] * 10 + [float("nan")]
    vae = make_vae(**SCRIPTED, n_learning_rate_drops=1)
    with mock.patch("skvae._training._run_epoch", side_effect=losses):
        with pytest.raises(
            TrainingDivergedError, match=r"now 0\.001; .* step 0\.0002\)"
        ):
            _fit_on_scripted_scores(vae, X, STALLING_SCORES + [60.0])


@pytest.mark.short_fits
def test_refit_without_early_stopping_drops_validation_record(X, make_vae):
    vae = make_vae(early_stopping=True, max_epochs=3).fit(X)
    vae.set_params(early_stopping=False).fit(X)
    assert not hasattr(vae, "validation_scores_")
    assert not hasattr(vae, "best_validation_score_")


def test_stopping_compares_the_last_window_with_the_gain_since_the_second():
    rule = Stopping(tol=0.1, window=2)
    for score in (-50.0, 0.0, 2.0, 6.0, 8.0, 9.0):  # windows: -25, 4, 8.5
        rule.update(score)
    # Gained 4.5 on the window before, 4.5 since the second: the first window,
    # far lower, is not the reference.
    assert not rule.stalled
    for score in (9.0, 9.2):  # windows: 4, 8.5, 9.1
        rule.update(score)
    assert not rule.stalled  # gained 0.6, more than 0.1 * 5.1
    for score in (9.2, 9.3):  # windows: ..., 9.1, 9.25
        rule.update(score)
    assert rule.stalled  # gained 0.15 < 0.1 * 5.25
    # A shift or a change of scale of the scores changes nothing.
    shifted = Stopping(tol=0.1, window=2)
    for score in (-50.0, 0.0, 2.0, 6.0, 8.0, 9.0, 9.0, 9.2, 9.2, 9.3):
        shifted.update(-300.0 + 1000.0 * score)
    assert shifted.stalled


def test_stopping_needs_three_windows_and_stops_on_a_fall():
    rule = Stopping(tol=0.0, window=2)
    for score in (1.0, 2.0, 3.0, 4.0, 5.0):
        rule.update(score)
    assert not rule.stalled and rule.improving
    rule.update(-10.0)  # windows: 3.5, -2.5
    assert rule.stalled and not rule.improving


def test_a_level_score_stalls_unless_tol_is_zero():
    level, only_falls = Stopping(tol=0.05, window=2), Stopping(tol=0.0, window=2)
    for _ in range(6):
        level.update(3.0)
        only_falls.update(3.0)
    assert level.stalled and not level.improving
    assert not only_falls.stalled


def test_a_short_fit_is_judged_on_shorter_windows():
    """A continued fit of 20 epochs whose score has levelled off does not warn."""
    level, rising = Stopping(tol=0.05, window=10), Stopping(tol=0.05, window=10)
    for epoch in range(20):
        level.update(5.0 + 0.1 * (-1) ** epoch - 0.001 * epoch)  # noise, no gain
        rising.update(float(epoch))
    assert not level.stalled and not rising.stalled  # too short to stop on
    assert not level.improving and rising.improving
    too_short = Stopping(tol=0.05, window=10)
    for score in (5.0, 5.0):
        too_short.update(score)
    assert too_short.improving  # two scores cannot show it stopped


def test_default_fits_stop_by_themselves_on_real_data():
    """breast_cancer: a default fit once ran all its epochs and warned."""
    from sklearn.datasets import load_breast_cancer

    from skvae import VAETransformer

    X, _ = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vae = VAETransformer(random_state=0).fit(X)
    assert vae.n_iter_ < vae.max_epochs


def test_early_stopping_stops_once_the_held_out_score_stops_improving():
    """digits / 16 with a small network ran all 500 epochs under the old rule."""
    from sklearn.datasets import load_digits

    from skvae import VAETransformer

    X, _ = load_digits(return_X_y=True)
    vae = VAETransformer(
        hidden_layer_sizes=(32,), max_epochs=500, early_stopping=True, random_state=0
    ).fit(X / 16)
    assert vae.n_iter_ < 250
    best = int(np.argmax(vae.validation_scores_))
    assert vae.best_validation_score_ == vae.validation_scores_[best]


@pytest.mark.short_fits
def test_warm_start_continues_training(X, make_vae):
    vae = make_vae(max_epochs=5, warm_start=True).fit(X)
    first_curve = list(vae.loss_curve_)
    vae.fit(X)
    assert vae.n_iter_ == 10
    assert vae.loss_curve_[:5] == first_curve
    assert vae.loss_curve_[5] < first_curve[0]
    cold = make_vae(max_epochs=5).fit(X)
    cold.fit(X)
    assert cold.n_iter_ == 5 and cold.loss_curve_ == first_curve


@pytest.mark.short_fits
def test_warm_start_extends_validation_scores(X, make_vae):
    vae = make_vae(max_epochs=3, warm_start=True, early_stopping=True).fit(X)
    first_scores = list(vae.validation_scores_)
    vae.fit(X)
    assert len(vae.validation_scores_) == vae.n_iter_ == 6
    assert vae.validation_scores_[:3] == first_scores
    # The best epoch of the second fit, whose weights it kept, even where an
    # earlier fit scored higher (as here, made so by hand).
    vae.validation_scores_ = [score + 1e6 for score in vae.validation_scores_]
    vae.fit(X)
    assert vae.best_validation_score_ == max(vae.validation_scores_[6:])


@pytest.mark.short_fits
def test_a_warm_start_that_holds_rows_out_scores_earlier_epochs_nan(X, make_vae):
    vae = make_vae(max_epochs=3, warm_start=True).fit(X)
    vae.set_params(early_stopping=True).fit(X)
    assert len(vae.validation_scores_) == vae.n_iter_ == len(vae.loss_curve_) == 6
    assert np.isnan(vae.validation_scores_[:3]).all()
    assert np.isfinite(vae.validation_scores_[3:]).all()


@pytest.mark.short_fits
def test_validation_scores_outlast_a_call_that_holds_no_rows_out(X, make_vae):
    # before: a partial_fit between two early-stopping fits turned the first
    # fit's scores into NaN
    vae = make_vae(max_epochs=2, early_stopping=True).fit(X)
    first_scores = list(vae.validation_scores_)
    vae.partial_fit(X)
    assert not hasattr(vae, "validation_scores_")
    vae.set_params(warm_start=True).fit(X)
    assert vae.validation_scores_[:2] == first_scores
    assert np.isnan(vae.validation_scores_[2])
    assert np.isfinite(vae.validation_scores_[3:]).all()
    assert len(vae.validation_scores_) == vae.n_iter_ == 5


@pytest.mark.short_fits
def test_a_model_pickled_without_the_record_keeps_its_validation_scores(X, make_vae):
    vae = make_vae(max_epochs=2, early_stopping=True).fit(X)
    first_scores = list(vae.validation_scores_)
    del vae._validation_record  # as in a model pickled before it was kept
    vae.set_params(warm_start=True).fit(X)
    assert vae.validation_scores_[:2] == first_scores


@pytest.mark.short_fits
def test_a_ranking_scoring_is_read_only_where_rows_are_held_out(make_vae):
    rng = np.random.RandomState(0)
    counts = ((rng.rand(120, 15) < 0.3) * rng.poisson(2, (120, 15))).astype(float)
    # before: "ranks the top 100 items, but X has only 15 columns", though
    # no rows were held out to rank
    params = dict(likelihood="multinomial", scoring="ndcg@100", max_epochs=2)
    make_vae(**params).fit(counts)
    make_vae(**params, early_stopping=True).partial_fit(counts)
    with pytest.raises(ValueError, match="has only 15 columns"):
        make_vae(**params, early_stopping=True).fit(counts)
    # its form, and whether the model ranks items, are checked in every fit
    with pytest.raises(ValueError, match="scoring must be 'elbo', 'ndcg@k'"):
        make_vae(likelihood="multinomial", scoring="map@5", max_epochs=2).fit(counts)
    conditioned = (
        pd.DataFrame(counts).add_prefix("item").assign(group=np.arange(120) % 2)
    )
    with pytest.raises(ValueError, match="it takes no condition_on"):
        make_vae(
            likelihood="poisson", scoring="ndcg@5", condition_on="group", max_epochs=2
        ).fit(conditioned)


@pytest.mark.short_fits
@pytest.mark.parametrize("random_state", [None, np.random.RandomState(0)])
def test_warm_start_holds_out_the_same_rows_whatever_the_random_state(
    X, make_vae, monkeypatch, random_state
):
    held_out = []
    split = VAETransformer._validation_split

    def recording_split(self, rows, seed):
        training_index, validation_index = split(self, rows, seed)
        held_out.append(validation_index)
        return training_index, validation_index

    monkeypatch.setattr(VAETransformer, "_validation_split", recording_split)
    vae = make_vae(max_epochs=2, warm_start=True, early_stopping=True)
    vae.set_params(random_state=random_state).fit(X).fit(X)
    assert len(held_out) == 2
    assert_array_equal(held_out[1], held_out[0])


@pytest.mark.short_fits
def test_warm_start_refuses_a_changed_network(X, make_vae):
    vae = make_vae(max_epochs=2, warm_start=True).fit(X)
    with pytest.raises(ValueError, match="latent_dim from 2 to 3"):
        vae.set_params(latent_dim=3).fit(X)
    with pytest.raises(ValueError, match="likelihood from 'gaussian' to 'bernoulli'"):
        vae.set_params(latent_dim=2, likelihood="bernoulli").fit((X > 0) * 1.0)


@pytest.mark.short_fits
def test_warm_start_checks_the_number_of_features(X, make_vae):
    vae = make_vae(max_epochs=2, warm_start=True).fit(X)
    with pytest.raises(ValueError, match="features"):
        vae.fit(X[:, :4])


@pytest.mark.short_fits
def test_verbose_shows_a_progress_bar(X, make_vae, capsys):
    make_vae(max_epochs=3, verbose=1).fit(X)
    err = capsys.readouterr().err
    assert "VAETransformer" in err and "3/3" in err and "loss=" in err
    make_vae(max_epochs=3).fit(X)
    assert capsys.readouterr().err == ""


@pytest.mark.short_fits
def test_batch_size_auto_and_clipped(X, make_vae):
    assert make_vae(max_epochs=1).fit(X).batch_size_ == 200
    assert make_vae(max_epochs=1).fit(X[:50]).batch_size_ == 50
    assert make_vae(max_epochs=1, batch_size=1000).fit(X).batch_size_ == 300


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "n_rows, params, window",
    [
        (300, {}, 25),  # 2 batches of 200 rows an epoch: 50 steps in 25 epochs
        (100, {}, 50),  # 1 batch an epoch
        (300, {"batch_size": 30}, 10),  # 10 batches: 10 epochs at least
        (300, {"early_stopping": True}, 25),  # 270 training rows, 2 batches
        (300, {"early_stopping": True, "batch_size": 90}, 17),  # 3 batches
        (100, {"n_iter_no_change": 7}, 7),  # a given width stays
    ],
)
def test_auto_window_holds_at_least_50_steps(X, make_vae, n_rows, params, window):
    params = {"n_iter_no_change": "auto", "max_epochs": 1, **params}
    assert make_vae(**params).fit(X[:n_rows]).n_iter_no_change_ == window


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "estimator, auto_window",
    [(VAEOutlierDetector, 50), (VAEImputer, 25)],  # 1 batch; 2 batches of 64
)
def test_detector_and_imputer_windows_stay_10_epochs(X, estimator, auto_window):
    # Longer windows fitted small tables' densities better but ranked their
    # outliers worse and filled cells no better.
    model = estimator(hidden_layer_sizes=(8,), max_epochs=1)
    assert model.fit(X[:110]).n_iter_no_change_ == 10
    model.set_params(n_iter_no_change="auto")
    assert model.fit(X[:110]).n_iter_no_change_ == auto_window


@pytest.mark.short_fits
def test_partial_fit_runs_no_rule_and_leaves_the_window_of_fit(X, make_vae):
    vae = make_vae(n_iter_no_change="auto").partial_fit(X[:100])
    assert not hasattr(vae, "n_iter_no_change_")
    vae.fit(X)  # 2 batches of 200 rows
    vae.partial_fit(X[:100])
    assert vae.n_iter_no_change_ == 25


@pytest.mark.short_fits
def test_auto_window_gives_a_table_of_one_batch_more_epochs(X):
    # One step an epoch: a 10-epoch window judged 10 steps and stopped early.
    vae = VAETransformer(hidden_layer_sizes=(8,), random_state=0).fit(X[:150])
    assert vae.n_iter_no_change_ == 50
    assert vae.n_iter_ >= 3 * 50  # the rule judges three windows at least


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "n_rows, batch_size, learning_rate",
    [(300, 200, 1e-3), (20_000, 400, 1e-3 * 2**0.5), (40_000, 500, 1e-3 * 2.5**0.5)],
)
def test_auto_batches_grow_with_the_table_and_the_step_with_them(
    n_rows, batch_size, learning_rate
):
    X = np.random.RandomState(0).normal(size=(n_rows, 2))
    vae = VAETransformer(1, hidden_layer_sizes=(4,), random_state=0).partial_fit(X)
    assert vae.batch_size_ == batch_size
    assert vae.learning_rate_ == pytest.approx(learning_rate)


@pytest.mark.short_fits
def test_auto_learning_rate_follows_a_given_batch_size_and_a_given_rate_stays(X):
    def learning_rate_used(X, **params):
        vae = VAETransformer(hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
        return vae.set_params(**params).fit(X).learning_rate_

    assert learning_rate_used(X, batch_size=50) == pytest.approx(1e-3)
    assert learning_rate_used(np.vstack([X] * 3), batch_size=800) == pytest.approx(2e-3)
    assert learning_rate_used(X, learning_rate=0.01) == 0.01


def test_same_random_state_same_model(X, make_vae):
    a, b = make_vae(random_state=3).fit(X), make_vae(random_state=3).fit(X)
    assert a.loss_curve_ == b.loss_curve_
    assert_array_equal(a.transform(X), b.transform(X))
    assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert_array_equal(a.sample(5, random_state=0), b.sample(5, random_state=0))
    c = make_vae(random_state=4).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_learned_variances_keep_their_prior_rows(X, make_vae, monkeypatch):
    # Each variance is pulled towards 1 by VARIANCE_PRIOR_ROWS rows' worth, so
    # none falls below their share of the rows; without the prior, well
    # explained columns do.
    import skvae._layout
    import skvae._likelihoods

    def smallest_variance():
        family = make_vae().fit(X).module_.likelihood.families[0]
        return family.standardised_variance().min().item()

    share = VARIANCE_PRIOR_ROWS / (len(X) + VARIANCE_PRIOR_ROWS)
    assert smallest_variance() > share
    monkeypatch.setattr(skvae._likelihoods, "VARIANCE_PRIOR_ROWS", 0)
    monkeypatch.setattr(skvae._layout, "VARIANCE_PRIOR_ROWS", 0)
    assert smallest_variance() < share


def test_partial_fit_weighs_the_prior_against_every_row_seen(X, make_vae):
    vae = make_vae()
    for chunk in np.array_split(X, 3):
        vae.partial_fit(chunk)
    assert vae._rows_seen == len(X)
    vae.fit(X[:100])  # a new fit counts its own rows only
    assert vae._rows_seen == 100
    vae.set_params(warm_start=True).fit(X[:100])
    assert vae._rows_seen == 100
    vae.partial_fit(X[:50])
    assert vae._rows_seen == 150
    with_held_out_rows = make_vae(early_stopping=True, validation_fraction=0.2)
    assert with_held_out_rows.fit(X)._rows_seen == 240


@pytest.mark.short_fits
def test_no_global_random_state_is_touched(X, make_vae):
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    vae = make_vae(early_stopping=True).fit(X)
    vae.score_samples(X)
    vae.sample(3, random_state=0)
    assert torch.equal(torch_state, torch.random.get_rng_state())
    assert_array_equal(numpy_state, np.random.get_state()[1])


@pytest.mark.short_fits
def test_pickling_leaves_the_estimator_alone(X, make_vae):
    # The pickled state is a copy: pickling a model fitted on a GPU puts a CPU
    # copy of its network in the state, and must not put it in the estimator.
    vae = make_vae(max_epochs=2).fit(X)
    module = vae.module_
    state = vae.__getstate__()
    state["module_"] = None
    assert vae.module_ is module


@pytest.mark.parametrize(
    "dump, load", [(pickle.dumps, pickle.loads), ("joblib", "joblib")]
)
def test_pickle_round_trip(X, make_vae, tmp_path, dump, load):
    vae = make_vae().fit(X)
    if dump == "joblib":
        joblib.dump(vae, tmp_path / "vae.joblib")
        loaded = joblib.load(tmp_path / "vae.joblib")
    else:
        loaded = load(dump(vae))
    assert next(loaded.module_.parameters()).device.type == vae.device_.type
    assert_array_equal(loaded.transform(X), vae.transform(X))
    assert_array_equal(loaded.score_samples(X), vae.score_samples(X))


def test_kl_weight_warms_up_linearly_then_holds():
    assert kl_weight(0.0, beta=2.0, warmup_epochs=4) == 0.0
    assert kl_weight(1.0, beta=2.0, warmup_epochs=4) == 0.5
    assert kl_weight(4.0, beta=2.0, warmup_epochs=4) == 2.0
    assert kl_weight(9.5, beta=2.0, warmup_epochs=4) == 2.0
    assert kl_weight(0.0, beta=2.0, warmup_epochs=0) == 2.0


def test_kl_weight_can_start_above_beta_and_fall_to_it():
    assert kl_weight(0.0, beta=2.0, warmup_epochs=4, start=8.0) == 16.0
    assert kl_weight(1.0, beta=2.0, warmup_epochs=4, start=8.0) == 12.5
    assert kl_weight(4.0, beta=2.0, warmup_epochs=4, start=8.0) == 2.0
    assert kl_weight(6.0, beta=2.0, warmup_epochs=4, start=8.0) == 2.0


@pytest.mark.short_fits
def test_kl_warmup_start_changes_training_only_during_the_warmup(X, make_vae):
    plain = make_vae(max_epochs=3).fit(X)
    strong = make_vae(max_epochs=3, kl_warmup_epochs=3, kl_warmup_start=8.0).fit(X)
    ignored = make_vae(max_epochs=3, kl_warmup_start=8.0).fit(X)  # no warm-up
    assert strong.loss_curve_[0] > plain.loss_curve_[0]  # the KL term weighs 8x
    assert_array_equal(ignored.loss_curve_, plain.loss_curve_)


def test_a_fit_that_ends_within_its_warm_up_says_so(X, make_vae):
    from sklearn.exceptions import ConvergenceWarning

    # not "while the score was still improving": no score was judged
    with pytest.warns(ConvergenceWarning, match="all within its warm-up") as caught:
        make_vae(max_epochs=3, kl_warmup_epochs=10).fit(X)
    assert not any("still improving" in str(w.message) for w in caught)


def test_no_stopping_during_kl_warmup(X, make_vae):
    vae = make_vae(
        max_epochs=40, kl_warmup_epochs=15, tol=100.0, n_iter_no_change=1
    ).fit(X)
    # Without the warm-up this tol stops training after 3 epochs.
    assert 15 < vae.n_iter_ < 40


@pytest.mark.short_fits
def test_warm_start_continues_the_kl_warmup(X, make_vae, kl_epochs):
    vae = make_vae(max_epochs=5, kl_warmup_epochs=8, warm_start=True).fit(X)
    assert kl_epochs[0] == 0.0
    kl_epochs.clear()
    vae.fit(X)
    assert kl_epochs[0] == 5.0  # the schedule goes on where it stopped
    assert vae.n_iter_ == 10


def test_most_likely_rows_are_the_highest_elbo_share():
    elbo = torch.tensor([-5.0, -1.0, -3.0, -2.0, -4.0])
    assert sorted(most_likely_rows(elbo, 0.6).tolist()) == [1, 2, 3]
    assert sorted(most_likely_rows(elbo, 0.5).tolist()) == [1, 2, 3]  # ceil


@pytest.mark.parametrize("support_fraction", [0.5, 0.75, 0.9])
def test_a_trimmed_weighted_step_trims_as_the_rows_repeated(support_fraction):
    # before: trimming counted rows, so a heavy row of low ELBO weighed 0
    # (here at 0.75: 3 of 100 weight kept against 75 repeated rows)
    elbo = torch.tensor([-5.0, -1.0, -3.0, -2.0, -10.0])
    # weights of 20 and 100 in all: whole numbers of rows kept
    for weights in ([4.0, 1.0, 3.0, 2.0, 10.0], [1.0, 1.0, 1.0, 96.0, 1.0]):
        weights = torch.tensor(weights)
        terms, size = _trained_terms(elbo, weights, support_fraction)
        repeated = elbo.repeat_interleave(weights.long())
        kept, _ = _trained_terms(repeated, None, support_fraction)
        assert terms.sum().item() == pytest.approx(kept.sum().item())
        # over as many rows as an untrimmed step's, scaled by the fraction:
        # a batch's weight sets how hard it pulls
        assert size == pytest.approx(support_fraction * len(elbo))
    terms, size = _trained_terms(elbo, torch.zeros(5), support_fraction)
    assert (terms.sum() / size).item() == 0.0  # before: 0 / 0


def test_an_untrimmed_weighted_step_is_the_weighted_mean():
    elbo = torch.tensor([-5.0, -1.0, -3.0, -2.0])
    weights = torch.tensor([4.0, 1.0, 3.0, 2.0])
    terms, size = _trained_terms(elbo, weights, 1.0)
    assert (terms.sum() / size).item() == pytest.approx((-20 - 1 - 9 - 4) / 4)


@pytest.mark.short_fits
def test_support_fraction_trims_only_after_its_warmup(X, make_vae):
    plain = make_vae(max_epochs=6).fit(X)
    never = make_vae(max_epochs=6, support_fraction=0.5, support_warmup_epochs=6)
    trimmed = make_vae(max_epochs=6, support_fraction=0.5, support_warmup_epochs=3)
    assert_array_equal(never.fit(X).transform(X), plain.transform(X))
    trimmed.fit(X)
    assert trimmed.loss_curve_[:3] == plain.loss_curve_[:3]
    # From then on the loss is the mean over the better half of each batch.
    assert trimmed.loss_curve_[3] < plain.loss_curve_[3]


@pytest.mark.short_fits
def test_trimmed_training_takes_sample_weight(X, make_vae):
    weights = np.where(np.arange(len(X)) % 3 == 0, 0.0, 2.0)
    trimmed = make_vae(max_epochs=4, support_fraction=0.5, support_warmup_epochs=0)
    plain = make_vae(max_epochs=4)
    trimmed.fit(X, sample_weight=weights)
    plain.fit(X, sample_weight=weights)
    assert np.isfinite(trimmed.loss_curve_).all()
    # The mean over the better half of each batch's weighted rows.
    assert trimmed.loss_curve_[0] < plain.loss_curve_[0]


def test_no_stopping_before_trimming_starts(X, make_vae):
    vae = make_vae(
        max_epochs=40,
        support_fraction=0.8,
        support_warmup_epochs=15,
        tol=100.0,
        n_iter_no_change=1,
    ).fit(X)
    # The first trimmed epoch is the 16th; with windows of one epoch this tol
    # stops at the first comparison, which needs three: after the 18th.
    assert vae.n_iter_ == 18


def test_input_dropout_is_reproducible_and_changes_training(binary_X, make_vae):
    plain = make_vae(likelihood="bernoulli", input_dropout=0.0).fit(binary_X)
    dropped = make_vae(likelihood="bernoulli", input_dropout=0.5).fit(binary_X)
    again = make_vae(likelihood="bernoulli", input_dropout=0.5).fit(binary_X)
    assert_array_equal(dropped.transform(binary_X), again.transform(binary_X))
    assert not np.allclose(dropped.transform(binary_X), plain.transform(binary_X))


@pytest.mark.parametrize("scale", [3.0, 1e37, 1e-50, 1e307])
def test_sample_weight_only_relative_sizes_matter(X, make_vae, scale):
    # before: weights of 1e37 summed to inf in float32 and trained nothing,
    # 1e-50 stopped as a diverged fit
    plain = make_vae(early_stopping=True).fit(X)
    scaled = make_vae(early_stopping=True).fit(X, sample_weight=np.full(len(X), scale))
    assert_array_equal(plain.transform(X), scaled.transform(X))
    assert plain.loss_curve_ == pytest.approx(scaled.loss_curve_, rel=1e-6)
    assert plain.validation_scores_ == pytest.approx(scaled.validation_scores_)


def test_sample_weight_pulls_the_model_towards_heavy_rows(make_vae):
    rng = np.random.RandomState(0)
    A = rng.randn(200, 6) + 3.0
    B = rng.randn(200, 6) @ rng.randn(6, 6) - 3.0
    X = np.vstack([A, B])
    weights = np.r_[np.full(200, 10.0), np.full(200, 0.1)]
    favour_a = make_vae().fit(X, sample_weight=weights)
    favour_b = make_vae().fit(X, sample_weight=weights[::-1])
    assert favour_a.score(A) > favour_b.score(A)
    assert favour_b.score(B) > favour_a.score(B)


@pytest.mark.parametrize("wild", [1e4, 1e30])
@pytest.mark.parametrize("estimator", [VAETransformer, VAEOutlierDetector, VAEImputer])
def test_zero_weight_rows_play_no_part(X, estimator, wild):
    corrupted = X.copy()
    corrupted[::6] = wild  # wild rows, switched off by their weights
    weights = np.where(np.arange(len(X)) % 6 == 0, 0.0, 1.0)
    clean = X[weights > 0]
    make = functools.partial(
        estimator, hidden_layer_sizes=(16,), n_iter_no_change=3, random_state=0
    )
    weighted = make().fit(corrupted, sample_weight=weights)
    removed = make().fit(clean)
    assert_array_equal(weighted.score_samples(clean), removed.score_samples(clean))


@pytest.mark.short_fits
def test_zero_weight_rows_set_no_range_nor_family_of_a_table():
    # a wild value and a fraction in rows of weight 0: neither widens the range
    # that decoded numbers are clipped to, nor makes a column of whole numbers
    # anything else; their levels are still learned
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {
            "x": rng.normal(size=120),
            "n": rng.randint(0, 5, size=120),
            "k": rng.choice(["a", "b"], size=120),
        }
    )
    weights = np.r_[0.0, 0.0, np.ones(118)]
    wild = table.assign(n=table["n"].astype(float))
    wild.loc[0, "x"], wild.loc[1, "n"], wild.loc[1, "k"] = 1e6, 2.5, "c"
    make = functools.partial(VAEImputer, max_epochs=2, random_state=0)
    weighted = make().fit(wild, sample_weight=weights)
    removed = make().fit(wild.iloc[2:])
    assert weighted.likelihoods_ == removed.likelihoods_
    assert weighted.likelihoods_["n"] == "inflated_gaussian"
    make = functools.partial(VAETransformer, max_epochs=2, random_state=0)
    weighted = make().fit(wild, sample_weight=weights)
    removed = make().fit(wild.iloc[2:])
    far = np.full((1, weighted.latent_dim), 40.0)
    assert_array_equal(
        weighted.inverse_transform(far)["x"], removed.inverse_transform(far)["x"]
    )
    assert weighted.sample(500, random_state=0)["x"].max() <= table["x"][2:].max()
    weighted.transform(wild.iloc[:2])  # "c" is a level, not an unseen value


@pytest.mark.short_fits
@pytest.mark.parametrize("estimator", [VAETransformer, VAEOutlierDetector])
def test_a_row_with_nothing_observed_is_refused_unless_it_weighs_0(X, estimator):
    rows = np.vstack([np.full(X.shape[1], np.nan), X])
    make = functools.partial(
        estimator, hidden_layer_sizes=(16,), max_epochs=2, n_threads=1, random_state=0
    )
    with pytest.raises(ValueError, match="Row 0 of X has no .* sample_weight 0"):
        make().fit(rows)
    weights = np.r_[0.0, np.ones(len(X))]
    fitted = make().fit(rows, sample_weight=weights)
    alone = make().fit(X)
    assert_array_equal(fitted.score_samples(X), alone.score_samples(X))
    # where every row that weighs is such a row, dropping them leaves nothing
    for empty, weights in (
        (np.full((3, X.shape[1]), np.nan), None),
        (rows, np.r_[1.0, np.zeros(len(X))]),
    ):
        message = "Row 0 of X has no .* needs a row of positive weight with an"
        with pytest.raises(ValueError, match=message):
            make().fit(empty, sample_weight=weights)


def test_sample_weight_errors(X, make_vae):
    with pytest.raises(ValueError, match="(?i)negative"):
        make_vae().fit(X, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="at least one non-zero"):
        make_vae().fit(X, sample_weight=np.zeros(len(X)))


@pytest.mark.parametrize("validation_fraction", [0.5, 0.95])
def test_early_stopping_refuses_a_split_with_no_weight_on_one_side(
    X, make_vae, validation_fraction
):
    # One row carries all the weight: nothing is left to train on once it is
    # held out.
    weights = np.zeros(len(X))
    weights[0] = 1.0
    vae = make_vae(early_stopping=True, validation_fraction=validation_fraction)
    with pytest.raises(ValueError, match=r"n_samples = 1 rows \(of positive weight\)"):
        vae.fit(X, sample_weight=weights)
    assert not hasattr(vae, "module_")


def _interrupt_at_epoch(monkeypatch, interrupted_epoch):
    """Make the ``interrupted_epoch``-th epoch (counting from 1) raise Ctrl-C."""
    import skvae._training

    train_epoch = skvae._training.train_epoch
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == interrupted_epoch:
            raise KeyboardInterrupt
        return train_epoch(*args, **kwargs)

    monkeypatch.setattr(skvae._training, "train_epoch", interrupted)
    return calls


def test_keyboard_interrupt_keeps_the_epochs_completed(X, make_vae, monkeypatch):
    _interrupt_at_epoch(monkeypatch, 4)
    vae = make_vae(max_epochs=50)
    with pytest.warns(UserWarning, match="interrupted after 3 epochs"):
        with pytest.raises(KeyboardInterrupt):
            vae.fit(X)
    assert vae.n_iter_ == len(vae.loss_curve_) == 3
    assert vae.transform(X).shape == (len(X), 2)
    assert np.isfinite(vae.score(X))


def test_keyboard_interrupt_in_fit_transform_keeps_the_network(X, monkeypatch):
    # before: the rollback of fit_transform and fit_predict undid the fit
    # that the warning said was kept (in a Pipeline's inner steps too)
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skvae import VAEOutlierDetector, VAETransformer

    params = dict(hidden_layer_sizes=(16,), max_epochs=50, random_state=0)
    for fit in (
        lambda: VAETransformer(**params).fit_transform(X),
        lambda: VAEOutlierDetector(**params).fit_predict(X),
    ):
        _interrupt_at_epoch(monkeypatch, 4)
        with pytest.warns(UserWarning, match="interrupted after 3 epochs"):
            with pytest.raises(KeyboardInterrupt):
                fit()
    _interrupt_at_epoch(monkeypatch, 4)
    pipeline = make_pipeline(VAETransformer(**params), StandardScaler())
    with pytest.warns(UserWarning, match="interrupted after 3 epochs"):
        with pytest.raises(KeyboardInterrupt):
            pipeline.fit(X)
    assert pipeline[0].n_iter_ == 3
    assert pipeline[0].transform(X).shape == (len(X), pipeline[0].latent_dim)
    detector = VAEOutlierDetector(**params)
    _interrupt_at_epoch(monkeypatch, 4)
    with pytest.warns(UserWarning), pytest.raises(KeyboardInterrupt):
        detector.fit_predict(X)
    assert detector.n_iter_ == 3 and hasattr(detector, "offset_")


def test_an_interrupt_while_scoring_leaves_the_records_in_step(
    X, make_vae, monkeypatch
):
    # before: the epoch's loss was recorded, its validation score not
    import skvae._training

    score = skvae._training.Validation.score
    calls = []

    def interrupted(self, module):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return score(self, module)

    monkeypatch.setattr(skvae._training.Validation, "score", interrupted)
    vae = make_vae(early_stopping=True, max_epochs=50)
    with pytest.warns(UserWarning, match="interrupted after 3 epochs"):
        with pytest.raises(KeyboardInterrupt):
            vae.fit(X)
    assert vae.n_iter_ == len(vae.loss_curve_) == len(vae.validation_scores_) == 3


@pytest.mark.short_fits
def test_keyboard_interrupt_in_the_first_epoch_changes_nothing(
    X, make_vae, monkeypatch
):
    vae = make_vae(max_epochs=3).fit(X)
    before = vae.transform(X)
    _interrupt_at_epoch(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        vae.set_params(latent_dim=3).fit(X)
    assert vae.n_iter_ == 3
    assert_array_equal(vae.transform(X), before)


def test_an_interrupted_detector_has_its_threshold(X, monkeypatch):
    from skvae import VAEOutlierDetector

    _interrupt_at_epoch(monkeypatch, 3)
    detector = VAEOutlierDetector(hidden_layer_sizes=(16,), random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        with pytest.raises(KeyboardInterrupt):
            detector.fit(X)
    assert detector.n_iter_ == 2
    assert set(np.unique(detector.predict(X))) <= {-1, 1}


def test_ctrl_c_stops_a_grid_search(X, make_vae, monkeypatch):
    from sklearn.model_selection import GridSearchCV

    calls = _interrupt_at_epoch(monkeypatch, 2)
    search = GridSearchCV(make_vae(max_epochs=5), {"latent_dim": [1, 2, 3]}, cv=3)
    with pytest.warns(UserWarning, match="interrupted"):
        with pytest.raises(KeyboardInterrupt):
            search.fit(X)
    assert len(calls) == 2  # the first fit's second epoch; no fit after it


@pytest.mark.short_fits
def test_warm_start_and_partial_fit_continue_adam_alike(X, make_vae):
    warm = make_vae(max_epochs=2, warm_start=True, batch_size=100).fit(X)
    warm.fit(X)
    streamed = make_vae(batch_size=100)
    for _ in range(4):
        streamed.partial_fit(X)
    for vae in (warm, streamed):
        steps = {float(m["step"]) for m in vae._optimizer_state["state"].values()}
        assert steps == {12.0}  # 4 epochs of 3 steps: Adam never restarted


@pytest.mark.short_fits
def test_each_warm_start_fit_draws_its_own_order_and_noise(X, make_vae, request):
    vae = make_vae(max_epochs=1, warm_start=True, init="random").fit(X)
    orders = request.getfixturevalue("batch_orders")
    vae.fit(X)
    vae.fit(X)
    assert len(orders) == 2 and not torch.equal(orders[0], orders[1])
    # The same calls on a second estimator with the same seed repeat them.
    again = make_vae(max_epochs=1, warm_start=True, init="random").fit(X)
    again.fit(X).fit(X)
    assert again.loss_curve_ == vae.loss_curve_


@pytest.mark.short_fits
def test_warm_start_keeps_the_validation_split(X, make_vae, monkeypatch):
    import skvae._base

    splits = []
    split = skvae._base.BaseVAE._validation_split

    def recording_split(self, rows, seed):
        result = split(self, rows, seed)
        splits.append(result[1])
        return result

    monkeypatch.setattr(skvae._base.BaseVAE, "_validation_split", recording_split)
    vae = make_vae(max_epochs=2, warm_start=True, early_stopping=True).fit(X)
    vae.fit(X)
    assert_array_equal(splits[0], splits[1])


def test_training_diverged_error_is_public(X):
    from skvae import TrainingDivergedError, VAETransformer

    with pytest.raises(TrainingDivergedError, match="smaller learning_rate"):
        VAETransformer(learning_rate=1e12, max_epochs=50, random_state=0).fit(X)
    assert issubclass(TrainingDivergedError, FloatingPointError)


def test_a_failed_partial_fit_puts_back_the_draws_of_a_random_state(X):
    from skvae import TrainingDivergedError, VAETransformer

    generator = np.random.RandomState(1)
    vae = VAETransformer(hidden_layer_sizes=(8,), random_state=generator)
    vae.partial_fit(X)
    state = generator.get_state()
    vae.set_params(learning_rate=1e12)
    with pytest.raises(TrainingDivergedError):
        with pytest.warns(UserWarning, match="times the spread it is standardised by"):
            vae.partial_fit(X * 1e30)
    assert_array_equal(generator.get_state()[1], state[1])
    assert generator.get_state()[2] == state[2]


def test_dropout_draws_masks_for_nonzero_values_whatever_the_container():
    # a stored zero draws no mask: dense rows and CSR rows with or without
    # explicit zeros lose the same values
    x = torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 4.0]])
    sparse = x.to_sparse_coo().coalesce()
    indices = torch.cat([sparse.indices(), torch.tensor([[0], [1]])], 1)
    values = torch.cat([sparse.values(), torch.tensor([0.0])])
    with_zero = torch.sparse_coo_tensor(
        indices, values, x.shape, check_invariants=True
    ).coalesce()
    assert with_zero.values().numel() == 5

    def dropped(batch):
        result = _drop_inputs(batch, 0.5, torch.Generator().manual_seed(0))
        return result.to_dense() if result.is_sparse else result

    expected = dropped(x)
    assert_array_equal(dropped(x.to_sparse_coo()), expected)
    assert_array_equal(dropped(with_zero), expected)


@pytest.mark.parametrize("score", [-np.inf, np.inf, np.nan])
def test_a_held_out_score_that_is_not_finite_is_a_divergence(
    X, make_vae, monkeypatch, score
):
    # before: only NaN raised; a held-out score of -inf ended the fit quietly
    from skvae import TrainingDivergedError
    from skvae._training import Validation

    monkeypatch.setattr(Validation, "score", lambda self, module: score)
    vae = make_vae(early_stopping=True, max_epochs=3)
    with pytest.raises(TrainingDivergedError, match=f"score became {score} in epoch 1"):
        vae.fit(X)
    assert not hasattr(vae, "module_")


@pytest.mark.parametrize(
    "learning_rate, params",
    [
        (1e10, {"early_stopping": True}),
        (1e30, {"latent_prior": 10}),
        (1e8, {"latent_prior": "normal"}),
    ],
)
def test_a_divergence_in_the_last_step_is_caught(X, learning_rate, params):
    # the loss is computed before each step: before, a last step that broke
    # the network gave a NaN or -inf held-out score, or GaussianMixture's
    # message about NaN in X, or (without either) a model that scored every
    # row -inf
    from skvae import TrainingDivergedError, VAETransformer

    vae = VAETransformer(
        hidden_layer_sizes=(16,),
        learning_rate=learning_rate,
        init="random",
        max_epochs=1,
        batch_size=len(X),
        random_state=0,
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the error says it all
        with pytest.raises(TrainingDivergedError, match="Training diverged"):
            vae.fit(X)
    assert not hasattr(vae, "module_")


@pytest.mark.short_fits
def test_a_split_of_rows_rescales_its_own_weights(make_vae):
    # weights spanning more than float32 holds: the held-out rows' weights
    # are rescaled from float64 (before: they were 0 in float32, and the
    # validation score divided by zero)
    rows = DenseRows(torch.ones(4, 2), np.array([1e50, 1.0, 2.0, 1.0]))
    assert rows.split(torch.tensor([1, 2, 3])).weights.tolist() == [0.75, 1.5, 0.75]
    # on the rows' device ("meta" stands in for a GPU, whose tensors NumPy
    # cannot read: a first version of this split went through NumPy)
    on_device = DenseRows(torch.ones(4, 2, device="meta"), np.ones(4))
    assert on_device.split(torch.arange(2)).weights.device.type == "meta"
    X = np.random.RandomState(1).randn(40, 3)
    weights = np.ones(40)
    weights[5] = 1e50
    vae = make_vae(early_stopping=True, max_epochs=3).fit(X, sample_weight=weights)
    assert np.isfinite(vae.validation_scores_).all()


@pytest.mark.short_fits
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_rows_without_missing_cells_skip_the_masks_to_the_same_terms(
    make_vae, likelihood
):
    X = np.random.RandomState(0).rand(50, 4)
    module = make_vae(likelihood=likelihood, max_epochs=2).fit(X).module_
    x = torch.as_tensor(X, dtype=torch.float32)
    noise = torch.randn(
        50, module.latent_dim, generator=torch.Generator().manual_seed(0)
    )
    masked = module.elbo_terms(x, noise)
    unmasked = module.elbo_terms(x, noise, maybe_missing=False)
    assert torch.equal(masked.reconstruction, unmasked.reconstruction)
    assert torch.equal(masked.kl, unmasked.kl)
    assert not DenseRows(x).has_missing
    x[3, 1] = torch.nan
    assert DenseRows(x).has_missing
    assert not DenseRows(torch.empty(0, 4)).has_missing
