"""partial_fit: one epoch a call, continuing the network, Adam and the KL warm-up."""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skvae import VAEImputer, VAEOutlierDetector, VAETransformer
from skvae._outlier import _threshold
from skvae._row_sample import MAX_ROWS, MAX_VALUES, RowSample


@pytest.mark.short_fits
def test_first_call_is_one_epoch_of_fit(X, make_vae):
    fitted = make_vae(max_epochs=1).fit(X)
    streamed = make_vae().partial_fit(X)
    assert streamed.loss_curve_ == fitted.loss_curve_
    assert_array_equal(streamed.transform(X), fitted.transform(X))
    assert streamed.batch_size_ == fitted.batch_size_


def test_each_call_is_one_pass_and_training_goes_on(X, make_vae):
    vae = make_vae(max_epochs=2, tol=0.0, n_iter_no_change=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for _ in range(3):
            for chunk in np.array_split(X, 3):
                vae.partial_fit(chunk)
    assert vae.n_iter_ == len(vae.loss_curve_) == 9  # max_epochs plays no part
    assert vae.best_loss_ == min(vae.loss_curve_)
    assert np.mean(vae.loss_curve_[-3:]) < np.mean(vae.loss_curve_[:3])


def test_adam_state_is_kept_between_calls(X, make_vae):
    vae = make_vae(batch_size=50)
    for chunk in np.array_split(X, 3):  # 100 rows: 2 steps a call
        vae.partial_fit(chunk)
    steps = {
        float(moments["step"]) for moments in vae._optimizer_state["state"].values()
    }
    assert steps == {6.0}
    # Continuing from the state differs from restarting Adam with the weights.
    restarted = pickle.loads(pickle.dumps(vae)).drop_optimizer_state()
    vae.partial_fit(X)
    restarted.partial_fit(X)
    assert not np.allclose(vae.transform(X), restarted.transform(X))


def test_optimizer_state_survives_pickling(X, make_vae):
    vae = make_vae().partial_fit(X[:150])
    loaded = pickle.loads(pickle.dumps(vae))
    assert all(
        value.device.type == "cpu"
        for moments in loaded._optimizer_state["state"].values()
        for value in moments.values()
    )
    vae.partial_fit(X[150:])
    loaded.partial_fit(X[150:])
    assert loaded.loss_curve_ == vae.loss_curve_
    assert_array_equal(loaded.transform(X), vae.transform(X))


def test_dropping_the_optimizer_state_leaves_the_network_alone_in_the_pickle(
    X, make_vae
):
    vae = make_vae().fit(X)
    with_adam = len(pickle.dumps(vae))
    latents = vae.transform(X)
    weight_bytes = 4 * sum(p.numel() for p in vae.module_.parameters())
    without_adam = len(pickle.dumps(vae.drop_optimizer_state()))
    # Adam keeps two float32 numbers per weight.
    assert with_adam - without_adam > 2 * weight_bytes
    loaded = pickle.loads(pickle.dumps(vae))
    assert_array_equal(loaded.transform(X), latents)
    loaded.partial_fit(X)  # continues the weights with a fresh Adam
    assert loaded.n_iter_ == vae.n_iter_ + 1


def test_a_new_learning_rate_applies_to_the_next_call(X, make_vae):
    vae = make_vae().partial_fit(X)
    vae.set_params(learning_rate=0.05).partial_fit(X)
    assert vae._optimizer_state["param_groups"][0]["lr"] == 0.05


def test_seeded_calls_are_reproducible(X, make_vae):
    a, b = make_vae(random_state=5), make_vae(random_state=5)
    for chunk in np.array_split(X, 4):
        a.partial_fit(chunk)
        b.partial_fit(chunk)
    assert a.loss_curve_ == b.loss_curve_
    assert_array_equal(a.transform(X), b.transform(X))


def test_passes_draw_fresh_batch_orders(X, make_vae, batch_orders):
    orders = batch_orders
    vae = make_vae(init="random")  # the PCA start orders rows of its own
    vae.partial_fit(X)
    vae.partial_fit(X)
    assert len(orders) == 2 and not torch.equal(orders[0], orders[1])


def test_kl_warmup_goes_on_across_calls(X, make_vae, kl_epochs):
    vae = make_vae(kl_warmup_epochs=10, batch_size=100)
    for _ in range(3):
        vae.partial_fit(X)
    kl_epochs.clear()
    vae.partial_fit(X)
    assert kl_epochs == pytest.approx([3.0, 3 + 1 / 3, 3 + 2 / 3])


@pytest.mark.short_fits
def test_partial_fit_after_fit_continues_it(X, make_vae):
    vae = make_vae(max_epochs=4, early_stopping=True).fit(X)
    curve = list(vae.loss_curve_)
    vae.partial_fit(X)
    assert vae.n_iter_ == 5 and vae.loss_curve_[:4] == curve
    # partial_fit holds no rows out, so the validation record no longer fits.
    assert not hasattr(vae, "validation_scores_")
    assert not hasattr(vae, "best_validation_score_")


@pytest.mark.short_fits
def test_fit_after_partial_fit_starts_anew(X, make_vae):
    vae = make_vae(max_epochs=3)
    vae.partial_fit(X).partial_fit(X)
    vae.fit(X)
    assert vae.n_iter_ == 3
    assert_array_equal(vae.transform(X), make_vae(max_epochs=3).fit(X).transform(X))


def test_sparse_chunks_match_dense_chunks(binary_X, make_vae):
    # The same start for both (init='auto' starts dense rows from PCA).
    dense = make_vae(likelihood="bernoulli", init="random")
    sparse = make_vae(likelihood="bernoulli", init="random")
    for chunk in np.array_split(binary_X, 4):
        dense.partial_fit(chunk)
        sparse.partial_fit(sp.csr_matrix(chunk))
    assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-5)
    assert_allclose(
        sparse.transform(binary_X), dense.transform(binary_X), rtol=1e-4, atol=1e-5
    )


def _state(vae, X):
    return (
        set(vars(vae)),
        vae.n_iter_,
        list(vae.loss_curve_),
        vae.transform(X),
        [
            value.clone()
            for moments in vae._optimizer_state["state"].values()
            for value in moments.values()
        ],
    )


def _assert_same_state(before, after):
    for old, new in zip(before, after, strict=True):
        if isinstance(old, list) and old and torch.is_tensor(old[0]):
            assert all(torch.equal(a, b) for a, b in zip(old, new, strict=True))
        elif isinstance(old, np.ndarray):
            assert_array_equal(old, new)
        else:
            assert old == new


@pytest.mark.parametrize(
    "change, bad, error, message",
    [
        ({}, "fewer features", ValueError, "8 features"),
        ({}, "nan", ValueError, "no observed cell"),
        ({}, "negative weights", ValueError, "(?i)negative"),
        ({"likelihood": "bernoulli"}, None, ValueError, "bernoulli"),
        ({"latent_dim": 3}, None, ValueError, "partial_fit continues .* latent_dim"),
        (
            {"learning_rate": 1e12, "batch_size": 1},
            None,
            FloatingPointError,
            "smaller learning_rate",
        ),
        # parameters set after the first call are validated too (a negative
        # beta trained silently, batch_size=0 divided by zero)
        ({"beta": -1.0}, None, InvalidParameterError, "'beta' parameter"),
        ({"batch_size": 0}, None, InvalidParameterError, "'batch_size' parameter"),
    ],
    ids=[
        "n_features",
        "nan",
        "weights",
        "domain",
        "latent_dim",
        "diverged",
        "beta",
        "batch_size",
    ],
)
def test_bad_call_leaves_the_model_intact(X, make_vae, change, bad, error, message):
    vae = make_vae().partial_fit(X[:150])
    before, params = _state(vae, X), vae.get_params()
    vae.set_params(**change)
    chunk, weights = X[150:], None
    if bad == "fewer features":
        chunk = chunk[:, :5]
    elif bad == "nan":
        chunk = chunk.copy()
        chunk[3] = np.nan  # a row with nothing observed
    elif bad == "negative weights":
        weights = -np.ones(len(chunk))
    with pytest.raises(error, match=message):
        vae.partial_fit(chunk, sample_weight=weights)
    vae.set_params(**params)
    _assert_same_state(before, _state(vae, X))


def test_an_estimator_pickled_before_a_parameter_existed_takes_its_default(X):
    from skvae import VAEImputer

    imputer = VAEImputer(hidden_layer_sizes=(16,), random_state=0).partial_fit(X)
    del imputer.missing_values  # as an imputer pickled before it existed
    imputer = pickle.loads(pickle.dumps(imputer))
    assert np.isnan(imputer.missing_values)
    imputer.partial_fit(X)  # before: AttributeError in the parameters' check


def test_detector_offset_comes_from_every_row_of_the_stream(X):
    detector = VAEOutlierDetector(
        hidden_layer_sizes=(16,), contamination=0.1, random_state=0
    )
    first, second = X[:150], X[150:]
    detector.partial_fit(first)
    detector.partial_fit(second)
    assert detector.n_iter_ == 2
    # fewer rows than the sample holds: the threshold of all of them
    scores = detector.score_samples(X)
    assert detector.offset_ == pytest.approx(_threshold(scores, 0.1), rel=1e-5)
    # Rows of weight 0 take no part in the threshold, as in fit.
    weights = np.r_[np.zeros(50), np.ones(100)]
    detector.partial_fit(first, sample_weight=weights)
    scores = detector.score_samples(np.r_[X, first[50:]])
    assert detector.offset_ == pytest.approx(_threshold(scores, 0.1), rel=1e-5)
    # a contamination set after the first call is validated as on it
    with pytest.raises(InvalidParameterError, match="'contamination' parameter"):
        detector.set_params(contamination=-0.2).partial_fit(second)


def test_a_stream_pickled_before_rows_kept_weights_goes_on(X):
    detector = VAEOutlierDetector(hidden_layer_sizes=(16,), random_state=0)
    detector.partial_fit(X[:150])
    old = copy.copy(detector._trained_rows)
    del old.__dict__["weights"]  # as a model pickled before held it
    detector._trained_rows = pickle.loads(pickle.dumps(old))
    assert_array_equal(detector._trained_rows.weights, np.ones(150))
    detector.partial_fit(X[150:])
    assert detector._trained_rows.n_rows == len(X)


def test_a_last_chunk_of_one_row_sets_neither_threshold_nor_prior_alone():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(401, 4)) @ rng.normal(size=(4, 4))
    params = dict(hidden_layer_sizes=(16,), n_threads=1, random_state=0)
    vae = VAETransformer(**params)
    detector = VAEOutlierDetector(contamination=0.05, **params)
    for _ in range(3):
        for chunk in np.array_split(X[:400], 4):
            vae.partial_fit(chunk)
            detector.partial_fit(chunk)
    score = vae.score(X)
    vae.partial_fit(X[400:])
    detector.partial_fit(X[400:])
    # From the one row alone: a mixture prior that is a point (the score fell
    # by 1.7 nats) and a threshold that flagged 99 % of the rows.
    assert vae.score(X) > score - 0.2
    assert np.mean(detector.predict(X) == -1) == pytest.approx(0.05, abs=0.02)


def test_the_sample_of_rows_is_uniform_over_chunks_of_any_size():
    # a chunk of one row, then one of 999: the first row is as likely as any
    # other to be among the 200 kept (a fifth of the time)
    kept_first = 0
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        rows = np.arange(1000.0)[:, None]
        sample = RowSample.of(rows[:1], rng, max_rows=200).add(rows[1:], rng)
        assert sample.n_rows == 200 and sample.rows.shape == (200, 1)
        assert np.all(np.diff(sample.rows[:, 0]) > 0)  # in the order they came
        kept_first += sample.rows[0, 0] == 0
    assert kept_first / 1000 == pytest.approx(0.2, abs=0.04)


def test_the_sample_of_rows_is_bounded_by_rows_and_by_stored_values():
    rng = np.random.default_rng(0)
    assert RowSample.of(np.zeros((3000, 10)), rng).n_rows == MAX_ROWS
    assert RowSample.of(np.zeros((3000, 1000)), rng).n_rows == MAX_VALUES // 1000
    assert RowSample.of(np.zeros((3, 10**6)), rng).n_rows == 1
    # a first chunk of sparse rows, then denser ones: the bound is on the
    # values held, not the first rows' width
    sparse = sp.random(300, 3000, density=1 / 3000, format="csr", random_state=0)
    sample = RowSample.of(sparse, rng)
    for _ in range(4):
        sample = sample.add(sp.csr_matrix(rng.normal(size=(600, 3000))), rng)
    assert sample.rows.nnz <= 1.1 * MAX_VALUES and sample.rows.dtype == np.float32
    mixed = RowSample.of(np.ones((3, 4)), rng).add(sp.csr_matrix(np.eye(4)), rng)
    assert sp.issparse(mixed.rows) and mixed.rows.shape == (7, 4)


def test_the_sample_of_rows_stays_uniform_when_heavy_rows_come_first():
    # Heavy sparse rows shrank the sample to their smallest keys; lighter
    # rows then filled it back up almost alone: the heavy chunk, half of the
    # rows, held a tenth of the sample
    n_rows, width = 2000, 2500  # 2,500 values a row: 200 rows kept
    heavy = sp.csr_matrix(
        (
            np.ones(n_rows * width),
            np.tile(np.arange(width), n_rows),
            np.arange(0, n_rows * width + 1, width),
        ),
        shape=(n_rows, width),
    )
    light = sp.csr_matrix(
        (np.ones(n_rows), (np.arange(n_rows), np.zeros(n_rows, dtype=int))),
        shape=(n_rows, width),
    )
    heavy_shares = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        sample = RowSample.of(heavy, rng).add(light, rng)
        assert sample.rows.nnz <= MAX_VALUES
        heavy_shares.append(np.mean(sample.rows.getnnz(axis=1) > 1))
    assert np.mean(heavy_shares) == pytest.approx(0.5, abs=0.05)


def test_the_sample_copies_no_more_wide_rows_than_it_keeps():
    # float64 rows of 10,000 values: 2,000 were copied twice to keep 50
    import tracemalloc

    X = np.random.RandomState(0).rand(2100, 10_000)
    tracemalloc.start()
    sample = RowSample.of(X, np.random.default_rng(0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sample.rows.shape == (MAX_VALUES // 10_000, 10_000)
    assert peak < 4 * sample.rows.nbytes  # it was 160 times


def test_the_sample_holds_no_more_values_than_its_bound_for_one_heavy_row():
    # the bound came from the rows' mean width: one row of 5,000,000 values
    # among light ones was kept a tenth of the time
    light = sp.csr_matrix(
        (np.ones(1999), (np.arange(1999), np.zeros(1999, dtype=int))),
        shape=(1999, 5_000_000),
    )
    heavy = sp.csr_matrix(np.ones((1, 5_000_000)))
    rows = sp.vstack([light, heavy], "csr")
    for seed in range(40):
        sample = RowSample.of(rows, np.random.default_rng(seed))
        assert sample.rows.nnz <= MAX_VALUES or sample.n_rows == 1


def test_drop_optimizer_state_drops_the_sample_and_a_stream_starts_another(X):
    vae = VAETransformer(hidden_layer_sizes=(16,), n_threads=1, random_state=0)
    vae.partial_fit(X)
    assert vae._trained_rows.n_rows == len(X)
    vae.drop_optimizer_state()
    assert not hasattr(vae, "_trained_rows")
    vae.partial_fit(X[:100])
    assert vae._trained_rows.n_rows == 100
    vae.fit(X[:50])  # a fit starts from its own rows
    assert vae._trained_rows.n_rows == 50


def test_later_chunks_widen_the_range_that_table_rows_are_clipped_to(make_vae):
    import pandas as pd

    rng = np.random.RandomState(0)
    vae = make_vae(hidden_layer_sizes=(16,), n_threads=1)
    vae.partial_fit(
        pd.DataFrame({"x": rng.uniform(0, 1, 50), "y": rng.uniform(0, 1, 50)})
    )
    wide = pd.DataFrame({"x": rng.uniform(0, 3, 100), "y": rng.uniform(0, 3, 100)})
    for _ in range(20):
        vae.partial_fit(wide)
    rows = vae.sample(500, random_state=0).to_numpy()
    # clipped to the range of every row trained on, not of the first chunk's
    assert (rows > 1).any() and (rows <= wide.max().to_numpy()).all()
    bad = wide.copy()
    bad.iloc[0, 0] = np.inf
    with pytest.raises(ValueError, match="holds inf"):
        vae.partial_fit(bad)
    assert_array_equal(vae.sample(500, random_state=0).to_numpy(), rows)


@pytest.mark.parametrize(
    "first_dtype, widened_dtype",
    [
        ("int8", "int16"),
        ("Int8", "Int16"),
        ("uint8", "uint16"),
        ("int64", "int64"),
        ("int8[pyarrow]", "int16[pyarrow]"),
    ],
)
def test_an_integer_column_widens_its_dtype_to_hold_later_chunks(
    make_vae, first_dtype, widened_dtype
):
    import pandas as pd

    if "pyarrow" in first_dtype:
        pytest.importorskip("pyarrow")
    rng = np.random.RandomState(0)
    first = pd.DataFrame({"f": rng.normal(size=100), "i": rng.randint(0, 5, 100)})
    later = pd.DataFrame({"f": rng.normal(size=100), "i": rng.randint(200, 1000, 100)})
    vae = make_vae(hidden_layer_sizes=(16,), n_threads=1)
    vae.partial_fit(first.astype({"i": first_dtype}))
    for _ in range(10):
        vae.partial_fit(later)
    rows = vae.sample(500, random_state=0)
    decoded = vae.inverse_transform(vae.transform(later))
    for table in (rows, decoded):
        assert table["i"].dtype == pd.api.types.pandas_dtype(widened_dtype)
    # the decoded value of the largest number trained on, which int8 clipped
    # to 127
    largest = float(later["i"].max())
    top = vae._table_layout.decode(np.array([[0.0, largest]]))
    assert top["i"].iloc[0] == largest


def test_a_streams_mixture_starts_from_the_last_calls(X, monkeypatch):
    # EM from the last call's mixture, not from k-means: a few steps a call,
    # to a looser tolerance than a mixture fitted afresh
    from sklearn.mixture import GaussianMixture

    import skvae._latent_prior

    starts, tolerances = [], []

    class Recorded(GaussianMixture):
        def __init__(self, **params):
            starts.append(params.get("means_init"))
            super().__init__(**params)
            tolerances.append(self.tol)

    monkeypatch.setattr(skvae._latent_prior, "GaussianMixture", Recorded)
    vae = VAETransformer(hidden_layer_sizes=(16,), latent_prior=3, random_state=0)
    vae.partial_fit(X[:150])
    means = vae.module_.prior_means.numpy().copy()
    vae.partial_fit(X[150:])
    assert starts[0] is None
    assert_allclose(starts[1], means, rtol=1e-6)
    vae.fit(X)  # a fit starts afresh
    assert starts[2] is None
    vae.set_params(latent_prior=4).partial_fit(X)  # another number of components
    assert starts[3] is None
    assert tolerances == [1e-3, 1e-2, 1e-3, 1e-3]


@pytest.mark.short_fits
@pytest.mark.parametrize("to_matrix", [np.asarray, sp.csr_matrix])
def test_a_chunk_far_outside_the_first_chunk_s_spread_warns(to_matrix):
    rng = np.random.RandomState(0)
    first = rng.normal(size=(100, 3))
    first[:, 2] = 0.0
    first[0, 2] = 1e-12  # a column that barely varies in the first chunk
    # (latent_prior="normal": training on the far chunk diverges, and the
    # mixture of the default cannot be fitted to its collapsed codes)
    vae = VAETransformer(hidden_layer_sizes=(8,), latent_prior="normal", random_state=0)
    vae.partial_fit(to_matrix(first))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vae.partial_fit(to_matrix(first[::-1]))  # the same spread
    with pytest.warns(
        UserWarning, match=r"Column 2 of X holds values .* times the spread"
    ):
        vae.partial_fit(to_matrix(rng.normal(size=(100, 3))))


@pytest.mark.short_fits
def test_views_of_negative_strides_train(make_vae):
    # torch reads no such NumPy view: fit raised on X[::-1] and np.flip(X)
    X = np.random.RandomState(0).normal(size=(60, 3))
    weights = np.linspace(0.5, 1.5, 60)
    flipped = make_vae(max_epochs=2).fit(X[::-1], sample_weight=weights[::-1])
    copied = make_vae(max_epochs=2).fit(
        X[::-1].copy(), sample_weight=weights[::-1].copy()
    )
    assert flipped.loss_curve_ == copied.loss_curve_
    flipped.partial_fit(np.flip(X))


@pytest.mark.short_fits
def test_a_mixture_that_cannot_be_fitted_reports_a_diverged_fit():
    from skvae import TrainingDivergedError

    rng = np.random.RandomState(0)
    first = rng.normal(size=(100, 3))
    first[:, 2] = 0.0
    first[0, 2] = 1e-12
    vae = VAETransformer(hidden_layer_sizes=(8,), random_state=0).partial_fit(first)
    n_iter = vae.n_iter_
    with pytest.warns(UserWarning, match="times the spread"):
        with pytest.raises(TrainingDivergedError, match="codes .* collapsed"):
            vae.partial_fit(rng.normal(size=(100, 3)))
    assert vae.n_iter_ == n_iter  # the stream is as it was


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "estimator, learning_rate",
    [(VAETransformer, 1e8), (VAEOutlierDetector, 1e12)],
)
def test_a_pass_whose_last_step_breaks_the_network_is_rolled_back(
    estimator, learning_rate
):
    # The pass's loss is computed before its steps, and the weights stay
    # finite (about 1e8) after the last one, but the network overflows on
    # every row. Before, partial_fit kept it: the transformer scored every
    # row -inf, the detector's offset_ was NaN and every row an outlier.
    from skvae import TrainingDivergedError

    X = np.random.RandomState(0).normal(size=(100, 3)) * 1e3
    model = estimator(hidden_layer_sizes=(8,), max_epochs=5, random_state=0).fit(X)
    scores = model.score_samples(X)
    model.set_params(learning_rate=learning_rate)
    with pytest.raises(
        TrainingDivergedError,
        match=r"training rows' ELBO became (-inf|nan) after the last step of epoch 6",
    ):
        model.partial_fit(X)
    assert model.n_iter_ == 5
    assert_array_equal(model.score_samples(X), scores)


@pytest.mark.short_fits
def test_a_stream_warns_of_far_conditions_and_not_of_far_atoms():
    rng = np.random.RandomState(0)
    # atoms far from a tight spread of other values, in every chunk alike
    stamps = np.where(rng.rand(300) < 0.2, 0.0, 1.7e9 + rng.normal(0, 1e6, 300))
    X = np.c_[stamps, rng.normal(size=300)]
    vae = VAETransformer(
        likelihood="inflated_gaussian", hidden_layer_sizes=(8,), random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for chunk in np.array_split(X, 3):
            vae.partial_fit(chunk)
    # a condition that barely varies in the first chunk
    first = pd.DataFrame(
        {"x": rng.normal(size=100), "t": 1 + 1e-9 * rng.normal(size=100)}
    )
    later = pd.DataFrame({"x": rng.normal(size=100), "t": rng.normal(size=100)})
    vae = VAETransformer(
        hidden_layer_sizes=(8,), condition_on="t", latent_prior="normal", random_state=0
    ).partial_fit(first)
    with pytest.warns(UserWarning, match="Column 't' of X holds values"):
        vae.partial_fit(later)


@pytest.mark.short_fits
def test_the_far_condition_check_reads_the_conditions_wherever_they_stand():
    rng = np.random.RandomState(0)
    params = dict(hidden_layer_sizes=(8,), latent_prior="normal", random_state=0)
    # a condition far from 0 in its own units, given again: nothing far
    years = pd.DataFrame(
        {"a": rng.normal(size=200), "year": rng.normal(5000, 1, 200)}
    ).iloc[:, ::-1]
    vae = VAETransformer(condition_on="year", max_epochs=2, **params).partial_fit(years)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        vae.partial_fit(years)
    # a condition first among the columns, a million spreads away
    first = pd.DataFrame({"t": rng.normal(size=200), "a": rng.normal(size=200)})
    vae = VAETransformer(condition_on="t", max_epochs=2, **params).partial_fit(first)
    with pytest.warns(
        UserWarning, match=r"Column 't' of X holds values 9.69e\+05 times"
    ):
        vae.partial_fit(first.assign(t=1e6))


@pytest.mark.short_fits
def test_a_conditional_imputer_without_a_column_continues():
    X = np.random.RandomState(0).normal(size=(200, 4))
    X[:, 1] = np.nan  # left out of the model
    X[::7, 0] = np.nan
    imputer = VAEImputer(
        condition_on=3, hidden_layer_sizes=(8,), max_epochs=2, random_state=0
    )
    with pytest.warns(UserWarning, match="Skipping features without any observed"):
        imputer.fit(X)
        imputer.partial_fit(X)
        imputer.set_params(warm_start=True).fit(X)
    filled = imputer.transform(X)  # the empty column dropped, as SimpleImputer does
    assert filled.shape == (200, 3) and not np.isnan(filled).any()


def test_a_later_chunk_may_leave_a_column_empty(X, make_vae):
    holed = X[:60].copy()
    holed[:, 1] = np.nan
    with pytest.raises(ValueError, match="Column 1 of X has no observed cell"):
        make_vae().partial_fit(holed)  # nothing to learn the column from
    vae = make_vae().partial_fit(X[60:])
    before = vae.transform(X[:5])
    vae.partial_fit(holed)  # the column was learned from the first chunk
    assert vae.n_iter_ == 2
    assert not np.array_equal(vae.transform(X[:5]), before)
    assert np.isfinite(vae.score_samples(holed)).all()
