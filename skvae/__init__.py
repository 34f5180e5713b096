"""A variational autoencoder that behaves like a scikit-learn estimator."""

from ._estimator import VAETransformer
from ._imputer import VAEImputer
from ._outlier import VAEOutlierDetector
from ._training import TrainingDivergedError

__all__ = [
    "TrainingDivergedError",
    "VAEImputer",
    "VAEOutlierDetector",
    "VAETransformer",
]
__version__ = "0.1.0"
