"""skae: scikit-learn-native autoencoders in plain NumPy."""

from ._categorical import categorical_groups_from
from ._estimator import AutoencoderTransformer, InconsistentVersionWarning
from ._impute import AutoencoderImputer
from ._outlier import AutoencoderOutlierDetector
from ._vae import VariationalAutoencoder

__version__ = "0.1.0"

__all__ = [
    "AutoencoderImputer",
    "AutoencoderOutlierDetector",
    "AutoencoderTransformer",
    "InconsistentVersionWarning",
    "VariationalAutoencoder",
    "__version__",
    "categorical_groups_from",
]
