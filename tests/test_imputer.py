"""VAEImputer: missing cells filled from the model, observed cells untouched."""

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn import clone, config_context
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvae import VAEImputer
from skvae._placeholders import placeholders_as_nan


@pytest.fixture
def correlated():
    """Five columns driven by one factor, a fifth of the cells missing."""
    rng = np.random.RandomState(0)
    factor = rng.normal(size=(400, 1))
    X = factor @ rng.normal(size=(1, 5)) + 0.2 * rng.normal(size=(400, 5))
    holes = rng.rand(*X.shape) < 0.2
    holes[holes.all(axis=1), 0] = False
    return X, np.where(holes, np.nan, X)


def make_imputer(**params):
    return VAEImputer(**{"hidden_layer_sizes": (32,), "random_state": 0, **params})


def test_observed_cells_come_back_bit_for_bit(correlated):
    X, holed = correlated
    filled = make_imputer().fit_transform(holed)
    observed = ~np.isnan(holed)
    assert_array_equal(filled[observed], holed[observed])
    assert np.isfinite(filled).all()


@pytest.mark.short_fits
@pytest.mark.parametrize("likelihood", ["multinomial", {1: "multinomial"}])
def test_the_multinomial_is_refused_before_anything_changes(likelihood):
    # it fitted on complete rows, then every transform with a hole raised
    counts = np.random.RandomState(0).poisson(3.0, size=(100, 4)).astype(float)
    imputer = make_imputer(likelihood="poisson", max_epochs=2).fit(counts)
    fitted = imputer.module_
    imputer.set_params(likelihood=likelihood)
    for train in (imputer.fit, imputer.partial_fit):
        for skipped in (False, True):  # a check of the data, not a parameter
            with config_context(skip_parameter_validation=skipped):
                with pytest.raises(ValueError, match="row's total, which a miss"):
                    train(counts)
    assert imputer.module_ is fitted
    holed = counts[:3].copy()
    holed[0, 1] = np.nan
    assert np.isfinite(imputer.transform(holed)).all()


def test_a_row_with_nothing_observed_gets_the_models_marginal_fill(correlated):
    X, holed = correlated
    imputer = make_imputer().fit(holed)
    rows = np.vstack([np.full(5, np.nan), holed[:3]])
    filled = imputer.transform(rows)
    # with nothing to condition on, each cell is about its column's mean
    assert np.all(np.abs(filled[0] - X.mean(0)) < 0.5 * X.std(0))
    assert_array_equal(filled[1:], imputer.transform(holed[:3]))
    # and within the draws' noise of the model's marginal mean; the encoder's
    # posterior of such a row, on which it never trained, was the proposal,
    # at a tenth of the prior's width in some dimensions
    with torch.no_grad():
        z = torch.randn(100_000, imputer.latent_dim, generator=torch.Generator())
        means = imputer.module_.decode_mean(z).double().numpy()
        draws = imputer.module_.decode_sample(z).double().numpy()
    noise = means.std(0) / np.sqrt(imputer.n_importance_samples)
    assert np.all(np.abs(filled[0] - means.mean(0)) < 4 * noise)
    imputer.set_params(sample_posterior=True)
    drawn = imputer.transform(np.full((2000, 5), np.nan))
    assert_allclose(drawn.var(0), draws.var(0), rtol=0.15)


@pytest.mark.parametrize("sample_posterior", [False, True])
@pytest.mark.parametrize("value", [1e20, 9.96921e36, -3.4e38])
def test_rows_with_placeholder_values_are_filled(correlated, sample_posterior, value):
    # Every draw gives such a row probability 0 in float32: the importance
    # weights were NaN, and so were the fills
    X, holed = correlated
    imputer = make_imputer(sample_posterior=sample_posterior).fit(holed)
    row = np.array([[value, np.nan, 0.1, 0.2, 0.3]])
    filled = imputer.transform(row)
    assert np.isfinite(filled).all()
    assert_array_equal(filled[0, [0, 2, 3, 4]], row[0, [0, 2, 3, 4]])


def test_a_row_the_network_overflows_on_is_refused_by_number(
    correlated, overflow_third_row
):
    X, holed = correlated
    imputer = make_imputer().fit(holed)
    overflow_third_row("conditional_mean")
    rows = holed[np.isnan(holed).any(axis=1)][:4]
    with pytest.raises(ValueError, match="Row 2 of X lies so far outside"):
        imputer.transform(rows)
    with pytest.raises(ValueError, match="Row 2 of X lies so far outside"):
        imputer.transform(sparse.csr_matrix(rows))
    # rows with nothing to fill are not decoded: the third decoded row is row 4
    complete = np.vstack([rows[:2], X[:2], rows[2:]])
    for container in (np.asarray, sparse.csr_matrix):
        with pytest.raises(ValueError, match="Row 4 of X lies so far outside"):
            imputer.transform(container(complete))
    complete = np.vstack([rows[:2], X[:2]])
    assert_array_equal(imputer.transform(complete)[[2, 3]], complete[[2, 3]])
    # also where a column's dtype cannot hold the NaN it decodes to
    frame = pd.DataFrame(complete, columns=list("abcde")).assign(
        e=np.arange(len(complete))
    )
    table = pd.DataFrame(holed, columns=list("abcde")).assign(e=np.arange(len(holed)))
    imputer = make_imputer().fit(table)  # "e", int64, cannot hold NaN
    filled = imputer.transform(frame.iloc[:4].assign(a=[np.nan, 1.0, 1.0, 1.0]))
    pd.testing.assert_frame_equal(filled.iloc[[2, 3]], frame.iloc[[2, 3]].assign(a=1.0))


def test_rows_with_nothing_observed_are_left_out_of_training(correlated):
    # As IterativeImputer, the imputer takes them in fit, which learns from
    # the other rows only: as if they were not there, or weighed 0.
    _, holed = correlated
    with_empty = np.vstack([np.full(5, np.nan), holed, np.full(5, np.nan)])
    make = functools.partial(make_imputer, n_threads=1)  # bit for bit
    expected = make().fit(holed).transform(holed[:20])
    assert_array_equal(make().fit(with_empty).transform(holed[:20]), expected)
    with config_context(assume_finite=True):  # it is the model, not a check
        assumed = make().fit(with_empty)
    assert_array_equal(assumed.transform(holed[:20]), expected)
    # and in every call that trains
    streamed = make().fit(holed).partial_fit(holed).transform(holed[:20])
    assert_array_equal(assumed.partial_fit(with_empty).transform(holed[:20]), streamed)
    message = "Row 0 of X has no observed cell .* a row of positive weight with an"
    with pytest.raises(ValueError, match=message):
        make_imputer().fit(np.full((2, 5), np.nan))  # then nothing is left


@pytest.mark.short_fits
def test_float32_rows_come_back_float32_as_from_scikit_learns_imputers(correlated):
    _, holed = correlated
    single = holed.astype(np.float32)
    imputer = make_imputer(max_epochs=5).fit(single)
    for rows in (single, sparse.csr_matrix(single)):
        filled = imputer.transform(rows)
        assert filled.dtype == SimpleImputer().fit_transform(rows).dtype == np.float32
    observed = ~np.isnan(single)
    assert_array_equal(imputer.transform(single)[observed], single[observed])
    assert imputer.transform(holed).dtype == np.float64


def test_missing_cells_are_closer_than_the_column_means(correlated):
    X, holed = correlated
    missing = np.isnan(holed)
    vae_error = np.mean((make_imputer().fit_transform(holed) - X)[missing] ** 2)
    mean_error = np.mean((SimpleImputer().fit_transform(holed) - X)[missing] ** 2)
    assert vae_error < 0.5 * mean_error


def test_a_table_comes_back_with_its_dtypes_and_levels():
    rng = np.random.RandomState(0)
    group = rng.choice(["a", "b"], size=300)
    size = np.where(group == "a", 3.0, -3.0) + rng.normal(size=300)
    table = pd.DataFrame({"size": size, "group": pd.Categorical(group)})
    holed = table.copy()
    holed.loc[:19, "group"] = np.nan
    holed.loc[20:39, "size"] = np.nan
    filled = make_imputer().fit(holed).transform(holed)
    assert (filled.dtypes == table.dtypes).all()
    assert filled.notna().all(axis=None)
    assert (filled.loc[:19, "group"] == table.loc[:19, "group"]).mean() > 0.9
    assert np.corrcoef(filled.loc[20:39, "size"], table.loc[20:39, "size"])[0, 1] > 0.5
    assert filled.loc[40:].equals(holed.loc[40:])


def _holed_table(rng, n=120):
    table = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "count": rng.randint(0, 5, size=n).astype(float),
            "group": pd.Categorical(rng.choice(["u", "v"], size=n)),
        }
    )
    holes = rng.rand(*table.shape) < 0.2
    holes[:, 0] &= ~holes.all(axis=1)  # no row without an observed cell
    return table.mask(holes)


@pytest.mark.short_fits
def test_fills_take_the_dtypes_of_x_not_those_of_the_training_table():
    rng = np.random.RandomState(0)
    train = _holed_table(rng)
    # Nullable dtypes, and categories built apart that lack a training level.
    X = train.head(8).convert_dtypes()
    X["group"] = pd.Categorical(["u", None] * 4, categories=["u"])
    filled = make_imputer(max_epochs=3).fit(train).transform(X)
    assert list(filled.dtypes[:2]) == [pd.Float64Dtype(), pd.Int64Dtype()]
    assert set(filled["group"].cat.categories) == {"u", "v"}
    assert filled.notna().all(axis=None)
    # every training level, also those no fill of this batch uses (before:
    # the fills' levels alone, so batches came back with other categories)
    table = pd.DataFrame(
        {"x": rng.normal(size=200), "c": pd.Categorical(rng.choice(list("abc"), 200))}
    )
    table.loc[::9, "x"] = np.nan
    table.loc[::7, "c"] = np.nan
    imputer = make_imputer(max_epochs=3).fit(table)
    # one row, so that its fill holds one level: categories built apart, "a"
    batch = table.iloc[[1]].assign(c=pd.Categorical([None], categories=["a"]))
    assert list(imputer.transform(batch)["c"].cat.categories) == ["a", "b", "c"]
    observed = X.notna()
    assert filled[observed].equals(X[observed].astype(filled.dtypes))
    # and the other way round: fitted on nullable dtypes, X in NumPy's
    nullable = make_imputer(max_epochs=3).fit(train.convert_dtypes())
    assert (nullable.transform(train).dtypes == train.dtypes).all()


@pytest.mark.short_fits
def test_an_unseen_level_read_as_missing_is_kept_and_not_leant_on():
    rng = np.random.RandomState(0)
    level = rng.choice(["x", "y"], 200)
    train = pd.DataFrame(
        {"t": level.astype(object), "f": np.where(level == "x", -3.0, 3.0)}
    )
    train["f"] += rng.normal(size=200)
    imputer = make_imputer(max_epochs=3, handle_unknown="missing").fit(train)
    rows = pd.DataFrame({"t": ["zzz", None, "x"], "f": np.nan})
    filled = imputer.transform(rows)
    # the unseen level stays; its row's fill is that of a row whose level is
    # missing, not that of a known level
    assert filled["t"].tolist()[::2] == ["zzz", "x"] and filled.loc[1, "t"] in "xy"
    assert filled.loc[0, "f"] == filled.loc[1, "f"] != filled.loc[2, "f"]


@pytest.mark.short_fits
def test_a_column_with_nothing_observed_in_a_batch_takes_the_dtype_of_fit():
    # read from a file, a column of text empty in this batch is float64
    rng = np.random.RandomState(0)
    train = pd.DataFrame(
        {
            "size": rng.normal(size=100),
            "city": rng.choice(["x", "y"], 100).astype(object),
            "group": pd.Categorical(rng.choice(["u", "v"], 100)),
            "flag": rng.rand(100) < 0.5,
        }
    )
    train.loc[:9, "size"] = np.nan
    train.loc[10:19, "city"] = None
    imputer = make_imputer(max_epochs=3).fit(train)
    batch = pd.DataFrame(
        {"size": [1.0, 2.0], "city": np.nan, "group": np.nan, "flag": np.nan},
        index=[5, 7],
    )
    filled = imputer.transform(batch)
    # every column takes the dtype of fit (booleans came back as float64's
    # 0 and 1), as do empty columns held as objects
    assert (filled.dtypes == train.dtypes).all()
    as_objects = imputer.transform(batch.assign(size=[None, None], flag=[None, None]))
    assert (as_objects.dtypes == train.dtypes).all()
    # a float64 column with a cell observed keeps its dtype
    one_flag = imputer.transform(batch.assign(flag=[1.0, np.nan]))
    assert one_flag["flag"].dtype == np.float64 and set(one_flag["flag"]) <= {0.0, 1.0}
    # a nullable column that can take the fills keeps its dtype
    nullable = batch.assign(flag=pd.array([None, None], dtype="boolean"))
    assert imputer.transform(nullable)["flag"].dtype == pd.BooleanDtype()
    assert filled.notna().all(axis=None) and list(filled.index) == [5, 7]
    assert set(filled["city"]) <= {"x", "y"}
    assert_array_equal(filled["size"], [1.0, 2.0])


@pytest.mark.short_fits
@pytest.mark.parametrize("empty_column", [False, True])
def test_fitted_on_a_table_it_fills_an_array_as_an_array(empty_column):
    # As scikit-learn's imputers: the kind of X in is the kind out, with one
    # warning that X has no column names.
    rng = np.random.RandomState(0)
    table = pd.DataFrame({"x": rng.normal(size=100), "k": rng.choice(["u", "v"], 100)})
    table.loc[:9, "x"] = np.nan
    table.loc[10:19, "k"] = np.nan
    imputer = make_imputer(max_epochs=3)
    if empty_column:  # left out of the model, and of the output
        table.insert(1, "empty", np.nan)
        with pytest.warns(UserWarning, match="Skipping features without any"):
            imputer.fit(table)
    else:
        imputer.fit(table)
    by_table = imputer.transform(table)
    for rows in (table.to_numpy(), table.to_numpy().tolist()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            filled = imputer.transform(rows)
        assert [str(w.message)[:36] for w in caught] == [
            "X does not have valid feature names,"
        ]
        assert isinstance(filled, np.ndarray) and filled.dtype == object
        assert_array_equal(filled, by_table.to_numpy())


@pytest.mark.short_fits
def test_auto_beta_is_a_half_for_numbers_and_one_with_categorical_columns(
    correlated,
):
    _, holed = correlated
    table = pd.DataFrame(holed, columns=list("abcde"))
    with_levels = table.assign(e=pd.Categorical(np.where(holed[:, 4] > 0, "x", "y")))

    def filled(X, beta):
        return make_imputer(max_epochs=3, beta=beta, n_threads=1).fit_transform(X)

    for X, weight, other in ((table, 0.5, 1.0), (with_levels, 1.0, 0.5)):
        auto = filled(X, "auto")
        pd.testing.assert_frame_equal(auto, filled(X, weight))
        assert not auto.equals(filled(X, other))


def test_feature_names_out_are_the_input_names(correlated):
    _, holed = correlated
    frame = pd.DataFrame(holed, columns=list("abcde"))
    imputer = make_imputer().fit(frame)
    assert list(imputer.get_feature_names_out()) == list("abcde")


@pytest.mark.parametrize("sample_posterior", [False, True])
def test_a_table_keeps_dtypes_whether_filled_by_means_or_draws(sample_posterior):
    rng = np.random.RandomState(0)
    group = rng.choice(["a", "b"], size=300)
    table = pd.DataFrame(
        {
            "size": np.where(group == "a", 3.0, -3.0) + rng.normal(size=300),
            "group": pd.Categorical(group),
        }
    )
    holed = table.copy()
    holed.loc[:19, "group"] = np.nan
    holed.loc[20:39, "size"] = np.nan
    imputer = make_imputer(sample_posterior=sample_posterior).fit(holed)
    filled = imputer.transform(holed)
    assert (filled.dtypes == table.dtypes).all()
    assert set(filled["group"]) == {"a", "b"}
    # Sizes filled in rows of group a are larger, drawn or not.
    sizes = (
        filled.loc[20:39, "size"]
        .groupby(table.loc[20:39, "group"], observed=True)
        .mean()
    )
    assert sizes["a"] - sizes["b"] > 2.0


@pytest.mark.short_fits
def test_posterior_draws_of_sparse_rows_in_several_blocks_are_not_repeated(
    correlated,
):
    _, holed = correlated
    imputer = make_imputer(sample_posterior=True, max_epochs=2).fit(holed)
    rows = np.tile(holed[:1], (6, 1))
    rows[:, 0] = np.nan  # six copies of one row, each with a cell to draw
    tiny = config_context(working_memory=0.0001)  # a block of 2 rows at a time
    with tiny, pytest.warns(UserWarning, match="Could not adhere to working_memory"):
        from_sparse = imputer.transform(sparse.csr_matrix(rows)).toarray()
        from_dense = imputer.transform(rows)
    assert len(np.unique(from_sparse[:, 0])) == 6  # each block draws afresh
    assert_allclose(from_sparse, from_dense, rtol=1e-5, atol=1e-6)


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "parameter, value", [("n_threads", 0), ("keep_empty_features", "yes")]
)
def test_posterior_draws_check_the_parameters_before_a_random_state_gives_a_seed(
    correlated, parameter, value
):
    _, holed = correlated
    state = np.random.RandomState(0)
    imputer = make_imputer(sample_posterior=True, max_epochs=2, random_state=state)
    imputer.fit(holed)
    before = state.get_state()
    imputer.set_params(**{parameter: value})
    with pytest.raises(ValueError, match=f"'{parameter}' parameter"):
        imputer.transform(holed)
    assert_array_equal(state.get_state()[1], before[1])
    assert state.get_state()[2] == before[2]


@pytest.mark.short_fits
def test_failed_posterior_draws_leave_the_random_state_where_it_was(
    correlated, monkeypatch
):
    _, holed = correlated
    state = np.random.RandomState(0)
    imputer = make_imputer(sample_posterior=True, max_epochs=2).fit(holed)
    imputer.set_params(random_state=state)

    def failing(*args):
        raise MemoryError("no room for the draws")

    monkeypatch.setattr(imputer.module_, "conditional_sample", failing)
    with pytest.raises(MemoryError, match="no room"):
        imputer.transform(holed)
    assert state.randint(2**31) == np.random.RandomState(0).randint(2**31)


@pytest.mark.short_fits
def test_only_rows_with_a_missing_cell_are_decoded(correlated, monkeypatch):
    # Dense rows were all decoded, complete ones too: a table of few holes
    # cost as much as one of many, and its draws differed from the CSR's
    from skvae._module import VAE

    X, holed = correlated
    imputer = make_imputer(sample_posterior=True, max_epochs=2).fit(holed)
    rows = np.vstack([X[:50], holed[:50]])
    decoded = []
    sampling = VAE.conditional_sample

    def conditional_sample(self, x, noise, generator):
        decoded.append(len(x))
        return sampling(self, x, noise, generator)

    monkeypatch.setattr(VAE, "conditional_sample", conditional_sample)
    from_dense = imputer.transform(rows)
    holes = np.isnan(rows).any(axis=1).sum()
    assert sum(decoded) == max(holes, 16)  # batches pad to 16 rows at least
    assert_array_equal(from_dense[:50], X[:50])
    from_sparse = imputer.transform(sparse.csr_matrix(rows)).toarray()
    assert_allclose(from_sparse, from_dense, rtol=1e-5, atol=1e-6)


@pytest.mark.short_fits
def test_containers_come_back_as_scikit_learn_imputers_return_them(correlated):
    _, holed = correlated
    frame = pd.DataFrame(holed, columns=list("abcde"))
    imputer = make_imputer(max_epochs=2, add_indicator=True).fit(frame)
    # integer labels where fit had names: one warning (there were two), then
    # the fills by position (it raised KeyError)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        by_position = imputer.transform(pd.DataFrame(holed))
    assert [str(w.message)[:36] for w in caught] == [
        "X does not have valid feature names,"
    ]
    assert_array_equal(by_position.to_numpy(), imputer.transform(frame).to_numpy())
    # the indicator's columns are numbers, as in an array (they were booleans,
    # which made the frame's array one of objects)
    assert imputer.transform(frame).to_numpy().dtype == np.float64
    # a sparse array back for a sparse array (it came back a sparse matrix)
    rows = sparse.csr_array(holed)
    imputer = make_imputer(max_epochs=2, likelihood="gaussian").fit(rows)
    assert isinstance(imputer.transform(rows), sparse.csr_array)
    assert isinstance(imputer.transform(sparse.csr_matrix(holed)), sparse.csr_matrix)
    # a frame of pandas sparse columns, read as a sparse matrix (it raised)
    sparse_frame = pd.DataFrame.sparse.from_spmatrix(sparse.csr_matrix(holed))
    filled = imputer.fit(sparse_frame).transform(sparse_frame)
    assert sparse.issparse(filled) and not np.isnan(filled.toarray()).any()
    table_model = make_imputer(max_epochs=2).fit(sparse_frame)
    assert not table_model.transform(sparse_frame).isna().any().any()
    # named sparse columns: the blocks of rows it fills were checked against
    # the fitted names, which they lack (it warned)
    names = [f"c{j}" for j in range(holed.shape[1])]
    named_frame = pd.DataFrame.sparse.from_spmatrix(
        sparse.csr_matrix(holed), columns=names
    )
    imputer.fit(named_frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        filled_by_name = imputer.transform(named_frame)
    assert_array_equal(filled_by_name.toarray(), filled.toarray())
    # whole numbers in pandas sparse columns: inflated columns, read dense
    # (fit raised), given back in the columns' dense dtype
    counts = np.random.RandomState(0).poisson(1.0, size=(60, 3))
    count_frame = pd.DataFrame.sparse.from_spmatrix(sparse.csr_matrix(counts))
    table_model = make_imputer(max_epochs=2).fit(count_frame)
    assert set(table_model.likelihoods_.values()) == {"inflated_gaussian"}
    assert (table_model.transform(count_frame).dtypes == np.int64).all()


@pytest.mark.short_fits
def test_placeholders_beside_pd_na_and_arrow_columns(correlated):
    _, holed = correlated
    # pd.NA in rows of objects is missing whatever missing_values is (the
    # comparison with -1 raised)
    rows = np.where(np.isnan(holed), -1.0, holed).astype(object)
    rows[0, 0] = pd.NA
    filled = make_imputer(max_epochs=2, missing_values=-1).fit_transform(rows)
    assert not np.isnan(filled.astype(float)).any()
    # text marks the missing cells of a text column beside Arrow numbers,
    # which cannot hold it (the comparison raised ArrowTypeError)
    pa = pytest.importorskip("pyarrow")
    table = pd.DataFrame(
        {
            "age": pd.array(np.arange(40) % 7 + 30, dtype="int64[pyarrow]"),
            "job": pd.array(["a", "?", "b", "a"] * 10, dtype="string[pyarrow]"),
        }
    )
    filled = make_imputer(max_epochs=2, missing_values="?").fit_transform(table)
    assert filled["job"].isin(["a", "b"]).all()
    assert filled["age"].dtype == table["age"].dtype
    assert_array_equal(filled["age"], table["age"])
    # Arrow's booleans hold no -1 (their comparison read -1 as True)
    flags = table.assign(
        flag=pd.array([True, False] * 20, dtype="bool[pyarrow]"),
        age=np.where(np.arange(40) % 5 == 0, -1, np.arange(40) % 7 + 30),
    )
    imputer = make_imputer(max_epochs=2, missing_values=-1, add_indicator=True)
    imputer.fit(flags.drop(columns="job"))
    assert imputer.indicator_.features_.tolist() == [0]  # age alone
    # an Arrow dictionary keeps its missing cells where they are (masking
    # the placeholder moved them onto other rows' levels)
    words = pa.array(["a", "?", None, "b", "c", None, "a", "?"] * 5)
    coded = pd.Series(
        words.dictionary_encode(), dtype=pd.ArrowDtype(words.dictionary_encode().type)
    )
    # a boolean array holds no 0, as a boolean column does not (before: every
    # False was missing)
    flags = np.array([[True, False], [False, True]])
    assert placeholders_as_nan(flags, 0) is flags
    levels = pd.DataFrame({"c": pd.Categorical([True, False, "x"])})
    assert placeholders_as_nan(levels, 0) is levels  # no False is a missing 0
    assert np.isnan(placeholders_as_nan(flags, False)).sum() == 2
    marked = placeholders_as_nan(pd.DataFrame({"w": coded}), "?")["w"]
    assert_array_equal(
        marked.isna(), pd.Series(words).isin(["?"]) | pd.Series(words).isna()
    )
    assert_array_equal(
        marked.dropna(), pd.Series(words).dropna().loc[lambda w: w != "?"]
    )


@pytest.mark.short_fits
def test_missing_values_marks_missing_cells_as_in_scikit_learns_imputers(correlated):
    X, holed = correlated
    marked = np.where(np.isnan(holed), -1.0, holed)
    marked[0, 1] = np.nan  # NaN stays missing whatever marks the others
    with_nan = holed.copy()
    with_nan[0, 1] = np.nan
    by_nan = make_imputer(max_epochs=2).fit_transform(with_nan)
    imputer = make_imputer(max_epochs=2, missing_values=-1)
    assert_allclose(imputer.fit_transform(marked), by_nan, atol=1e-5)
    assert (marked == -1).sum() == np.isnan(holed).sum()  # the input untouched
    for to_sparse in (sparse.csr_matrix, sparse.lil_matrix, sparse.dok_matrix):
        # LIL's data are lists and DOK has none: -1 went unseen, or raised
        rows = to_sparse(marked)
        filled = imputer.fit(rows).transform(rows).toarray()
        assert_allclose(filled, by_nan, atol=1e-5)
    # an imputer pickled before missing_values existed reads NaN alone
    state = imputer.__getstate__()
    del state["missing_values"]
    unpickled = VAEImputer.__new__(VAEImputer)
    unpickled.__setstate__(state)
    assert not np.isnan(unpickled.transform(holed)).any()
    # text and integers of a table, with the indicator of their holes
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {"x": X[:, 0], "kind": rng.choice(["a", "b"], 400), "n": rng.randint(3, 9, 400)}
    )
    table.loc[:19, "kind"] = "?"
    table.loc[20:39, "n"] = -1
    for placeholder, column in (("?", "kind"), (-1, "n")):
        imputer = make_imputer(max_epochs=2, missing_values=placeholder)
        filled = imputer.set_params(add_indicator=True).fit_transform(table)
        assert not filled[column].isin([placeholder]).any()
        assert filled[f"missingindicator_{column}"].sum() == 20
    # an int64 column marked by -1 comes back int64, its fills whole numbers
    assert filled["n"].dtype == np.int64
    assert filled["n"].between(3, 8).all()


@pytest.mark.short_fits
def test_dense_and_sparse_draws_agree_beside_a_column_left_out(correlated):
    # the sparse path decoded rows whose only hole was in the empty column,
    # spending the seeded stream on rows the dense path does not decode
    _, holed = correlated
    rows = np.hstack([holed, np.full((len(holed), 1), np.nan)])
    imputer = make_imputer(sample_posterior=True, max_epochs=2)
    imputer.set_params(keep_empty_features=True)
    imputer.fit(rows)
    from_dense = imputer.transform(rows)
    from_sparse = imputer.transform(sparse.csr_matrix(rows)).toarray()
    assert_allclose(from_sparse, from_dense, rtol=1e-5, atol=1e-6)
    assert_array_equal(from_dense[:, -1], 0.0)


def test_sparse_rows_take_no_zero_as_missing_values(correlated):
    imputer = make_imputer(missing_values=0)
    with pytest.raises(ValueError, match="missing_values=0 cannot mark"):
        imputer.fit(sparse.csr_matrix(correlated[0]))
    assert not hasattr(imputer, "module_")


@pytest.mark.parametrize(
    "container",
    [np.asarray, pd.DataFrame, sparse.csr_matrix, np.ndarray.tolist],
    ids=["array", "DataFrame", "sparse", "list"],
)
def test_a_text_placeholder_in_numbers_is_refused(correlated, container):
    # before: no number is the text "999", so the cells that held 999 came
    # back unfilled, without a word; scikit-learn's imputers refuse it too
    X, _ = correlated
    rows = X.copy()
    rows[:10, 0] = 999
    imputer = make_imputer(missing_values="999")
    message = r"missing_values='999' is text, and X is .*\(999, not '999'\)"
    with pytest.raises(ValueError, match=message):
        imputer.fit(container(rows))
    assert not hasattr(imputer, "module_")


def test_a_text_placeholder_beside_a_condition_of_text_is_refused_as_such(
    correlated,
):
    # before: "X is a DataFrame of numeric columns", beside a column of text
    X, _ = correlated
    frame = pd.DataFrame(X[:, :3], columns=list("abc"))
    frame["s"] = np.where(X[:, 3] > 0, "p", "-1")
    frame.loc[:9, "a"] = 999
    imputer = make_imputer(missing_values="-1", condition_on=["s"])
    message = "X is a DataFrame of numeric columns beside its conditions: no cell"
    with pytest.raises(ValueError, match=message):
        imputer.fit(frame)


@pytest.mark.short_fits
def test_a_text_placeholder_set_after_fit_is_refused_at_transform(correlated):
    X, _ = correlated
    rows = X.copy()
    rows[:10, 0] = 999
    imputer = make_imputer(max_epochs=2, missing_values=999).fit(rows)
    imputer.set_params(missing_values="999")
    with pytest.raises(ValueError, match="missing_values='999' is text"):
        imputer.transform(rows)


def test_posterior_draws_follow_random_state(correlated):
    X, holed = correlated
    missing = np.isnan(holed)
    imputer = make_imputer(sample_posterior=True).fit(holed)
    first = imputer.transform(holed)
    assert_array_equal(imputer.transform(holed), first)
    assert_array_equal(first[~missing], holed[~missing])
    draws = [first]
    for seed in range(1, 20):
        draws.append(imputer.set_params(random_state=seed).transform(holed))
    draws = np.stack(draws)
    assert not np.allclose(draws[0], draws[1])
    # Draws scatter around the conditional mean, and their average nears it.
    means = imputer.set_params(sample_posterior=False).transform(holed)
    spread = draws[:, missing].std(axis=0)
    assert spread.mean() > 0.05
    average_error = np.mean((draws.mean(axis=0) - means)[missing] ** 2)
    single_error = np.mean((draws[0] - means)[missing] ** 2)
    assert average_error < 0.2 * single_error


def test_add_indicator_appends_simple_imputers_indicator(correlated):
    _, holed = correlated
    holed = holed.copy()
    holed[:, 2] = np.where(np.isnan(holed[:, 2]), 1.0, holed[:, 2])  # no holes
    frame = pd.DataFrame(holed, columns=list("abcde"))
    # One thread each: the same sums in the same order, so the fills agree
    # bit for bit whatever else runs on the machine.
    imputer = make_imputer(add_indicator=True, n_threads=1).fit(frame)
    expected = SimpleImputer(add_indicator=True).fit(frame)
    filled = imputer.transform(frame)
    assert list(filled.columns) == list(expected.get_feature_names_out())
    assert list(imputer.get_feature_names_out()) == list(filled.columns)
    indicator = filled.iloc[:, 5:].to_numpy()
    assert_array_equal(indicator, expected.transform(frame)[:, 5:] == 1)
    alone = make_imputer(n_threads=1).fit_transform(frame)
    assert_array_equal(filled.iloc[:, :5], alone)


@pytest.mark.short_fits
@pytest.mark.parametrize("output", ["pandas", "polars"])
def test_the_indicator_follows_a_global_transform_output(correlated, output):
    # before: under set_config(transform_output="pandas") the indicator's
    # columns were all NaN, and under "polars" transform raised AttributeError
    if output == "polars":
        pytest.importorskip("polars")
    _, holed = correlated
    frame = pd.DataFrame(holed[:, :3], columns=list("abc"))
    expected = SimpleImputer(add_indicator=True).fit(frame).transform(frame)[:, 3:]
    with config_context(transform_output=output):
        filled = make_imputer(add_indicator=True, max_epochs=2).fit_transform(frame)
        assert list(filled.columns[3:]) == [f"missingindicator_{c}" for c in "abc"]
        assert_array_equal(filled.to_numpy()[:, 3:], expected)


@pytest.mark.short_fits
def test_indicator_columns_of_labels_that_are_not_strings_are_named_as_sklearn_does(
    correlated,
):
    # before: the filled columns kept their labels (10, 30) beside indicator
    # columns named "missingindicator_10": labels of mixed types, which every
    # scikit-learn estimator after the imputer refused
    _, holed = correlated
    holed = holed[:, :3].copy()
    holed[:, 1] = np.nan  # empty: left out of the output
    frame = pd.DataFrame(holed, columns=[10, 20, 30])
    imputer = make_imputer(add_indicator=True, max_epochs=2)
    with pytest.warns(UserWarning, match="Skipping features without any observed"):
        filled = imputer.fit_transform(frame)
    # scikit-learn's names, as SimpleImputer gives them under set_output
    names = ["x0", "x2", "missingindicator_x0", "missingindicator_x1"]
    assert list(filled.columns) == [*names, "missingindicator_x2"]
    assert list(filled.columns) == list(imputer.get_feature_names_out())
    assert_array_equal(filled.to_numpy()[:, 2:], np.isnan(holed))
    named = imputer.set_output(transform="pandas").transform(frame)
    assert list(named.columns) == list(filled.columns)
    # the next step of a pipeline takes the frame
    y = (holed[:, 0] > 0).astype(int)
    pipeline = make_pipeline(
        make_imputer(add_indicator=True, max_epochs=2), LogisticRegression()
    )
    with pytest.warns(UserWarning, match="Skipping features without any observed"):
        pipeline.fit(frame, y)
    assert_array_equal(pipeline[-1].feature_names_in_, filled.columns)


@pytest.mark.short_fits
@pytest.mark.parametrize("to_sparse", [False, True])
def test_add_indicator_covers_the_columns_missing_in_any_chunk(correlated, to_sparse):
    X, _ = correlated
    first, second = X[:200].copy(), X[200:].copy()
    first[::4, 0] = np.nan
    second[::4, 2] = np.nan
    given = sparse.csr_matrix if to_sparse else np.asarray
    imputer = make_imputer(add_indicator=True, max_epochs=2)
    imputer.partial_fit(given(first)).partial_fit(given(second))
    # the second chunk used to replace the first's indicator by its own
    names = ["x0", "x1", "x2", "x3", "x4", "missingindicator_x0", "missingindicator_x2"]
    assert list(imputer.get_feature_names_out()) == names
    filled = imputer.transform(given(first))
    filled = filled.toarray() if to_sparse else filled
    assert_array_equal(filled[:, 5:], np.isnan(first[:, [0, 2]]))
    # fit starts anew, as SimpleImputer's does
    imputer.fit(given(second))
    assert list(imputer.get_feature_names_out()) == names[:5] + names[6:]


@pytest.mark.short_fits
def test_values_of_a_column_left_out_of_a_stream_are_not_dropped_silently(correlated):
    X, _ = correlated
    first, second = X[:200].copy(), X[200:].copy()
    first[:, 3] = np.nan
    imputer = make_imputer(max_epochs=2)
    with pytest.warns(UserWarning, match=r"Skipping features .*\[3\]") as caught:
        imputer.partial_fit(first)
    assert caught[0].filename == __file__  # not sys:1, past the fit wrappers
    with pytest.warns(UserWarning, match=r"Columns \[3\] had no observed value"):
        imputer.partial_fit(second)
    assert list(imputer.likelihoods_) == [0, 1, 2, 4]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imputer.partial_fit(first)  # nothing of column 3 to drop


@pytest.mark.short_fits
def test_an_empty_column_leaves_the_others_positions_as_they_are(correlated):
    X, _ = correlated
    X = np.column_stack([X[:, :2], np.full(len(X), np.nan), np.round(X[:, 2:]) % 3])
    imputer = make_imputer(condition_on=0, likelihood={3: "categorical"}, max_epochs=2)
    with pytest.warns(UserWarning, match=r"Skipping features .*\[2\]"):
        imputer.fit(X)
    assert imputer.likelihoods_ == {
        1: "laplace",
        3: "categorical",
        4: "laplace",
        5: "laplace",
    }


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "call", ["fit", "fit_transform", "partial_fit", "pipeline", "cross_validate"]
)
def test_warnings_point_at_the_callers_line(correlated, call):
    from sklearn.pipeline import make_pipeline

    X, _ = correlated
    X = X.copy()
    X[:, 3] = np.nan
    imputer = make_imputer(max_epochs=2)
    if call == "pipeline":  # a step before the last is fitted through joblib
        fit = make_pipeline(imputer, StandardScaler()).fit
    elif call == "cross_validate":
        fit = functools.partial(cross_validate, imputer, cv=2)
    else:
        fit = getattr(imputer, call)
    with pytest.warns(UserWarning, match="Skipping features") as caught:
        fit(X)
    assert {warning.filename for warning in caught} == {__file__}


def test_add_indicator_sees_none_in_text_columns():
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {"size": rng.normal(size=100), "colour": rng.choice(["red", "blue"], 100)}
    ).astype({"colour": object})
    table.loc[:9, "colour"] = None
    filled = make_imputer(add_indicator=True).fit_transform(table)
    assert list(filled.columns) == ["size", "colour", "missingindicator_colour"]
    assert filled["missingindicator_colour"].sum() == 10
    assert filled["colour"].notna().all()
    # in an array of objects the indicator's columns are floats too (before:
    # Python booleans)
    filled = make_imputer(add_indicator=True).fit_transform(table.to_numpy())
    assert {type(value) for value in filled[:, 2]} == {float}
    assert filled[:, 2].sum() == 10


@pytest.mark.short_fits
@pytest.mark.parametrize("as_array", [False, True])
def test_a_numeric_placeholder_leaves_booleans_held_as_objects(as_array):
    # before: missing_values=0 made every False missing (False == 0), and the
    # fills replaced them with True
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {
            "glucose": rng.randint(80, 200, 120).astype(float),
            "smoker": pd.Series(rng.rand(120) > 0.5, dtype=object),
        }
    )
    table.loc[::6, "glucose"] = 0  # the placeholder
    table.loc[::9, "smoker"] = None
    X = table.to_numpy(dtype=object) if as_array else table
    filled = make_imputer(missing_values=0, add_indicator=True).fit_transform(X)
    smoker = np.asarray(filled)[:, 1]
    observed = table["smoker"].notna().to_numpy()
    assert smoker[observed].tolist() == table["smoker"][observed].tolist()
    assert not (np.asarray(filled)[:, 0] == 0).any()


@pytest.mark.short_fits
def test_pipeline_and_grid_search_over_the_imputer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X[:, :8])
    rng = np.random.RandomState(0)
    X[rng.rand(*X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    pipeline = make_pipeline(
        make_imputer(max_epochs=30), LogisticRegression(max_iter=1000)
    )
    search = GridSearchCV(pipeline, {"vaeimputer__latent_dim": [1, 3]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.85
    assert search.predict(X[:5]).shape == (5,)


def test_sparse_rows_have_their_stored_nan_filled_and_nothing_else(correlated):
    X, holed = correlated
    holed = np.where(np.abs(X) < 0.5, 0.0, holed)  # zeros, not stored
    stored = sparse.csr_matrix(holed)
    imputer = make_imputer(add_indicator=True).fit(stored)
    filled = imputer.transform(stored)
    assert sparse.issparse(filled) and filled.format == "csr"
    values, indicator = filled[:, :5], filled[:, 5:]
    # the same pattern of stored entries, the stored NaN now numbers
    assert_array_equal(values.indptr, stored.indptr)
    assert_array_equal(values.indices, stored.indices)
    missing = np.isnan(stored.data)
    assert_array_equal(values.data[~missing], stored.data[~missing])
    assert np.isfinite(values.data).all()
    # each filled cell is the one the same model gives the dense rows
    dense_fill = imputer.transform(holed)
    assert_allclose(values.toarray(), dense_fill[:, :5], rtol=1e-5, atol=1e-6)
    assert_array_equal(indicator.toarray(), np.isnan(holed)[:, np.isnan(holed).any(0)])


@pytest.mark.short_fits
def test_a_row_with_nothing_observed_has_log_likelihood_zero(correlated):
    _, holed = correlated
    imputer = make_imputer(max_epochs=2).fit(holed)
    rows = holed[:3].copy()
    rows[1] = np.nan
    for given in (rows, sparse.csr_matrix(rows)):
        scores = imputer.score_samples(given)
        assert scores[1] == 0.0  # log P(nothing) exactly, not an estimate of it
        assert_allclose(scores[[0, 2]], imputer.score_samples(holed[[0, 2]]), rtol=1e-6)


@pytest.mark.short_fits
def test_sparse_rows_are_checked_as_a_whole_before_any_fill(correlated):
    _, holed = correlated
    imputer = make_imputer(max_epochs=2).fit(sparse.csr_matrix(holed))
    rows = holed[:4].copy()
    rows[2, 1] = np.inf
    with pytest.raises(ValueError, match="Column 1 of X holds inf in row 2"):
        imputer.transform(sparse.csr_matrix(rows))
    rows[2] = np.nan  # a row with nothing observed is filled, as a dense one is
    filled = imputer.transform(sparse.csr_matrix(rows))
    assert_allclose(filled.toarray(), imputer.transform(rows), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="has 4 features"):
        imputer.transform(sparse.csr_matrix(np.ones((3, 4))))  # no NaN to fill
    complete = sparse.csr_matrix(np.nan_to_num(holed[:6]))  # nothing to fill
    assert (imputer.transform(complete) != complete).nnz == 0


@pytest.fixture
def with_empty_column(correlated):
    """``correlated``'s holed rows as a table whose column ``c`` is all missing."""
    _, holed = correlated
    frame = pd.DataFrame(holed, columns=list("abcde"))
    frame["a"] = correlated[0][:, 0]  # every row keeps an observed cell
    frame["c"] = np.nan
    return frame


def _dense(filled) -> np.ndarray:
    return filled.toarray() if sparse.issparse(filled) else np.asarray(filled)


@pytest.mark.short_fits
def test_sparse_rows_name_the_cell_of_a_bad_value_among_every_column(
    with_empty_column,
):
    # Column c (2) is left out of the model; the positions are X's all the same.
    rows = sparse.csr_matrix(with_empty_column.to_numpy())
    imputer = make_imputer(max_epochs=2)
    with pytest.warns(UserWarning, match="without any observed values"):
        imputer.fit(rows)
    for value in (np.inf, 1e39):
        bad = rows[:4].toarray()
        bad[1, 4] = value
        with pytest.raises(ValueError, match="Column 4 of X holds"):
            imputer.transform(sparse.csr_matrix(bad))


def _frame_of_sparse_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame.sparse.from_spmatrix(
        sparse.csr_matrix(frame.to_numpy()), columns=frame.columns
    )


@pytest.mark.short_fits
@pytest.mark.parametrize(
    "container",
    [np.asarray, pd.DataFrame, sparse.csr_matrix, _frame_of_sparse_columns],
)
def test_an_inf_in_a_column_left_out_of_the_model_is_named(
    with_empty_column, container
):
    # one family keeps a frame of sparse columns sparse (a table is read dense)
    one_family = (
        {"likelihood": "gaussian"} if container is _frame_of_sparse_columns else {}
    )
    imputer = make_imputer(max_epochs=2, **one_family)
    with pytest.warns(UserWarning, match="without any observed values"):
        imputer.fit(container(with_empty_column))
    bad = with_empty_column[:4].copy()
    bad.iloc[1, 2] = -np.inf
    named = container in (pd.DataFrame, _frame_of_sparse_columns)
    name = "'c'" if named else "2"
    with pytest.raises(ValueError, match=f"Column {name} of X holds -inf in row 1"):
        imputer.transform(container(bad))


@pytest.mark.parametrize("container", [np.asarray, pd.DataFrame, sparse.csr_matrix])
def test_an_empty_column_is_dropped_with_a_warning_as_simple_imputer_does(
    with_empty_column, container
):
    X = container(with_empty_column)
    imputer = make_imputer(add_indicator=True)
    with pytest.warns(UserWarning, match=r"without any observed values: \[.?(2|c)"):
        filled = imputer.fit_transform(X)
    expected = SimpleImputer(add_indicator=True).fit(X)
    with pytest.warns(UserWarning, match="without any observed values"):
        assert filled.shape == expected.transform(X).shape
    assert list(imputer.get_feature_names_out()) == list(
        expected.get_feature_names_out()
    )
    assert list(imputer.likelihoods_) == (
        ["a", "b", "d", "e"] if container is pd.DataFrame else [0, 1, 3, 4]
    )
    kept = np.asarray(with_empty_column.drop(columns="c"))
    observed = ~np.isnan(kept)
    assert_array_equal(_dense(filled)[:, :4][observed], kept[observed])


@pytest.mark.parametrize("container", [np.asarray, pd.DataFrame, sparse.csr_matrix])
def test_keep_empty_features_fills_an_empty_column_with_zeros(
    with_empty_column, container
):
    X = container(with_empty_column)
    imputer = make_imputer(keep_empty_features=True, add_indicator=True)
    filled = imputer.fit_transform(X)
    expected = SimpleImputer(keep_empty_features=True, add_indicator=True).fit(X)
    assert list(imputer.get_feature_names_out()) == list(
        expected.get_feature_names_out()
    )
    values = _dense(filled).astype(float)
    assert_array_equal(values[:, 2], 0.0)
    observed = ~np.isnan(np.asarray(with_empty_column))
    assert_array_equal(values[:, :5][observed], np.asarray(with_empty_column)[observed])
    assert not np.isnan(values).any()
    # a cell observed later in the empty column is an observed cell: unchanged
    later = with_empty_column.iloc[:3].assign(c=[1.0, np.nan, 3.0])
    assert_array_equal(_dense(imputer.transform(container(later)))[:, 2], [1, 0, 3])


@pytest.mark.parametrize("keep_empty_features", [False, True])
def test_empty_columns_of_every_dtype_come_back_in_their_dtype(
    with_empty_column, keep_empty_features
):
    table = with_empty_column.drop(columns="c").assign(
        levels=pd.Categorical([None] * len(with_empty_column), categories=["x", "y"]),
        text=pd.array([None] * len(with_empty_column), dtype="string"),
        whole=pd.array([None] * len(with_empty_column), dtype="Int64"),
        flag=pd.array([None] * len(with_empty_column), dtype="boolean"),
    )
    imputer = make_imputer(max_epochs=2, keep_empty_features=keep_empty_features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # four columns left out
        filled = imputer.fit(table).transform(table)
    kept = list(table.columns) if keep_empty_features else list("abde")
    assert list(filled.columns) == kept == list(imputer.get_feature_names_out())
    assert (filled.dtypes == table[kept].dtypes).all()
    assert not filled[list("abde")].isna().any().any()
    if keep_empty_features:  # 0 where the dtype holds numbers, else missing
        assert (filled["whole"] == 0).all() and (~filled["flag"]).all()
        assert filled["levels"].isna().all() and filled["text"].isna().all()


def test_an_empty_column_beside_a_condition(correlated, with_empty_column):
    # every row keeps an observed cell besides the condition
    table = with_empty_column.assign(d=correlated[0][:, 3])
    imputer = make_imputer(condition_on=["a"], keep_empty_features=True)
    filled = imputer.fit_transform(table)
    assert list(filled.columns) == list("abcde")
    assert_array_equal(filled["a"], table["a"])
    assert_array_equal(filled["c"], 0.0)
    assert list(imputer.likelihoods_) == ["b", "d", "e"]


@pytest.mark.short_fits
@pytest.mark.parametrize("as_array", [False, True])
def test_a_placeholder_in_a_condition_is_a_value(as_array):
    # before: "The condition 'sex' is missing in row 1", for the 0 that codes
    # a group beside readings where 0 marks a hole
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {
            "bp": rng.normal(70, 10, 140).round(),
            "bmi": rng.normal(30, 5, 140),
            "sex": rng.randint(0, 2, 140),
        }
    )
    table.loc[::7, "bp"] = 0
    X, key = (table.to_numpy(), 2) if as_array else (table, "sex")
    imputer = make_imputer(missing_values=0, condition_on=key, max_epochs=2)
    filled = np.asarray(imputer.fit_transform(X))
    assert not (filled[:, 0] == 0).any()
    assert_array_equal(filled[:, 2], table["sex"])


@pytest.mark.parametrize(
    "X, condition_on, message",
    [
        (np.arange(10.0), None, "Expected 2D array"),
        (np.ones((10, 3)), 5, "condition_on names column 5, which is not among"),
        (np.ones((10, 3)), True, "condition_on names columns by name or position"),
    ],
)
def test_a_placeholder_leaves_bad_input_to_the_usual_messages(X, condition_on, message):
    # before: IndexError from leaving the conditions' cells alone
    imputer = make_imputer(missing_values=0, condition_on=condition_on)
    with pytest.raises(ValueError, match=message):
        imputer.fit(X)


@pytest.mark.short_fits
def test_rows_of_weight_0_neither_keep_a_column_nor_add_an_indicator(correlated):
    # before: a column observed only in rows of weight 0 stopped fit ("no
    # observed cell"), and such a row's holes added indicator columns; both
    # now fit as the rows left out do
    X, _ = correlated
    X = X[:200].copy()
    X[5:, 3] = np.nan  # column 3 observed in rows 0 to 4 only
    X[0, 1] = np.nan  # the only hole of column 1
    weights = np.ones(len(X))
    weights[:5] = 0.0
    model = make_imputer(max_epochs=2, add_indicator=True)
    with pytest.warns(UserWarning, match=r"Skipping features .*\[3\]"):
        weighted = clone(model).fit(X, sample_weight=weights)
    with pytest.warns(UserWarning, match=r"Skipping features .*\[3\]"):
        left_out = clone(model).fit(X[5:])
    assert list(weighted.likelihoods_) == list(left_out.likelihoods_)
    assert_array_equal(weighted.indicator_.features_, left_out.indicator_.features_)
    assert weighted.transform(X).shape == left_out.transform(X).shape
    # a row with nothing observed is filled, not left out: it counts for the
    # indicator (a first version of the above dropped it, as it weighs 0 in
    # training)
    X[7] = np.nan
    with pytest.warns(UserWarning, match=r"Skipping features .*\[3\]"):
        unweighted = clone(model).fit(X[5:])
    assert_array_equal(unweighted.indicator_.features_, [0, 1, 2, 3, 4])


@pytest.mark.short_fits
def test_objects_with_missing_cells_are_filled_as_numbers():
    # before: "cannot convert float NaN to integer" for an object array of
    # a frame's Int64 column, and a TypeError on pd.NA for a frame given to a
    # model fitted on an array
    frame = pd.DataFrame({"a": pd.array([1, 2, None, 3] * 10, dtype="Int64")})
    imputer = make_imputer(max_epochs=2).fit(frame)
    for rows in (frame.to_numpy(dtype=object), frame.to_numpy(dtype=object).tolist()):
        with pytest.warns(UserWarning, match="feature names"):
            filled = imputer.transform(rows)
        assert filled.dtype == np.float64 and np.isfinite(filled).all()
        assert_array_equal(filled[[0, 1, 3], 0], [1.0, 2.0, 3.0])
    texts = frame.assign(t=pd.Series(["7", "1.5", "7", None] * 10, dtype=object))
    imputer = make_imputer(max_epochs=2).fit(texts.to_numpy(dtype=object))
    with pytest.warns(UserWarning, match="feature names"):
        assert np.isfinite(imputer.transform(texts).astype(float)).all()
