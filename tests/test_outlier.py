"""VAEOutlierDetector: thresholds, labels, explanations, and input kinds."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from skvae import VAEOutlierDetector


@pytest.mark.parametrize("contamination", [0.05, 0.2, 0.5])
def test_predict_flags_the_contamination_share_of_the_training_rows(
    X, contamination, make_detector
):
    detector = make_detector(contamination=contamination).fit(X)
    flagged = np.mean(detector.predict(X) == -1)
    assert abs(flagged - contamination) <= 1 / len(X)


def test_decision_function_is_the_score_above_the_offset(X, make_detector):
    detector = make_detector(contamination=0.1).fit(X)
    decision = detector.decision_function(X)
    assert_allclose(decision, detector.score_samples(X) - detector.offset_)
    assert_array_equal(detector.predict(X), np.where(decision < 0, -1, 1))
    assert_array_equal(detector.fit_predict(X), detector.predict(X))


def test_a_draw_count_changed_since_fit_is_warned_of(X, make_detector):
    # before: the share flagged moved silently (0.10 to 0.175 with one draw)
    import warnings

    detector = make_detector(contamination=0.1).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector.predict(X)
    detector.set_params(n_importance_samples=1)
    with pytest.warns(UserWarning, match="n_importance_samples=50, and scores"):
        detector.predict(X)
    detector.partial_fit(X)  # sets offset_ anew, with one draw
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector.decision_function(X)


def test_auto_threshold_is_the_lower_fence_of_the_training_scores(X, make_detector):
    detector = make_detector().fit(X)
    q1, q3 = np.percentile(detector.score_samples(X), [25, 75])
    assert detector.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1))


def test_scores_are_identical_across_calls(X, make_detector):
    detector = make_detector().fit(X)
    assert_array_equal(detector.score_samples(X), detector.score_samples(X))


def test_decisions_do_not_depend_on_the_other_rows_to_float32_precision(
    X, make_detector
):
    detector = make_detector(contamination=0.1).fit(X)
    whole = detector.decision_function(X)
    in_batches = np.concatenate(
        [detector.decision_function(part) for part in np.array_split(X, 7)]
    )
    assert_allclose(in_batches, whole, rtol=1e-5, atol=1e-5)


def test_far_rows_score_low_and_are_flagged(X, make_detector):
    detector = make_detector().fit(X)
    far = X[:5] + 20 * X.std(axis=0)
    assert detector.score_samples(far).max() < detector.score_samples(X).min()
    assert (detector.predict(far) == -1).all()


# A netCDF fill value, float32's lowest (GDAL's nodata) and a value whose
# square overflows float32: placeholders that reach a detector unmarked.
PLACEHOLDERS = [9.96921e36, float(np.finfo(np.float32).min), 1e20]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_rows_with_placeholder_values_score_lowest_and_are_flagged(
    X, make_detector, value
):
    detector = make_detector().fit(X)
    rows = X[:3].copy()
    rows[:, 1] = value
    scores = detector.score_samples(rows)
    # log q(z | x) squared z - loc, which overflowed to NaN: labelled inliers
    assert not np.isnan(scores).any()
    assert scores.max() < detector.score_samples(X).min()
    assert (detector.predict(rows) == -1).all()
    per_feature = detector.feature_log_likelihoods(rows)
    assert not np.isnan(per_feature).any()
    assert (per_feature.argmin(axis=1) == 1).all()


def test_a_row_whose_score_is_nan_is_an_outlier(X, make_detector, monkeypatch):
    detector = make_detector().fit(X)
    decisions = np.array([np.nan, 1.0, -1.0, 0.0])
    monkeypatch.setattr(type(detector), "decision_function", lambda self, X: decisions)
    assert_array_equal(detector.predict(X[:4]), [-1, 1, -1, 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trimmed_training_learns_a_cluster_of_training_outliers_less(seed):
    # 10% of the training rows form a tight cluster away from the inliers' plane.
    rng = np.random.RandomState(seed)
    inliers = rng.randn(270, 2) @ rng.randn(2, 10) + 0.1 * rng.randn(270, 10)
    outliers = 3 * rng.randn(1, 10) + 0.1 * rng.randn(30, 10)
    X = np.vstack([inliers, outliers])

    def gap(support_fraction):
        detector = VAEOutlierDetector(support_fraction=support_fraction, random_state=0)
        scores = detector.fit(X).score_samples(X)
        return np.median(scores[:270]) - np.median(scores[270:])

    assert gap(0.7) > gap(1.0)


def test_feature_log_likelihoods_point_at_the_corrupted_column(X, make_detector):
    detector = make_detector().fit(X)
    corrupted = X[:10].copy()
    corrupted[:, 3] += 8 * X[:, 3].std()
    per_feature = detector.feature_log_likelihoods(corrupted)
    assert per_feature.shape == corrupted.shape
    assert_array_equal(per_feature.argmin(axis=1), np.full(10, 3))


def test_feature_log_likelihoods_add_up_to_the_reconstruction_term(X, make_detector):
    # With one draw the importance weight is 1, so the features add up to
    # log p(x | z) and the score adds log p(z) - log q(z | x) to it.
    detector = make_detector(n_importance_samples=1, device="cpu").fit(X)
    per_feature = detector.feature_log_likelihoods(X[:20]).sum(axis=1)
    latent_term = detector.score_samples(X[:20]) - per_feature
    module = detector.module_
    import torch

    with torch.no_grad():
        x = torch.tensor(X[:20], dtype=torch.float32)
        qz = module.encode(x)
        noise = torch.randn(
            (1, module.latent_dim),
            generator=torch.Generator().manual_seed(detector._score_seed),
        )
        z = qz.loc + qz.scale * noise
        expected = module.log_prior(z) - qz.log_prob(z).sum(-1)
    assert_allclose(latent_term, expected.numpy(), rtol=1e-4, atol=1e-3)


def test_sparse_input_scores_and_explains_as_dense(binary_X, make_detector):
    # The same start for both (init='auto' starts dense rows from PCA).
    params = dict(likelihood="bernoulli", contamination=0.1, init="random")
    dense = make_detector(**params).fit(binary_X)
    expected = (
        dense.score_samples(binary_X),
        dense.feature_log_likelihoods(binary_X),
        dense.offset_,
    )
    sparse = make_detector(**params).fit(sp.csr_matrix(binary_X))
    got = (
        sparse.score_samples(sp.csr_matrix(binary_X)),
        sparse.feature_log_likelihoods(sp.csr_matrix(binary_X)),
        sparse.offset_,
    )
    for value, reference in zip(got, expected, strict=True):
        assert_allclose(value, reference, rtol=1e-4, atol=1e-4)


def test_pandas_input_keeps_feature_names(X, make_detector):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"sensor_{i}" for i in range(X.shape[1])])
    detector = make_detector().fit(frame)
    assert list(detector.feature_names_in_) == list(frame.columns)
    on_array = make_detector().fit(X)
    assert_allclose(detector.score_samples(frame), on_array.score_samples(X), rtol=1e-5)


def test_zero_weight_rows_do_not_set_the_threshold(X, make_detector):
    weights = np.ones(len(X))
    weights[:30] = 0.0
    detector = make_detector(contamination=0.1).fit(X, sample_weight=weights)
    kept_scores = detector.score_samples(X[30:])
    assert detector.offset_ == pytest.approx(np.percentile(kept_scores, 10))


@pytest.mark.parametrize("contamination", [0.05, "auto"])
def test_rows_count_by_their_weights_in_the_threshold(contamination, make_detector):
    # 20 far rows at weight 1e-9 set the threshold as if left out (before:
    # they filled the 5 % alone and offset_ fell by about 90 nats)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    X[:20] += 10
    weights = np.ones(len(X))
    weights[:20] = 0.0
    left_out = make_detector(contamination=contamination).fit(X, sample_weight=weights)
    weights[:20] = 1e-9
    light = make_detector(contamination=contamination).fit(X, sample_weight=weights)
    scores = light.score_samples(X)
    assert light.offset_ > scores[:20].max()  # the light rows are below it
    assert light.offset_ == pytest.approx(left_out.offset_, abs=0.5)
    # a stream keeps the weights of its rows, each chunk's divided by its mean
    stream = make_detector(contamination=contamination)
    stream.partial_fit(X[100:])
    stream.partial_fit(X[:100], sample_weight=weights[:100] * 7.0)
    assert_allclose(
        stream._trained_rows.weights,
        np.r_[np.ones(100), weights[:100] / weights[:100].mean()],
    )
    assert stream.offset_ > stream.score_samples(X[:20]).max()


@pytest.mark.parametrize("contamination", [0.1, "auto"])
def test_the_weighted_threshold_is_numpys_for_equal_weights_and_continuous(
    contamination,
):
    from skvae._outlier import _threshold, _weighted_percentiles

    scores = np.array([-10, -4, -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5])
    q = [5, 25, 50, 75, 100]
    for weights in (np.full(10, 0.3), np.full(10, 7.0)):
        assert_allclose(
            _weighted_percentiles(scores, q, weights), np.percentile(scores, q)
        )
    equal = _threshold(scores, contamination)
    nudged = np.ones(10)
    nudged[0] += 1e-9  # before: NumPy's inverted_cdf jumped by 0.5 or more
    assert _threshold(scores, contamination, nudged) == pytest.approx(equal, abs=1e-6)
    nudged[0] = 1e-12  # a weight near 0 is as if left out
    assert _threshold(scores, contamination, nudged) == pytest.approx(
        _threshold(scores[1:], contamination), abs=1e-6
    )
    nudged = np.ones(10)
    nudged[-1] = 1e-12  # the highest value too (before: 70.9, not 2.8, below)
    assert _threshold(scores, contamination, nudged) == pytest.approx(
        _threshold(scores[:-1], contamination), abs=1e-6
    )
    assert_allclose(
        _weighted_percentiles(np.array([1, 2, 3, 100.0]), [90], nudged[-4:]), [2.8]
    )
    # weights 1e310 times apart: the light rows at the top are as if left out
    # (a first version counted copies, which overflowed to infinity)
    for heavy, light in ((3.0, 3e-310), (1e308, 1e-300)):
        weights = np.array([heavy, heavy, heavy, light, light])
        assert_allclose(
            _weighted_percentiles(np.arange(5.0), [10, 50], weights), [0.2, 1.0]
        )


def test_the_weighted_threshold_counts_whole_weights_as_repeats():
    # before: the highest value's weight was never read (1.9 for 10.0 here)
    from skvae._outlier import _threshold

    rng = np.random.RandomState(0)
    scores = rng.normal(size=30)
    for heaviest in (np.argmax(scores), np.argmin(scores), 7):
        weights = np.ones(30)
        weights[:10] = rng.randint(1, 4, size=10)
        weights[heaviest] = 1000
        repeated = np.repeat(scores, weights.astype(int))
        for contamination in (0.1, 0.3, "auto"):
            assert _threshold(scores, contamination, weights) == pytest.approx(
                _threshold(repeated, contamination)
            )


def test_bad_contamination_is_refused_before_fitting(X, make_detector):
    detector = make_detector(contamination=0.7)
    with pytest.raises(ValueError, match="contamination"):
        detector.fit(X)
    assert not hasattr(detector, "module_")
