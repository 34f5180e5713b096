"""Bad input gets a clear error, raised before the fitted model changes."""

import warnings
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

from skvae import VAEImputer, VAETransformer
from skvae._missing import has_missing


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[np.nan, np.nan], [2.0, 3.0]]), "Row 0 of X has no observed"),
        (np.array([[np.nan, 1.0], [np.nan, 3.0]]), "Column 0 of X has no observed"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), "Column 1 of X holds inf in row 0"),
        (np.array([[1.0, 2.0], [np.nan, -np.inf]]), "Column 1 of X holds -inf in row"),
        (np.array([[1.0, 1e300], [2.0, 3.0]]), "Column 1 of X holds 1e\\+300 in row 0"),
        (sp.csr_matrix([[1.0, 0], [-1e39, np.nan]]), "holds -1e\\+39 in row 1, beyond"),
        (sp.csr_matrix([[1.0, 0], [-np.inf, 3.0]]), "Column 0 of X holds -inf in row"),
        (sp.csr_matrix([[np.nan, np.nan], [2.0, 3.0]]), "Row 0 of X has no observed"),
        (sp.csr_matrix([[np.nan, 1.0], [np.nan, 0.0]]), "Column 0 of X has no obs"),
        (np.empty((0, 2)), "0 sample"),
        (np.empty((3, 0)), "0 feature"),
        (np.array([1.0, 2.0, 3.0]), "Expected 2D array, got 1D"),
    ],
)
def test_bad_X_is_rejected_by_fit(bad, message):
    with pytest.raises(ValueError, match=message):
        VAETransformer().fit(bad)


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "bad, message",
    [
        ("abc", "Expected 2D array, got scalar"),
        ({"a": [1.0, 2.0]}, "Expected 2D array, got scalar"),
        (None, "Expected 2D array, got scalar array instead:\narray=None"),
        ([1.0, 2.0], "Expected 2D array, got 1D"),
        (pd.DataFrame(index=range(5)), "0 feature"),
    ],
)
def test_what_is_no_table_gets_scikit_learns_messages(bad, message):
    # before: AttributeError "'str' object has no attribute 'shape'", the
    # message of a row of 0 features, "at least one array or dtype is required"
    from skvae import VAEImputer

    frame = pd.DataFrame({"a": np.arange(40.0) % 7, "b": np.arange(40.0) % 3})
    for model in (VAETransformer, VAEImputer):
        with pytest.raises(ValueError, match=message):
            model().fit(bad)
        fitted = model(hidden_layer_sizes=(4,), max_epochs=1).fit(frame)
        with pytest.raises(ValueError, match=message):
            fitted.transform(bad)


@pytest.mark.short_fits
def test_no_rows_are_refused_naming_the_estimator_whatever_the_container():
    # before: a DataFrame's and inverse_transform's message named none
    from skvae import VAEImputer

    frame = pd.DataFrame({"a": np.arange(40.0) % 7, "b": np.arange(40.0) % 3})
    for model in (VAETransformer, VAEImputer):
        name = model.__name__
        for data in (frame, frame.to_numpy()):
            fitted = model(hidden_layer_sizes=(4,), max_epochs=1).fit(data)
            with pytest.raises(ValueError, match=f"0 sample.*required by {name}"):
                fitted.transform(data[:0])
    with pytest.raises(ValueError, match="0 sample.*required by VAETransformer"):
        fitted = VAETransformer(hidden_layer_sizes=(4,), max_epochs=1).fit(frame)
        fitted.inverse_transform(np.empty((0, fitted.latent_dim)))


def test_finite_values_near_the_floats_limits_are_not_missing():
    # Their sum overflows, to inf and -inf in two partial sums, and so to NaN.
    X = np.full((4, 8), 3e38, dtype=np.float32)
    X[:, 1::2] = -3e38
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not has_missing(X)
        assert not has_missing(sp.csr_matrix((3, 2)))  # nothing stored


def test_text_is_rejected_by_a_numeric_family():
    text = np.array([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="Column 0 of X holds 'a', which likeli"):
        VAETransformer(likelihood="gaussian").fit(text)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": 1.5}, "latent_dim"),
        ({"likelihood": "cauchy"}, "likelihood"),
        ({"activation": "swish"}, "activation"),
        ({"beta": -1.0}, "beta"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"n_importance_samples": 0}, "n_importance_samples"),
        ({"n_training_draws": 0}, "n_training_draws"),
        ({"n_learning_rate_drops": -1}, "n_learning_rate_drops"),
        ({"support_fraction": 0.0}, "support_fraction"),
        ({"support_fraction": 1.5}, "support_fraction"),
        ({"support_warmup_epochs": -1}, "support_warmup_epochs"),
        ({"device": 3}, "device"),
        ({"hidden_layer_sizes": (16, 0)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (16, 2.5)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": True}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (16, True)}, "hidden_layer_sizes"),
    ],
)
def test_invalid_parameters_are_named(X, params, message):
    with pytest.raises(ValueError, match=message):
        VAETransformer(**params).fit(X)


def test_bernoulli_rejects_values_outside_unit_interval(X):
    with pytest.raises(
        ValueError, match=r"likelihood='bernoulli' needs values in \[0, 1\]"
    ):
        VAETransformer(likelihood="bernoulli").fit(X)
    with pytest.raises(ValueError, match="bernoulli"):
        VAETransformer(likelihood="bernoulli").fit(
            sp.csr_matrix(np.array([[0.0, 2.0]]))
        )


def test_bernoulli_score_rejects_values_outside_unit_interval(binary_X, make_vae):
    vae = make_vae(likelihood="bernoulli").fit(binary_X)
    with pytest.raises(ValueError, match="bernoulli"):
        vae.score_samples(binary_X - 0.5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_says_so(X):
    with pytest.raises(ValueError, match="CUDA is not available"):
        VAETransformer(device="cuda").fit(X)
    with pytest.raises(ValueError, match="CUDA is not available"):
        VAETransformer(device=torch.device("cuda:1")).fit(X)


def test_unknown_device_string(X):
    with pytest.raises(ValueError, match="not a device torch knows"):
        VAETransformer(device="gpu").fit(X)


@pytest.mark.parametrize("device", ["meta", "xla", torch.device("meta")])
def test_devices_torch_knows_but_skvae_cannot_train_on(X, device):
    vae = VAETransformer(device=device)
    with pytest.raises(ValueError, match="trains on the device types cpu, cuda, mps"):
        vae.fit(X)
    assert not hasattr(vae, "module_")


def test_transform_checks_the_domain_as_score_samples_does(make_vae):
    counts = np.random.RandomState(0).poisson(2.0, size=(100, 4)).astype(float)
    vae = make_vae(likelihood="poisson").fit(counts)
    bad = counts.copy()
    bad[5, 2] = -1.0
    for method in (vae.transform, vae.score_samples, vae.feature_log_likelihoods):
        with pytest.raises(ValueError, match=r"non-negative counts.*column 2"):
            method(bad)


def test_bernoulli_transform_refuses_values_outside_unit_interval(binary_X, make_vae):
    vae = make_vae(likelihood="bernoulli").fit(binary_X)
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*column 0 of X"):
        vae.transform(np.linspace(0.1, 7.9, 24).reshape(2, 12))


def test_domain_errors_name_dataframe_columns(make_vae):
    pd = pytest.importorskip("pandas")
    counts = pd.DataFrame(
        np.random.RandomState(0).poisson(2.0, size=(100, 3)).astype(float),
        columns=["visits", "clicks", "orders"],
    )
    vae = make_vae(likelihood="poisson").fit(counts)
    counts.loc[3, "orders"] = 1.5
    with pytest.raises(ValueError, match="integer counts.*'orders'.*1.5"):
        vae.transform(counts)


def test_inverse_transform_refuses_nan_latents(X, make_vae):
    vae = make_vae().fit(X)
    with pytest.raises(ValueError, match="row 1 of X is NaN in column 0"):
        vae.inverse_transform(np.array([[0.0, 0.0], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match="row 0 of X holds -inf in column 1"):
        vae.inverse_transform(np.array([[0.0, -np.inf]]))
    # finite in float64, infinite in the network's float32: decoded to NaN
    with pytest.raises(ValueError, match="row 0 of X holds 1e\\+39 in column 1"):
        vae.inverse_transform(np.array([[0.0, 1e39]]))


@pytest.mark.parametrize(
    "method, args",
    [
        ("transform", ("X",)),
        ("inverse_transform", ("Z",)),
        ("score_samples", ("X",)),
        ("score", ("X",)),
        ("sample", ()),
        ("get_feature_names_out", ()),
    ],
)
def test_methods_before_fit_raise_not_fitted(X, method, args):
    values = {"X": X, "Z": np.zeros((2, 2))}
    with pytest.raises(NotFittedError):
        getattr(VAETransformer(), method)(*(values[name] for name in args))


def test_wrong_number_of_features(X, make_vae):
    vae = make_vae().fit(X)
    for method in (vae.transform, vae.score_samples):
        with pytest.raises(ValueError, match="8 features"):
            method(X[:, :5])


@pytest.mark.short_fits
def test_a_table_model_checks_the_width_of_arrays_before_their_levels():
    import pandas as pd

    from skvae import VAEImputer, VAEOutlierDetector

    rng = np.random.RandomState(0)
    table = pd.DataFrame({"s": rng.choice(["a", "b"], 40), "x": rng.normal(size=40)})
    for estimator in (VAETransformer, VAEImputer, VAEOutlierDetector):
        fitted = estimator(hidden_layer_sizes=(16,), max_epochs=2, random_state=0)
        fitted.fit(table)
        # scikit-learn's order: the warning for an array without fit's names,
        # then the error for its width
        with (
            pytest.warns(UserWarning, match="does not have valid feature names"),
            pytest.raises(ValueError, match="X has 3 features, but .* expecting 2"),
        ):
            fitted.score_samples(np.zeros((5, 3)))  # not "'s' holds 0.0, which ..."
        with pytest.raises(ValueError, match="Expected 2D array, got 1D"):
            fitted.score_samples(np.zeros(5))


def _fitted_outputs(vae, X):
    return vae.transform(X), vae.score_samples(X), list(vae.loss_curve_)


@pytest.mark.parametrize(
    "change, bad_X",
    [
        ({}, "nan"),
        ({}, "1-D"),
        ({"likelihood": "bernoulli"}, None),
        ({"device": "no-such-device"}, None),
        ({"warm_start": True, "latent_dim": 5}, None),
        ({"warm_start": True, "activation": "tanh"}, None),
        ({"learning_rate": 1e12, "max_epochs": 50}, None),
    ],
    ids=["nan", "1-D", "domain", "device", "latent_dim", "activation", "diverged"],
)
def test_failed_refit_leaves_the_model_intact(X, make_vae, change, bad_X):
    vae = make_vae().fit(X)
    before = _fitted_outputs(vae, X)
    attributes = set(vars(vae))
    vae.set_params(**change)
    empty_column = np.column_stack([np.full(len(X), np.nan), X[:, 1:]])
    refit_X = {"nan": empty_column, "1-D": X[:, 0], None: X}[bad_X]
    with pytest.raises((ValueError, FloatingPointError)):
        vae.fit(refit_X)
    assert set(vars(vae)) == attributes
    assert vae.n_features_in_ == 8
    vae.set_params(likelihood="gaussian", device="auto")
    after = _fitted_outputs(vae, X)
    for old, new in zip(before, after, strict=True):
        assert_array_equal(old, new)


def test_divergence_says_what_to_try(X):
    with pytest.raises(FloatingPointError, match="smaller learning_rate"):
        VAETransformer(learning_rate=1e12, max_epochs=50, random_state=0).fit(X)


def test_cuda_load_falls_back_to_cpu_with_a_warning(X, make_vae):
    """A model trained on a GPU loads and runs on a machine without one."""
    import pickle

    vae = make_vae(device="cpu").fit(X)
    expected = vae.transform(X)
    vae.device_ = torch.device("cuda")  # as if trained on a GPU
    blob = pickle.dumps(vae)
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.warns(UserWarning, match="trained on cuda"):
            loaded = pickle.loads(blob)
    assert loaded.device_ == torch.device("cpu")
    assert_array_equal(loaded.transform(X), expected)


@pytest.mark.short_fits
def test_numpy_integers_and_booleans_are_read_as_ints(X):
    from skvae import VAEOutlierDetector

    # torch's split takes Python ints only; GaussianMixture no booleans
    fitted = VAETransformer(
        hidden_layer_sizes=(8,), max_epochs=2, batch_size=np.int64(16)
    )
    assert fitted.fit(X).batch_size_ == 16
    detector = VAEOutlierDetector(
        hidden_layer_sizes=(8,), max_epochs=2, batch_size=np.uint8(7)
    )
    assert detector.fit(X).batch_size_ == 7
    mixture = VAETransformer(hidden_layer_sizes=(8,), max_epochs=2, latent_prior=True)
    assert mixture.fit(X).transform(X[:2]).shape == (2, mixture.latent_dim)


@pytest.mark.short_fits
def test_every_integer_parameter_may_be_a_small_numpy_integer(X):
    from skvae import VAEImputer

    # uint8 arithmetic overflows: 2 ** 30 bytes of working memory in rows
    small = {
        name: np.uint8(value)
        for name, value in dict(
            latent_dim=2,
            max_epochs=3,
            n_iter_no_change=2,
            kl_warmup_epochs=1,
            support_warmup_epochs=1,
            n_importance_samples=4,
            n_training_draws=2,
            latent_prior=2,
            n_threads=1,
        ).items()
    }
    vae = VAETransformer(hidden_layer_sizes=(8,), **small).fit(X)
    assert vae.transform(X[:3]).shape == (3, 2)
    assert np.isfinite(vae.score_samples(X[:3])).all()
    holed = X.copy()
    holed[::4, 0] = np.nan
    imputer = VAEImputer(hidden_layer_sizes=(8,), **small).fit(holed)
    assert not np.isnan(imputer.transform(holed)).any()
    imputer.set_params(sample_posterior=True)
    assert not np.isnan(imputer.transform(holed)).any()


@pytest.mark.short_fits
def test_fit_transform_and_fit_predict_that_fail_leave_the_estimator_unfitted(X):
    from skvae import VAEOutlierDetector

    holed = X.copy()
    holed[0] = np.nan  # trains at weight 0, but has no latent mean or score
    weights = np.ones(len(X))
    weights[0] = 0
    for estimator, method in (
        (VAETransformer(hidden_layer_sizes=(8,), max_epochs=2), "fit_transform"),
        (VAEOutlierDetector(hidden_layer_sizes=(8,), max_epochs=2), "fit_predict"),
    ):
        with pytest.raises(ValueError, match="Row 0 of X has no observed cell"):
            getattr(estimator, method)(holed, sample_weight=weights)
        assert not hasattr(estimator, "module_")
        assert len(getattr(estimator, method)(X)) == len(X)


@pytest.mark.short_fits
def test_an_int_hidden_layer_sizes_is_one_layer_as_in_mlp(X):
    params = dict(max_epochs=2, random_state=0, n_threads=1)
    one = VAETransformer(hidden_layer_sizes=16, **params)
    as_tuple = VAETransformer(hidden_layer_sizes=(16,), **params)
    assert one.fit(X).module_.hidden_layer_sizes == (16,)
    assert_array_equal(one.transform(X), as_tuple.fit(X).transform(X))
    with pytest.raises(ValueError, match="'hidden_layer_sizes' parameter"):
        VAETransformer(hidden_layer_sizes=0).fit(X)


@pytest.mark.short_fits
def test_a_column_whose_spread_float32_blurs_is_warned_about(make_vae):
    # near 1e12, float32's steps are 65,536 apart: a spread of 300 is lost
    import pandas as pd

    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {"a": rng.normal(size=200), "b": 1e12 + rng.normal(0, 300, 200)}
    )
    with pytest.warns(
        UserWarning, match=r"Column 'b' of X varies by 2\d\d .*steps of 6.55e\+04"
    ):
        make_vae().fit(table)
    # once a fit, however many columns and families
    with pytest.warns(UserWarning) as record:
        make_vae(likelihood={"a": "laplace"}).fit(table.assign(a=table["b"]))
    assert sum("float32" in str(w.message) for w in record) == 1
    # epoch seconds over a year: steps of 128 against a spread of about 9e6;
    # a spread of rounding errors, constant to the model; float32 rows
    seconds = table.assign(b=1.7e9 + rng.normal(0, 9e6, 200))
    rounded = table.assign(b=np.where(rng.rand(200) < 0.5, 0.3, 0.1 + 0.2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        make_vae().fit(seconds)
        make_vae().fit(rounded)
        make_vae().fit(table.to_numpy(np.float32))
        make_vae(likelihood="bernoulli").fit((table > 0).astype(float))  # not real
    # ten far rows of weight 1e-9 do not hide the spread the model reads
    # (before: the unweighted spread, about 3e7, passed)
    far = table.copy()
    far.loc[:9, "b"] = 1e12 + 1e7 * np.arange(10)
    weights = np.r_[np.full(10, 1e-9), np.ones(190)]
    with pytest.warns(UserWarning, match=r"Column 'b' of X varies by \d\d\d "):
        make_vae().fit(far, sample_weight=weights)


@pytest.mark.short_fits
def test_text_under_one_numeric_family_is_refused_naming_the_column():
    rows = np.random.RandomState(0).normal(size=(30, 3)).astype(object)
    rows[:, 1] = "a"
    frame = pd.DataFrame(rows, columns=["x", "y", "z"])
    vae = VAETransformer(likelihood="gaussian", max_epochs=1)
    # arrays and lists got NumPy's "could not convert string to float"
    for data, message in (
        (rows, "Column 1 of X holds 'a'"),
        (rows.tolist(), "Column 1 of X holds 'a'"),
        (frame, "Column 'y' of X has dtype (object|str)"),  # pandas 2, 3
    ):
        with pytest.raises(ValueError, match=f"{message}, which likelihood='gaussian'"):
            vae.fit(data)
        assert not hasattr(vae, "module_")


@pytest.mark.short_fits
@pytest.mark.parametrize("n_draws", [0, 1.5])
def test_a_draw_count_set_after_fit_is_checked_where_it_is_read(X, n_draws):
    from sklearn.utils._param_validation import InvalidParameterError

    from skvae import VAEImputer, VAEOutlierDetector

    holed = X[:40].copy()
    holed[0, 0] = np.nan
    for model in (VAETransformer, VAEOutlierDetector, VAEImputer):
        fitted = model(hidden_layer_sizes=(4,), max_epochs=1).fit(holed)
        fitted.set_params(n_importance_samples=n_draws)
        reads = [fitted.score_samples]
        if model is VAEImputer:
            reads.append(fitted.transform)
        for read in reads:
            with pytest.raises(InvalidParameterError, match="n_importance_samples"):
                read(holed)
        # a parameter staged for the next fit is not read, nor checked, here
        fitted.set_params(n_importance_samples=2, beta=-1.0)
        for read in reads:
            read(holed)


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "model, parameter, value",
    [
        ("VAETransformer", "handle_unknown", "Missing"),
        ("VAEImputer", "missing_values", [1]),
        ("VAEImputer", "sample_posterior", "yes"),
        ("VAEImputer", "keep_empty_features", "x"),
    ],
)
def test_a_reading_parameter_set_after_fit_is_checked(model, parameter, value):
    # before: 'Missing' read as 'error', and the imputer's values taken as
    # they came ("yes" as True)
    from sklearn.utils._param_validation import InvalidParameterError

    import skvae

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.choice(["x", "y"], 40)})
    frame.loc[0, "a"] = np.nan
    fitted = getattr(skvae, model)(hidden_layer_sizes=(4,), max_epochs=1).fit(frame)
    fitted.set_params(**{parameter: value})
    with pytest.raises(InvalidParameterError, match=f"'{parameter}' parameter"):
        fitted.transform(frame)


@pytest.mark.short_fits
def test_a_value_farther_from_its_mean_than_float32_holds_is_refused(make_vae):
    # before: every estimator diverged ("loss became nan/inf"), naming no
    # column; each value lies within float32, but -3.3e38 less the mean
    # 2.5e37 does not
    from skvae import VAEImputer, VAEOutlierDetector

    X = np.column_stack([np.tile([3.3e38, -3.3e38, 0.0, 1e38], 10), np.arange(40.0)])
    message = r"Column 0 of X has values from -3.3e\+38 to 3.3e\+38, farther"
    for model in (
        make_vae(),
        VAEOutlierDetector(max_epochs=1),
        VAEImputer(max_epochs=1),
    ):
        with pytest.raises(ValueError, match=message):
            model.fit(X)
        assert not hasattr(model, "module_")
    # about a mean of 0 they fit, as before
    centred = X[np.tile([True, True, True, False], 10)]
    assert np.isfinite(make_vae().fit(centred).score_samples(centred)).all()


@pytest.mark.short_fits
def test_a_frame_of_sparse_columns_whose_unstored_cells_are_not_0_is_refused():
    # pandas makes no sparse matrix of it, and its own message names no column
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.rand(40, 3), columns=list("abc"))
    frame = frame.mask(rng.rand(*frame.shape) < 0.2).dropna(how="all")
    of_nan = frame.astype(pd.SparseDtype(float, np.nan))
    message = "Column 'a' of X is a pandas sparse column whose unstored cells are nan"
    for model in (VAETransformer(max_epochs=2), VAEImputer(max_epochs=2)):
        with pytest.raises(ValueError, match=message):
            model.fit(of_nan)
        assert not hasattr(model, "n_iter_")
    # columns of 0, whose stored NaN are the missing cells, are read
    of_0 = frame.astype(pd.SparseDtype(float, 0.0))
    imputer = VAEImputer(likelihood="gaussian", max_epochs=2).fit(of_0)
    with pytest.raises(ValueError, match=message):
        imputer.transform(of_nan)


@pytest.mark.parametrize(
    "likelihood, X, column",
    [
        ("multinomial", np.arange(20.0)[:, None], "0"),
        ({"n": "multinomial"}, pd.DataFrame({"n": np.arange(20.0), "x": 1.0}), "'n'"),
    ],
)
def test_a_multinomial_of_one_column_is_refused_naming_it(likelihood, X, column):
    # before: fitted, a model whose one share is always 1 (every row scored
    # alike whatever its count)
    vae = VAETransformer(likelihood=likelihood, max_epochs=1)
    with pytest.raises(ValueError, match=f"has column {column} alone, whose share"):
        vae.fit(X)
    assert not hasattr(vae, "module_")
