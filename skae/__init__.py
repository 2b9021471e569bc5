"""skae: scikit-learn-native autoencoders in plain NumPy."""

from ._estimator import AutoencoderTransformer, InconsistentVersionWarning

__version__ = "0.1.0"

__all__ = ["AutoencoderTransformer", "InconsistentVersionWarning", "__version__"]
