import numpy as np
import pytest


@pytest.fixture
def X():
    """Correlated Gaussian rows: 3 latent factors seen through 8 features."""
    rng = np.random.RandomState(0)
    return rng.randn(300, 3) @ rng.randn(3, 8) + 0.3 * rng.randn(300, 8)


@pytest.fixture
def binary_X():
    rng = np.random.RandomState(0)
    return (rng.rand(200, 12) < 0.3).astype(float)


@pytest.fixture
def make_vae():
    """A factory of small, quick, seeded models for tests."""
    from skvae import VAETransformer

    def make(**params):
        defaults = dict(hidden_layer_sizes=(16,), max_epochs=20, random_state=0)
        return VAETransformer(**{**defaults, **params})

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
