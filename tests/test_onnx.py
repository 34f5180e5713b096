"""ONNX export: skl2onnx converters, run in ONNX Runtime, and the torch route."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

onnxruntime = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
skvae_onnx = pytest.importorskip("skvae.onnx")

from skvae._likelihoods import Likelihood, PoissonFamily, RealValued  # noqa: E402


def run(model, X, **options):
    """Convert ``model`` for ``X``'s dtype and run it in ONNX Runtime."""
    onx = skl2onnx.to_onnx(model, X[:1], **options)
    session = onnxruntime.InferenceSession(onx.SerializeToString())
    return session.run(None, {"X": X})


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def test_a_pipeline_with_a_vae_runs_without_torch(cancer, make_vae):
    X, y = cancer
    pipeline = make_pipeline(
        StandardScaler(), make_vae(latent_dim=3), LogisticRegression()
    ).fit(X, y)
    X32 = X.astype(np.float32)
    labels, probabilities = run(pipeline, X32, options={"zipmap": False})
    assert_array_equal(labels, pipeline.predict(X32))
    assert_allclose(probabilities, pipeline.predict_proba(X32), atol=1e-5)
    (latents,) = run(pipeline[:-1], X32)
    assert latents.shape == (len(X), 3)
    assert np.abs(latents - pipeline[:-1].transform(X32)).max() < 1e-5


@pytest.mark.parametrize(
    "likelihood", ["gaussian", "poisson", "multinomial", "bernoulli"]
)
def test_transform_matches_for_each_encoder_input(likelihood, binary_X, make_vae):
    X = binary_X * (3.0 if likelihood in ("poisson", "multinomial") else 1.0)
    vae = make_vae(likelihood=likelihood).fit(X)
    for dtype in (np.float32, np.float64):  # computed in float32, given as the input
        (latents,) = run(vae, X.astype(dtype))
        assert latents.dtype == dtype
        assert np.abs(latents - vae.transform(X)).max() < 1e-5


@pytest.mark.parametrize(
    "hidden, activation",
    [((), "relu"), ((8, 4), "tanh"), ((8,), "logistic"), ((8,), "identity")],
)
def test_transform_matches_for_each_network(hidden, activation, X, make_vae):
    vae = make_vae(hidden_layer_sizes=hidden, activation=activation).fit(X)
    (latents,) = run(vae, X.astype(np.float32))
    assert np.abs(latents - vae.transform(X)).max() < 1e-5


def test_blocks_of_columns_are_gathered_in_the_encoders_order(X, make_vae):
    vae = make_vae(device="cpu").fit(X)  # its likelihood is replaced by one on the CPU
    counts = np.abs(np.round(X))
    # Columns 1 and 4 as counts, the rest real-valued: a layout whose blocks
    # are not in column order, on the network of the fitted model.
    real = [0, 2, 3, 5, 6, 7]
    vae.module_.likelihood = Likelihood(
        [
            ([1, 4], PoissonFamily.from_data(counts[:, [1, 4]])),
            (real, RealValued.from_data(counts[:, real])),
        ]
    )
    (latents,) = run(vae, counts.astype(np.float32))
    assert np.abs(latents - vae.transform(counts)).max() < 1e-5


def test_float64_input_gives_float64_outputs_to_the_steps_after(cancer, make_vae):
    # before: the latents were float32 where skl2onnx had typed the next
    # step for float64, and ONNX Runtime refused to load the graph
    X, y = cancer
    pipeline = make_pipeline(make_vae(latent_dim=3), StandardScaler()).fit(X, y)
    (scaled,) = run(pipeline, X)
    assert scaled.dtype == np.float64
    assert np.abs(scaled - pipeline.transform(X)).max() < 1e-4
    classifier = make_pipeline(make_vae(latent_dim=3), LogisticRegression()).fit(X, y)
    labels, _ = run(classifier, X, options={"zipmap": False})  # as for float64 alone
    assert_array_equal(labels, classifier.predict(X))


@pytest.mark.parametrize(
    "likelihood",
    [
        "laplace_standardised",
        "gaussian",
        "gaussian_standardised",
        "gaussian_fixed",
        "laplace",
        "bernoulli",
    ],
)
def test_detector_labels_and_scores_match(likelihood, X, binary_X, make_detector):
    data = binary_X if likelihood == "bernoulli" else X
    detector = make_detector(likelihood=likelihood, contamination=0.1).fit(data)
    decision = detector.decision_function(data)
    for dtype in (np.float32, np.float64):  # scores in the input's type
        labels, scores = run(detector, data.astype(dtype))
        assert (labels == -1).sum() > 0
        assert_array_equal(labels, detector.predict(data))
        assert scores.shape == (len(data), 1) and scores.dtype == dtype
        assert_allclose(scores[:, 0], decision, rtol=1e-5, atol=1e-4)


def test_detector_scores_rows_with_placeholder_values_as_torch_does(X, make_detector):
    detector = make_detector().fit(X)
    rows = X[:3].copy()
    rows[:, 1] = [9.96921e36, np.finfo(np.float32).min, 1e20]
    labels, scores = run(detector, rows.astype(np.float32))
    assert_array_equal(labels, detector.predict(rows))
    assert_array_equal(labels, -1)
    assert_allclose(scores[:, 0], detector.decision_function(rows), rtol=1e-5)


def test_detector_flags_rows_that_overflow_the_network_as_torch_does(make_detector):
    # cells near float32's limit in every column: inf - inf in the network,
    # NaN log weights, which torch reads as probability 0 and ONNX read as NaN
    # (labelled an inlier)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 10))
    detector = make_detector(hidden_layer_sizes=(8,), n_importance_samples=20)
    detector.fit(X)
    rows = rng.choice([3.4e38, -3.4e38], size=(6, 10)).astype(np.float32)
    labels, scores = run(detector, rows)
    assert_array_equal(labels, detector.predict(rows))
    assert_array_equal(labels, -1)
    assert_array_equal(scores[:, 0], -np.inf)
    # a missing cell is marginalised, not an overflow
    holed = X[:2].astype(np.float32)
    holed[0, 1] = np.nan
    labels, scores = run(detector, holed)
    assert_array_equal(labels, detector.predict(holed))
    assert_allclose(scores[:, 0], detector.decision_function(holed), rtol=1e-5)


@pytest.mark.parametrize("likelihood", ["laplace_standardised", "gaussian"])
def test_detector_scores_rows_near_float32_limits_as_torch_does(
    likelihood, X, make_detector
):
    # cells of 1e19 to 1e21: some draws of a row overflow to -inf while the
    # others are finite, hugely negative; torch's logsumexp keeps the finite
    # ones, and so must the graph (ONNX Runtime's ReduceLogSumExp does not)
    detector = make_detector(likelihood=likelihood).fit(X)
    rows = np.repeat(X[:1], 200, axis=0)
    rows[:, 0] = np.logspace(19, 21, 200)
    _, scores = run(detector, rows.astype(np.float32))
    expected = detector.decision_function(rows)
    assert_array_equal(np.isfinite(scores[:, 0]), np.isfinite(expected))
    finite = np.isfinite(expected)
    assert finite.any() and not finite.all()
    assert_allclose(scores[finite, 0], expected[finite], rtol=1e-4)


def test_detector_with_a_count_likelihood_is_refused(binary_X, make_detector):
    detector = make_detector(likelihood="poisson").fit(binary_X)
    with pytest.raises(NotImplementedError, match="'poisson' is not among them"):
        skl2onnx.to_onnx(detector, binary_X[:1].astype(np.float32))


def test_an_unfitted_model_is_refused_as_not_fitted(X, make_vae, make_detector):
    from sklearn.exceptions import NotFittedError

    for model in (make_vae(), make_detector()):  # not an AttributeError
        with pytest.raises(NotFittedError):
            skl2onnx.to_onnx(model, X[:1].astype(np.float32))


def test_an_opset_before_18_is_refused(X, make_vae):
    vae = make_vae().fit(X)
    with pytest.raises(ValueError, match="target_opset >= 18, got 17"):
        skl2onnx.to_onnx(vae, X[:1].astype(np.float32), target_opset=17)


def test_the_fitted_network_exports_with_torch_export(X, make_vae):
    vae = make_vae(device="cpu").fit(X)
    x = torch.as_tensor(X, dtype=torch.float32)
    program = torch.export.export(
        vae.module_, (x[:2],), dynamic_shapes=({0: torch.export.Dim("rows")},)
    )
    assert_allclose(program.module()(x).detach().numpy(), vae.transform(X), atol=1e-6)


# torch 2.13's torch.onnx.export deep-copies its own pytree specs while it
# decomposes the program, which trips a deprecation inside torch itself.
@pytest.mark.filterwarnings(
    r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning"
)
@pytest.mark.skipif(
    torch.__version__ < "2.5", reason="torch.onnx.export takes dynamo=True from 2.5"
)
def test_the_fitted_network_exports_with_torch_onnx(X, make_vae):
    pytest.importorskip("onnxscript")
    vae = make_vae(device="cpu").fit(X)
    x = torch.as_tensor(X[:2], dtype=torch.float32)
    program = torch.onnx.export(
        vae.module_, (x,), dynamo=True, dynamic_shapes=({0: "rows"},), verbose=False
    )
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString())
    (latents,) = session.run(None, {session.get_inputs()[0].name: X.astype("float32")})
    assert np.abs(latents - vae.transform(X)).max() < 1e-5


@pytest.mark.parametrize("family", ["categorical", "inflated_gaussian"])
def test_a_model_with_one_hot_columns_is_refused(make_vae, family):
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=100), rng.randint(3, size=100)])
    vae = make_vae(likelihood={1: family}).fit(X)
    with pytest.raises(NotImplementedError, match=f"'{family}' columns are read"):
        skl2onnx.to_onnx(vae, X[:1].astype(np.float32))


def with_holes(X, share=0.2, seed=0):
    """``X`` with a ``share`` of its cells missing, no row left empty."""
    X = X.astype(np.float64)
    holes = np.random.RandomState(seed).rand(*X.shape) < share
    holes[:, 0] &= holes[:, 1:].sum(1) < X.shape[1] - 1
    X[holes] = np.nan
    return X


@pytest.mark.parametrize("missing_in_fit", [True, False])
def test_transform_reads_missing_cells_as_torch_does(missing_in_fit, X, make_vae):
    # fitted on rows with holes, the encoder also reads which cells are missing
    holed = with_holes(X)
    vae = make_vae().fit(holed if missing_in_fit else X)
    assert vae.module_.likelihood.missing_indicators == missing_in_fit
    (latents,) = run(vae, holed.astype(np.float32))
    assert np.isfinite(latents).all()
    assert np.abs(latents - vae.transform(holed)).max() < 1e-5


def test_missing_cells_of_several_blocks_are_flagged_in_column_order(X, make_vae):
    # counts in columns 1 and 4, read through log1p; the indicators follow
    # the values of every block, in the columns' order
    counts = with_holes(np.abs(np.round(X)))
    vae = make_vae(likelihood={1: "poisson", 4: "poisson"}).fit(counts)
    (latents,) = run(vae, counts.astype(np.float32))
    assert np.abs(latents - vae.transform(counts)).max() < 1e-5


@pytest.mark.parametrize("likelihood", ["gaussian", "laplace", "bernoulli"])
def test_detector_scores_the_observed_cells_as_torch_does(
    likelihood, X, binary_X, make_detector
):
    data = with_holes(binary_X if likelihood == "bernoulli" else X)
    detector = make_detector(likelihood=likelihood, contamination=0.1).fit(data)
    labels, scores = run(detector, data.astype(np.float32))
    assert_array_equal(labels, detector.predict(data))
    assert_allclose(
        scores[:, 0], detector.decision_function(data), rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("vae", {"condition_on": "c"}, "fitted with condition_on"),
        ("vae", {"likelihood": {"c": "categorical"}}, "'categorical' columns are read"),
        ("detector", {"latent_prior": 2}, "latent_prior=2"),
        ("detector", {"likelihood": {"c": "poisson"}}, "'poisson' is not among"),
    ],
)
def test_an_unconvertible_model_is_refused_whatever_its_input(
    kind, params, message, make_vae, make_detector
):
    # before: given a DataFrame, such a model was told to convert with an
    # array of its rows, and then refused
    import pandas as pd

    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    frame["c"] = rng.randint(3, size=100)
    model = (make_vae if kind == "vae" else make_detector)(**params).fit(frame)
    for given in (frame[:1], frame.to_numpy(np.float32)[:1]):
        with pytest.raises(NotImplementedError, match=message):
            skl2onnx.to_onnx(model, given)


@pytest.mark.short_fits
def test_an_imputer_is_refused_by_name():
    from skvae import VAEImputer

    X = np.random.RandomState(0).normal(size=(100, 3))
    X[::7, 1] = np.nan
    imputer = VAEImputer(hidden_layer_sizes=(4,), max_epochs=2, random_state=0).fit(X)
    with pytest.raises(NotImplementedError, match="no converter for VAEImputer"):
        skl2onnx.to_onnx(imputer, X[:1].astype(np.float32))


def test_a_detector_scored_with_another_draw_count_is_warned_of(make_detector):
    X = np.random.RandomState(0).normal(size=(100, 3))
    detector = make_detector().fit(X).set_params(n_importance_samples=3)
    with pytest.warns(UserWarning, match="offset_ was set .* estimated with 3"):
        skl2onnx.to_onnx(detector, X[:1].astype(np.float32))


def test_a_frame_of_one_input_per_column_is_refused(make_vae, make_detector):
    import pandas as pd

    X = np.random.RandomState(0).normal(size=(100, 3)).astype(np.float32)
    frame = pd.DataFrame(X, columns=list("abc"))
    for model in (make_vae().fit(frame), make_detector().fit(frame)):
        with pytest.raises(ValueError, match="one input of all 3 columns, but it was"):
            skl2onnx.to_onnx(model, frame[:1])
        with pytest.raises(ValueError, match="reads 3 columns, but its input has 2"):
            skl2onnx.to_onnx(model, X[:1, :2])
        # before: a 1-D input converted, and its graph gave a 1-D output
        from skl2onnx.common.data_types import FloatTensorType

        for shape in ([None], [None, 3, 1]):
            with pytest.raises(ValueError, match=r"a 2-D input .* has shape \["):
                skl2onnx.to_onnx(model, initial_types=[("X", FloatTensorType(shape))])
        # an input of no declared shape converts, as it did
        skl2onnx.to_onnx(model, initial_types=[("X", FloatTensorType())])
        # an array of the frame's rows converts and matches
        outputs = run(model, X)
        expected = (
            model.transform(frame)
            if hasattr(model, "transform")
            else model.decision_function(frame)[:, None]
        )
        assert_allclose(outputs[-1], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.short_fits
def test_a_value_standardised_beyond_float32_reads_as_its_limit(make_vae):
    # a column of spread 1e-3: 3e38 standardises to inf, which torch's
    # nan_to_num reads as float32's largest value
    X = np.random.RandomState(0).normal(size=(100, 3)) * 1e-3
    vae = make_vae(hidden_layer_sizes=(8,)).fit(X)
    rows = X[:2].copy()
    rows[0, 0] = 3e38
    (latents,) = run(vae, rows.astype(np.float32))
    expected = vae.transform(rows)
    assert np.isfinite(latents).all()
    assert_allclose(latents, expected, rtol=1e-5)
