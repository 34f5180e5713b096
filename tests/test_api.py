"""VAETransformer in the places scikit-learn users put a transformer."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skvae._likelihoods import FAMILIES


def test_supervised_grid_search_finds_the_latent_dim_the_labels_need(X, make_vae):
    """The labels follow the third principal direction of X: one latent
    dimension cannot carry it, three can, and the search must see that."""
    from sklearn.decomposition import PCA

    y = (PCA(3).fit_transform(X)[:, 2] > 0).astype(int)
    pipe = Pipeline([("vae", make_vae()), ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"vae__latent_dim": [1, 3]}, cv=3).fit(X, y)
    one, three = search.cv_results_["mean_test_score"]
    assert one < 0.65 < 0.8 < three
    assert search.best_params_ == {"vae__latent_dim": 3}
    assert search.best_estimator_["vae"].transform(X).shape == (len(X), 3)


def test_unsupervised_grid_search_uses_score(X, make_vae):
    # Room for the refit on all rows with one latent dimension to stop by itself.
    search = GridSearchCV(make_vae(max_epochs=100), {"latent_dim": [1, 3]}, cv=2)
    search.fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    manual = make_vae(latent_dim=1, max_epochs=100).fit(X[150:]).score(X[:150])
    assert_allclose(search.cv_results_["split0_test_score"][0], manual)


def test_transform_is_the_posterior_mean_and_deterministic(X, make_vae):
    vae = make_vae(latent_dim=3).fit(X)
    Z = vae.transform(X)
    assert Z.shape == (300, 3)
    assert_array_equal(Z, vae.transform(X))
    assert_allclose(Z, make_vae(latent_dim=3).fit_transform(X))


@pytest.mark.short_fits
def test_rows_do_not_depend_on_the_other_rows_to_float32_precision(X, make_vae):
    vae = make_vae(early_stopping=True).fit(X)
    for method in (vae.transform, vae.score_samples):
        in_batches = np.concatenate([method(part) for part in np.array_split(X, 7)])
        assert_allclose(in_batches, method(X), rtol=1e-5, atol=1e-5)


def test_inverse_transform_decodes_to_input_space(X, make_vae):
    vae = make_vae(latent_dim=3, batch_size=32, max_epochs=200).fit(X)
    X_back = vae.inverse_transform(vae.transform(X))
    assert X_back.shape == X.shape
    # A good 3-D code reconstructs far better than the column means do.
    assert np.mean((X - X_back) ** 2) < 0.3 * np.mean((X - X.mean(0)) ** 2)
    with pytest.raises(ValueError, match="latent_dim=3"):
        vae.inverse_transform(np.zeros((2, 5)))


def test_sample_draws_and_means(binary_X, make_vae):
    vae = make_vae(likelihood="bernoulli").fit(binary_X)
    draws = vae.sample(50, random_state=0)
    assert draws.shape == (50, 12)
    assert set(np.unique(draws)) <= {0.0, 1.0}
    assert_array_equal(draws, vae.sample(50, random_state=0))
    assert not np.array_equal(draws, vae.sample(50, random_state=1))
    means = vae.sample(50, random_state=0, return_mean=True)
    assert np.all((means > 0) & (means < 1))
    for n_samples in (0, 2.0, True, "3"):
        with pytest.raises(ValueError, match="n_samples must be a positive integer"):
            vae.sample(n_samples)


def test_sample_draws_from_the_estimators_random_state(X, make_vae):
    """As GaussianMixture.sample: a seeded model draws the same rows each call."""
    seeded = make_vae(random_state=0).fit(X)
    assert_array_equal(seeded.sample(5), seeded.sample(5))
    assert_array_equal(seeded.sample(5), seeded.sample(5, random_state=0))
    # sample reads random_state when called; an unseeded fit would end at an
    # unseeded epoch, sometimes at max_epochs.
    unseeded = seeded.set_params(random_state=None)
    assert not np.array_equal(unseeded.sample(5), unseeded.sample(5))
    # before: NumPy's "Seed must be between 0 and 2**32 - 1"
    with pytest.raises(ValueError, match="'random_state' parameter of sample"):
        seeded.sample(5, random_state=-1)
    with pytest.raises(ValueError, match="'random_state' parameter of"):
        seeded.set_params(random_state=-1).sample(5)
    # a bad thread count is refused before a RandomState gives a seed
    state = np.random.RandomState(0)
    seeded.set_params(random_state=state, n_threads=0)
    with pytest.raises(ValueError, match="'n_threads' parameter"):
        seeded.sample(5)
    assert_array_equal(state.get_state()[1], np.random.RandomState(0).get_state()[1])


def test_a_failed_sample_leaves_its_random_state_where_it_was(X, make_vae, monkeypatch):
    # sample(2**40) failed in torch's allocation after the seed was drawn
    vae = make_vae().fit(X)
    state = np.random.RandomState(0)

    def too_large(*args):
        raise MemoryError("the rows do not fit")

    monkeypatch.setattr(vae, "_decoded_draws", too_large)
    with pytest.raises(MemoryError, match="do not fit"):
        vae.sample(5, random_state=state)
    assert state.randint(2**31) == np.random.RandomState(0).randint(2**31)


@pytest.fixture
def batch_rows(monkeypatch):
    """The rows of each inference batch that goes to the device, as recorded."""
    import skvae._base

    recorded = []
    host_batches = skvae._base.host_batches

    def recording(data, rows, device):
        recorded.append(rows)
        return host_batches(data, rows, device)

    monkeypatch.setattr(skvae._base, "host_batches", recording)
    monkeypatch.setattr("skvae._estimator.host_batches", recording)
    return recorded


@pytest.mark.short_fits
def test_inference_moves_one_batch_at_a_time(X, make_vae, batch_rows):
    """Rows go to the device in batches sized by scikit-learn's working_memory,
    and a batch's size does not change the results."""
    from sklearn import config_context

    vae = make_vae(early_stopping=True).fit(X)
    expected = {name: getattr(vae, name)(X) for name in ("transform", "score_samples")}
    expected["inverse_transform"] = vae.inverse_transform(expected["transform"])
    batch_rows.clear()
    with config_context(working_memory=0.05):  # MiB
        got = {name: getattr(vae, name)(X) for name in ("transform", "score_samples")}
        got["inverse_transform"] = vae.inverse_transform(expected["transform"])
    assert all(rows < len(X) for rows in batch_rows) and len(batch_rows) == 3
    for name, values in got.items():
        assert_allclose(values, expected[name], rtol=1e-5, atol=1e-5)


@pytest.mark.short_fits
def test_wide_rows_score_in_batches_of_at_least_the_padded_rows(make_vae, batch_rows):
    # The cache cap gave batches of 6 rows of 3,000 columns, which map_batches
    # padded to 16 rows: each batch computed more than twice its rows
    from skvae._data import MIN_BATCH_ROWS

    X = np.random.RandomState(0).normal(size=(40, 3000))
    vae = make_vae(hidden_layer_sizes=(4,), max_epochs=1).fit(X)
    batch_rows.clear()
    vae.score_samples(X)
    assert batch_rows == [MIN_BATCH_ROWS]


def test_score_is_mean_of_score_samples(X, make_vae):
    vae = make_vae().fit(X)
    scores = vae.score_samples(X)
    assert scores.shape == (300,) and np.all(np.isfinite(scores))
    assert vae.score(X) == pytest.approx(scores.mean())
    assert_array_equal(scores, vae.score_samples(X))


def test_unusual_rows_score_low(X, make_vae):
    vae = make_vae(latent_dim=3, max_epochs=60).fit(X)
    outliers = X[:5] + 8.0 * np.random.RandomState(1).randn(5, 8)
    assert vae.score_samples(outliers).max() < np.percentile(vae.score_samples(X), 5)


def test_pandas_in_and_out(X, make_vae):
    frame = pd.DataFrame(X, columns=[f"col{i}" for i in range(8)])
    vae = make_vae().fit(frame)
    assert_array_equal(vae.feature_names_in_, frame.columns)
    assert list(vae.get_feature_names_out()) == ["vaetransformer0", "vaetransformer1"]
    out = vae.set_output(transform="pandas").transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["vaetransformer0", "vaetransformer1"]
    assert_allclose(out.to_numpy(), make_vae().fit(X).transform(X))


@pytest.mark.parametrize("to_sparse", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize(
    "likelihood", ["bernoulli", "poisson", "multinomial", "negative_binomial"]
)
def test_sparse_input_matches_dense(binary_X, make_vae, to_sparse, likelihood):
    """Sparse rows take their own path through training and scoring (for
    these families, the fused last-layer step), to the same results. Both
    start at random, so that only the training steps are compared."""
    dense = make_vae(likelihood=likelihood, init="random").fit(binary_X)
    sparse = make_vae(likelihood=likelihood, init="random").fit(to_sparse(binary_X))
    assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-6)
    assert_allclose(
        sparse.transform(to_sparse(binary_X)),
        dense.transform(binary_X),
        rtol=1e-5,
        atol=1e-6,
    )
    assert_allclose(
        sparse.score_samples(to_sparse(binary_X)),
        dense.score_samples(binary_X),
        rtol=1e-5,
    )


@pytest.mark.parametrize("to_sparse", [sp.csr_matrix, sp.csc_matrix])
def test_duplicate_sparse_entries_train_the_model_of_their_sums(make_vae, to_sparse):
    # each value stored as two halves: before, the Gaussian's scales were
    # read from the halves, about 30 % too small
    rng = np.random.RandomState(0)
    X = rng.randn(100, 4) * (rng.rand(100, 4) < 0.5)
    rows = sp.csr_matrix(X)
    halves = sp.csr_matrix(
        (
            np.repeat(rows.data / 2, 2),
            np.repeat(rows.indices, 2),
            2 * rows.indptr,
        ),
        shape=X.shape,
    )
    duplicated = to_sparse(halves)
    assert not duplicated.has_canonical_format
    assert_array_equal(duplicated.toarray(), X)
    dense = make_vae(likelihood="gaussian").fit(X)
    sparse = make_vae(likelihood="gaussian").fit(duplicated)
    assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-5)
    assert_allclose(sparse.transform(X), dense.transform(X), rtol=1e-4, atol=1e-5)


@pytest.mark.short_fits
@pytest.mark.parametrize("likelihood", sorted(FAMILIES))
def test_sparse_input_is_never_densified(likelihood, binary_X, make_vae, monkeypatch):
    X = sp.csr_matrix(binary_X)
    n_columns = X.shape[1]

    def refuse_rows(container):
        # A matrix of rows of X must stay sparse. The PCA start's second-moment
        # matrix (columns x columns) is small and dense by nature.
        toarray = container.toarray

        def checked(self, *args, **kwargs):
            if self.shape != (n_columns, n_columns):
                raise AssertionError(f"a sparse {self.shape} matrix was densified")
            return toarray(self, *args, **kwargs)

        return checked

    def refuse(*args, **kwargs):
        raise AssertionError("a sparse tensor was densified")

    for container in (
        sp.csr_matrix,
        sp.csr_array,
        sp.csc_matrix,
        sp.coo_matrix,
        sp.coo_array,
    ):
        monkeypatch.setattr(container, "toarray", refuse_rows(container))
    monkeypatch.setattr(torch.Tensor, "to_dense", refuse)
    vae = make_vae(likelihood=likelihood, batch_size=32, max_epochs=2).fit(X)
    assert vae.transform(X).shape == (X.shape[0], 2)
    assert np.isfinite(vae.score_samples(X)).all()


@pytest.mark.short_fits
@pytest.mark.parametrize("likelihood", sorted(FAMILIES))
def test_a_sparse_matrix_is_left_as_it_was(likelihood, binary_X, make_vae):
    # Columns taken out of order leave a CSR matrix's indices unsorted, which
    # SciPy sorts in place in many of its operations; a model must not.
    order = np.arange(binary_X.shape[1])[::-1]
    X = sp.csr_matrix(binary_X)[:, order]
    assert not X.has_sorted_indices
    indices = X.indices.copy()
    vae = make_vae(likelihood=likelihood, max_epochs=2).fit(X)
    vae.transform(X), vae.score_samples(X)
    assert_array_equal(X.indices, indices)


def test_float32_stays_float32(X, make_vae):
    vae = make_vae().fit(X.astype(np.float32))
    assert vae.transform(X.astype(np.float32)).dtype == np.float32
    assert vae.transform(X).dtype == np.float64


@pytest.mark.parametrize("sparse_input", [False, True])
def test_a_row_the_encoder_overflows_on_is_refused_by_number(X, make_vae, sparse_input):
    # cells near float32's limit in every column: the encoder's sums overflow
    # for some patterns of signs (inf - inf), and stay finite for others; which
    # ones depends on the fitted weights, so on the PyTorch version
    vae = make_vae().fit(X)
    refused = 0
    for seed in range(16):
        rows = X[:4].copy()
        signs = np.random.RandomState(seed).choice([-1, 1], size=X.shape[1])
        rows[2] = 3.4e38 * signs
        rows = sp.csr_matrix(rows) if sparse_input else rows
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)  # the message alone
                Z = vae.transform(rows)
        except ValueError as error:
            assert str(error).startswith("Row 2 of X lies so far outside")
            refused += 1
        else:
            assert np.isfinite(Z).all()
    assert refused


def test_clone_keeps_parameters_not_fit(X, make_vae):
    vae = make_vae(latent_dim=3).fit(X)
    copy = clone(vae)
    assert copy.get_params() == vae.get_params()
    assert not hasattr(copy, "module_")


def test_linear_model_without_hidden_layers(X, make_vae):
    vae = make_vae(hidden_layer_sizes=()).fit(X)
    assert len(vae.module_.encoder) == 1 and len(vae.module_.decoder) == 1
    assert np.isfinite(vae.score(X))


@pytest.mark.parametrize("name", ["VAETransformer", "VAEOutlierDetector", "VAEImputer"])
def test_every_parameter_is_documented(name):
    import inspect

    import skvae

    estimator = getattr(skvae, name)
    doc = inspect.getdoc(estimator)
    # the Parameters section: an entry of its own, or a name in the list of
    # those that mean what they mean for VAETransformer
    section = doc.split("Parameters\n----------")[1].split("Attributes\n----------")[0]
    entries, _, others = section.partition("**other parameters")
    for parameter in inspect.signature(estimator).parameters:
        assert f"{parameter} :" in entries or f"``{parameter}``" in others, parameter


@pytest.mark.short_fits
def test_a_torch_tensor_is_read_as_the_array_it_holds(X):
    # before: AttributeError ('torch.dtype' object has no attribute 'kind')
    from skvae import VAEImputer, VAEOutlierDetector, VAETransformer

    tensor = torch.as_tensor(X)
    for model in (VAETransformer, VAEOutlierDetector, VAEImputer):
        params = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
        from_tensor = model(**params).fit(tensor)
        from_array = model(**params).fit(X)
        read = "predict" if model is VAEOutlierDetector else "transform"
        assert_array_equal(
            getattr(from_tensor, read)(tensor), getattr(from_array, read)(X)
        )


@pytest.mark.short_fits
def test_a_sparse_torch_tensor_is_read_as_a_csr_matrix(binary_X):
    # before: torch's TypeError "can't convert Sparse layout tensor to numpy"
    from skvae import VAETransformer

    X = binary_X.copy()
    X[0, 0] = np.nan  # stored: a missing cell, as in a SciPy matrix
    tensor = torch.as_tensor(X).to_sparse()  # COO; other layouts go through it
    params = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    from_tensor = VAETransformer(likelihood="bernoulli", **params).fit(tensor)
    matrix = sp.csr_matrix(X)
    from_matrix = VAETransformer(likelihood="bernoulli", **params).fit(matrix)
    assert_array_equal(from_tensor.transform(tensor), from_matrix.transform(matrix))
    assert_array_equal(
        from_tensor.score_samples(tensor), from_matrix.score_samples(matrix)
    )


def test_a_tensor_of_sparse_rows_of_dense_cells_is_read_as_its_array(binary_X):
    from skvae._containers import computed

    hybrid = torch.as_tensor(binary_X).to_sparse(1)  # one sparse dimension
    assert_array_equal(computed(hybrid), binary_X)


@pytest.mark.short_fits
def test_a_polars_frame_is_read_as_its_pandas_frame():
    # before: read as an array, its names lost: condition_on and likelihood
    # dicts could not name columns, and reordered columns passed silently
    pl = pytest.importorskip("polars")
    from skvae import VAEImputer, VAETransformer

    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "b": 10 + 5 * rng.normal(size=200),
            "g": rng.choice(["u", "v"], 200),
        }
    )
    polars_frame = pl.from_pandas(frame)
    params = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    for extra in ({}, {"condition_on": "g"}, {"likelihood": {"b": "laplace"}}):
        from_polars = VAETransformer(**params, **extra).fit(polars_frame)
        from_pandas = VAETransformer(**params, **extra).fit(frame)
        assert list(from_polars.feature_names_in_) == ["a", "b", "g"]
        assert_array_equal(
            from_polars.transform(polars_frame), from_pandas.transform(frame)
        )
    with pytest.raises(ValueError, match="feature names should match"):
        from_polars.transform(polars_frame.select(["b", "a", "g"]))
    holed = frame.assign(a=frame["a"].where(rng.rand(200) > 0.2))
    filled = (
        VAEImputer(**params).fit(pl.from_pandas(holed)).transform(pl.from_pandas(holed))
    )
    assert (
        isinstance(filled, pl.DataFrame)
        and filled.null_count().sum_horizontal()[0] == 0
    )


@pytest.mark.short_fits
def test_a_model_fitted_on_polars_gives_polars_rows_with_their_dtypes():
    # before: sample, inverse_transform and feature_log_likelihoods gave
    # pandas DataFrames, and every Enum column came back Categorical
    pl = pytest.importorskip("polars")
    from skvae import VAEImputer, VAETransformer

    rng = np.random.RandomState(0)
    table = pl.DataFrame(
        {
            "a": rng.normal(size=200),
            "k": pl.Series(rng.randint(0, 5, 200), dtype=pl.UInt8),
            "g": pl.Series(rng.choice(["u", "v"], 200)).cast(pl.Enum(["u", "v", "w"])),
            "c": pl.Series(rng.choice(["x", "y"], 200)).cast(pl.Categorical),
            "t": rng.choice(["p", "q"], 200),
            "b": [None if i % 9 == 0 else i % 2 == 0 for i in range(200)],
        }
    )
    vae = VAETransformer(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    vae.fit(table)
    # no polars class in the pickle: it loads where polars is not installed
    assert b"polars." not in pickle.dumps(vae)
    generated = vae.sample(50, missing_cells=True)
    decoded = vae.inverse_transform(vae.transform(table))
    for rows in (generated, decoded):
        assert isinstance(rows, pl.DataFrame) and rows.schema == table.schema
    assert generated["b"].null_count() > 0
    terms = vae.feature_log_likelihoods(table)
    assert isinstance(terms, pl.DataFrame) and terms.columns == table.columns
    holed = table.with_columns(
        pl.when(pl.col("k") == 0).then(None).otherwise(pl.col("a")).alias("a")
    )
    assert holed["a"].null_count() > 0
    imputer = VAEImputer(hidden_layer_sizes=(8,), max_epochs=2).fit(holed)
    assert imputer.transform(holed).schema == holed.schema  # the Enum too
    # an Enum of fewer levels than training's gains them, as a category does
    narrower = holed.with_columns(pl.col("g").cast(pl.String).cast(pl.Enum(["u", "v"])))
    assert imputer.transform(narrower).schema["g"] == pl.Enum(["u", "v", "w"])
    # under set_output("polars") too: scikit-learn's adapter made it Categorical
    imputer.set_output(transform="polars")
    assert imputer.transform(holed).schema == holed.schema
    assert isinstance(vae.feature_log_likelihoods(table.to_pandas()), pd.DataFrame)
    # a model fitted on pandas gives pandas whatever the latent points' container
    frame_model = VAETransformer(hidden_layer_sizes=(8,), max_epochs=2).fit(
        table.to_pandas()
    )
    assert isinstance(frame_model.sample(2), pd.DataFrame)
    codes = pl.DataFrame(frame_model.transform(table.to_pandas()))
    assert isinstance(frame_model.inverse_transform(codes), pd.DataFrame)


@pytest.mark.short_fits
def test_polars_and_torch_inputs_in_every_method_and_dtype():
    # found in review of the two tests above: each of these crashed, lost a
    # dtype, or gave an unclear message
    pl = pytest.importorskip("polars")
    from skvae import VAEImputer, VAETransformer

    rng = np.random.RandomState(0)
    params = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    numbers = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    holed = pl.from_pandas(numbers.assign(a=numbers["a"].where(rng.rand(200) > 0.2)))
    # one family: the imputer fills an array, as for a pandas frame
    imputer = VAEImputer(likelihood="gaussian", **params).fit(holed)
    assert isinstance(imputer.transform(holed), np.ndarray)
    # set_output decides the container, with its dtypes
    imputer = VAEImputer(**params).set_output(transform="pandas").fit(holed)
    assert imputer.transform(holed).dtypes.tolist() == [np.float64, np.float64]
    # integers with nulls stay integers, decimals are numbers
    counts = pl.Series(
        [None if i % 7 == 0 else i % 5 for i in range(200)], dtype=pl.Int64
    )
    table = pl.DataFrame({"a": numbers["a"], "k": counts, "d": numbers["b"]})
    table = table.with_columns(pl.col("d").cast(pl.Decimal(10, 3)))
    vae = VAETransformer(**params).fit(table)
    assert vae.likelihoods_["d"] != "categorical"
    assert str(vae.sample(3)["k"].dtype) == "Int64"
    assert VAEImputer(**params).fit(table).transform(table).schema["k"] == pl.Int64
    # a Series or a LazyFrame gets a message that says what to pass
    with pytest.raises(ValueError, match="2-dimensional"):
        vae.transform(table["a"])
    with pytest.raises(TypeError, match=r"LazyFrame.*X.collect\(\)"):
        vae.transform(table.lazy())
    # tensors where a frame's index or the latent points are read
    model = VAETransformer(**params).fit(numbers)
    tensor = torch.tensor(numbers.to_numpy())
    with pytest.warns(UserWarning, match="valid feature names"):
        assert model.feature_log_likelihoods(tensor).shape == (200, 2)
    codes = torch.tensor(model.transform(numbers)).requires_grad_(True)
    assert model.inverse_transform(codes).shape == (200, 2)
    # a dict in a frame's column of objects, under 'auto' too
    with pytest.raises(TypeError, match="'d' of X holds .*each argument must be"):
        VAETransformer(**params).fit(numbers.assign(d=[{"x": 1}] * 200))
