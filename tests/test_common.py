"""scikit-learn's estimator checks, on every option of the family."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderTransformer

CONFIGURATIONS = [
    AutoencoderTransformer(),
    AutoencoderTransformer(hidden_layer_sizes=(16, 8, 4), activation="tanh"),
    AutoencoderTransformer(early_stopping=True, validation_fraction=0.2),
    AutoencoderTransformer(activation="logistic", loss="binary_crossentropy"),
    AutoencoderTransformer(hidden_layer_sizes=(16,), decoder_layer_sizes=(8, 24)),
    AutoencoderTransformer(hidden_layer_sizes=(), activation="identity"),
    AutoencoderTransformer(noise="gaussian"),
    AutoencoderTransformer(noise="masking", noise_level=0.3),
    AutoencoderTransformer(noise="salt_and_pepper"),
    AutoencoderTransformer(sparsity=1e-2),
    AutoencoderTransformer(contraction=1e-2, activation="tanh"),
    AutoencoderTransformer(tied_weights=True),
    AutoencoderTransformer(
        hidden_layer_sizes=(16, 8), activation="softplus", noise="gaussian", sparsity=1e-3,
        contraction=1e-2, tied_weights=True, early_stopping=True,
    ),
]

# A sample weight of k equals k repeated rows only if each row's randomness is
# drawn once per row: the corruption and the contraction probes are drawn per row
# of each minibatch, so k repeated rows get k draws and a weighted row one. The
# objectives agree in expectation, not exactly.
_PER_ROW_NOISE = "per-row noise draws: a weight of k is not k repeated rows exactly"
_PER_ROW_NOISE_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": _PER_ROW_NOISE,
    "check_sample_weight_equivalence_on_sparse_data": _PER_ROW_NOISE,
}


def expected_failures(estimator):
    if estimator.noise is not None or estimator.contraction:
        return _PER_ROW_NOISE_CHECKS
    return {}


@parametrize_with_checks(
    CONFIGURATIONS, expected_failed_checks=expected_failures, xfail_strict=True
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
