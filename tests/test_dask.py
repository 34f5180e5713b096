"""Scale-out: fits in joblib and Dask workers, dask-ml wrappers, thread limits."""

import os
from contextlib import contextmanager

import joblib
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

distributed = pytest.importorskip(
    "distributed", reason="the Dask tests need skvae[dask] (dask, distributed)"
)
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, started once for the module."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@contextmanager
def torch_threads(n):
    """Run the block with ``n`` torch threads, as a worker would.

    Results are bit-identical only between runs with the same number of
    threads: torch may split a sum differently over another number of threads,
    which changes its last bits.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit_reporting_threads(estimator, X):
    """Fit ``estimator`` and say how many threads torch had for it."""
    return torch.get_num_threads(), estimator.fit(X)


@pytest.mark.short_fits
def test_loky_workers_train_on_their_share_of_the_cores(X, make_vae):
    vae = make_vae(max_epochs=3)
    results = joblib.Parallel(n_jobs=2)(
        joblib.delayed(_fit_reporting_threads)(clone(vae), X) for _ in range(2)
    )
    share = max(1, (os.cpu_count() or 1) // 2)
    for threads, fitted in results:
        assert threads <= share
        with torch_threads(threads):
            local = clone(vae).fit(X)
            assert_array_equal(fitted.transform(X), local.transform(X))


@pytest.mark.short_fits
def test_dask_workers_train_on_one_thread_and_return_the_model(client, X, make_vae):
    # The nanny starts each worker process with OMP_NUM_THREADS=1 (distributed's
    # nanny.pre-spawn-environ), which torch reads when it starts.
    assert set(client.run(torch.get_num_threads).values()) == {1}
    vae = make_vae(max_epochs=3)
    threads, fitted = client.submit(_fit_reporting_threads, clone(vae), X).result()
    assert threads == 1
    with torch_threads(1):
        local = clone(vae).fit(X)
        assert fitted.loss_curve_ == local.loss_curve_
        assert_array_equal(fitted.transform(X), local.transform(X))
        assert_array_equal(fitted.score_samples(X), local.score_samples(X))


@pytest.mark.short_fits
def test_grid_search_on_dask_matches_the_local_search(client, X, make_vae):
    search = GridSearchCV(make_vae(max_epochs=5), {"latent_dim": [1, 2, 3]}, cv=2)
    with torch_threads(1):  # as each worker has
        local = clone(search).fit(X)
    with joblib.parallel_backend("dask"):
        remote = clone(search).fit(X)
    assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_


def test_incremental_streams_the_chunks_through_partial_fit(client, X, make_vae):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    chunks = da.from_array(X, chunks=(100, X.shape[1]))
    incremental = wrappers.Incremental(make_vae(), shuffle_blocks=False).fit(chunks)
    streamed = incremental.estimator_
    local = make_vae()
    with torch_threads(1):  # as each worker has
        for chunk in np.array_split(X, 3):
            local.partial_fit(chunk)
        assert streamed.n_iter_ == 3
        assert streamed.loss_curve_ == local.loss_curve_
        assert_array_equal(streamed.transform(X), local.transform(X))
    assert incremental.transform(chunks).compute().shape == (len(X), 2)


def test_parallel_post_fit_transforms_a_dask_array_like_a_local_call(
    client, X, make_vae
):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    model = wrappers.ParallelPostFit(make_vae()).fit(X)
    chunks = da.from_array(X, chunks=(70, X.shape[1]))
    Z = model.transform(chunks)
    assert isinstance(Z, da.Array)
    # A row's code does not depend on the rows beside it, up to the float32
    # rounding of matrix products of other shapes.
    assert_allclose(Z.compute(), model.estimator.transform(X), rtol=1e-5, atol=1e-6)


def test_a_dask_dataframe_is_read_as_the_pandas_frame_it_computes_to(make_vae):
    # before: AttributeError ('Series' object has no attribute 'to_numpy'),
    # where a Dask array was read as its NumPy array
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    from skvae import VAEImputer

    rng = np.random.RandomState(0)
    table = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    table["g"] = rng.choice(["x", "y"], len(table))
    table.loc[::7, "a"] = np.nan
    lazy = dd.from_pandas(table, npartitions=3)
    vae, local = make_vae().fit(lazy), make_vae().fit(table)
    assert_array_equal(vae.transform(lazy), local.transform(table))
    assert_array_equal(vae.score_samples(lazy), local.score_samples(table))
    imputer = VAEImputer(hidden_layer_sizes=(16,), n_iter_no_change=3, random_state=0)
    filled = imputer.fit_transform(lazy)
    assert isinstance(filled, pd.DataFrame) and not filled.isna().any().any()
    # a placeholder is read once the frame is computed (before: Dask's apply)
    imputer.set_params(missing_values=-99.0)
    filled = imputer.fit_transform(dd.from_pandas(table.fillna(-99.0), npartitions=3))
    assert isinstance(filled, pd.DataFrame) and not (filled == -99.0).any().any()


def test_conditions_as_a_dask_dataframe_are_computed(make_vae):
    # before: AttributeError ('Series' object has no attribute 'to_numpy')
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    rng = np.random.RandomState(0)
    table = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    table["g"] = rng.choice(["x", "y"], len(table))
    vae = make_vae(condition_on="g").fit(table)
    conditions = pd.DataFrame({"g": ["x", "y", "y"]}, index=[5, 6, 7])
    lazy = dd.from_pandas(conditions, npartitions=2)
    rows = vae.sample(3, conditions=lazy, random_state=0)
    assert_array_equal(rows.index, [5, 6, 7])
    assert rows.equals(vae.sample(3, conditions=conditions, random_state=0))
    decoded = vae.inverse_transform(np.zeros((3, 2)), conditions=lazy)
    assert decoded["g"].tolist() == ["x", "y", "y"]
