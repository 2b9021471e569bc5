"""skae: scikit-learn-native autoencoders in plain NumPy."""

from ._estimator import AutoencoderTransformer, InconsistentVersionWarning
from ._outlier import AutoencoderOutlierDetector
from ._vae import VariationalAutoencoder

__version__ = "0.1.0"

__all__ = [
    "AutoencoderOutlierDetector",
    "AutoencoderTransformer",
    "InconsistentVersionWarning",
    "VariationalAutoencoder",
    "__version__",
]
