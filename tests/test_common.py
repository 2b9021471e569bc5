"""scikit-learn's estimator checks, with nothing expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderTransformer

CONFIGURATIONS = [
    AutoencoderTransformer(),
    AutoencoderTransformer(hidden_layer_sizes=(16, 8, 4), activation="tanh"),
    AutoencoderTransformer(early_stopping=True, validation_fraction=0.2),
    AutoencoderTransformer(activation="logistic", loss="binary_crossentropy"),
    AutoencoderTransformer(hidden_layer_sizes=(16,), decoder_layer_sizes=(8, 24)),
    AutoencoderTransformer(hidden_layer_sizes=(), activation="identity"),
]


@parametrize_with_checks(CONFIGURATIONS, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)
