import os

import numpy as np
import pytest
import torch

import skvae._data

if os.environ.get("PYTEST_XDIST_WORKER"):
    # ``pytest -n N`` (as ``make test`` runs it) gives each of N processes a
    # core. torch's kernels would otherwise each start a thread per core, and
    # threads of one kernel that share a core with another process wait for
    # each other at its end: the suite then runs slower than on one process.
    # skvae's own calls adapt their threads to the load, measured every
    # quarter second, but tests also run torch kernels directly.
    torch.set_num_threads(1)

# What fit warns when max_epochs ends training while the score still improves,
# or before a warm-up let the stopping rule judge it.
CUT_SHORT = (
    "ignore:.*stopped after max_epochs=.*(still improving|within its warm-up)"
    ":sklearn.exceptions.ConvergenceWarning"
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "short_fits: the test ends fits after a few epochs on purpose, so the "
        "ConvergenceWarning that says so is expected and not shown",
    )
    config.addinivalue_line(
        "markers",
        "narrow_sparse_as_dense: the test keeps the default of serving sparse "
        "rows of few columns as dense batches",
    )


@pytest.fixture(autouse=True)
def sparse_batches(request, monkeypatch):
    """Sparse rows go to the network as sparse batches, however narrow.

    By default only rows of more than ``DENSE_BATCH_MAX_COLUMNS`` columns do;
    narrower ones are densified a batch at a time and take the dense path. The
    tests' small sparse matrices stand in for wide ones, so that they exercise
    the sparse path; tests marked ``narrow_sparse_as_dense`` keep the default.
    """
    if request.node.get_closest_marker("narrow_sparse_as_dense") is None:
        monkeypatch.setattr(skvae._data, "DENSE_BATCH_MAX_COLUMNS", 0)


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("short_fits"):
            item.add_marker(pytest.mark.filterwarnings(CUT_SHORT))


@pytest.fixture
def X():
    """Correlated Gaussian rows: 3 latent factors seen through 8 features."""
    rng = np.random.RandomState(0)
    return rng.randn(300, 3) @ rng.randn(3, 8) + 0.3 * rng.randn(300, 8)


@pytest.fixture
def table():
    """Two numeric columns, an integer one, a bool and two categorical ones."""
    import pandas as pd

    rng = np.random.RandomState(0)
    n = 300
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], size=n)
    mass = np.where(species == "Gentoo", 5.0, 3.7) + 0.3 * rng.normal(size=n)
    return pd.DataFrame(
        {
            "mass": mass,
            "bill": 40 + 2 * mass + rng.normal(size=n),
            "year": rng.choice([2007, 2008, 2009], size=n),
            "male": rng.rand(n) < 0.5,
            "species": pd.Categorical(species),
            "island": np.where(species == "Gentoo", "Biscoe", "Dream").astype(object),
        }
    )


@pytest.fixture
def binary_X():
    rng = np.random.RandomState(0)
    return (rng.rand(200, 12) < 0.3).astype(float)


# Small, quick, seeded models: the stopping rule compares windows of three
# epochs, so that fits on a few hundred rows end by themselves in tens of epochs.
# They keep the prior N(0, I): the default mixture's EM costs about as much as
# such a fit, and the tests of the mixture (test_latent_prior.py, the
# estimator checks) ask for it. Two latent dimensions make each row's code a
# point of a map, as the tests read it.
QUICK = dict(
    latent_dim=2,
    hidden_layer_sizes=(16,),
    max_epochs=60,
    n_iter_no_change=3,
    latent_prior="normal",
    random_state=0,
)


@pytest.fixture
def overflow_third_row(monkeypatch):
    """Make a method of ``VAE`` give ``value`` in the third row of each result.

    As ``inf - inf`` in the network's float32 arithmetic would, for a row of
    cells near float32's limit: ``overflow_third_row("conditional_mean")``.
    """
    from skvae._module import VAE

    def patch(name: str, value: float = float("nan")) -> None:
        computing = getattr(VAE, name)

        def overflowing(self, *args, **options):
            result = computing(self, *args, **options)
            if len(result) > 2:
                result[2] = value
            return result

        monkeypatch.setattr(VAE, name, overflowing)

    return patch


@pytest.fixture
def make_vae():
    """A factory of small, quick, seeded models for tests."""
    from skvae import VAETransformer

    def make(**params):
        return VAETransformer(**{**QUICK, **params})

    return make


@pytest.fixture
def make_detector():
    """A factory of small, quick, seeded outlier detectors for tests."""
    from skvae import VAEOutlierDetector

    def make(**params):
        return VAEOutlierDetector(**{**QUICK, **params})

    return make


@pytest.fixture
def kl_epochs(monkeypatch):
    """The epochs (fractions included) at which training asks for the KL weight."""
    import skvae._training

    seen = []
    kl_weight = skvae._training.kl_weight

    def recording_kl_weight(epoch, *args):
        seen.append(epoch)
        return kl_weight(epoch, *args)

    monkeypatch.setattr(skvae._training, "kl_weight", recording_kl_weight)
    return seen


@pytest.fixture
def batch_orders(monkeypatch):
    """The row orders that training draws, one per epoch, from now on."""
    import torch

    orders = []
    randperm = torch.randperm

    def recording_randperm(*args, **kwargs):
        order = randperm(*args, **kwargs)
        orders.append(order)
        return order

    monkeypatch.setattr(torch, "randperm", recording_randperm)
    return orders
