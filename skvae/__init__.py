"""A variational autoencoder that behaves like a scikit-learn transformer."""

from ._estimator import VAETransformer

__all__ = ["VAETransformer"]
__version__ = "0.1.0"
