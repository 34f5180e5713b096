"""scikit-learn's own estimator checks, run in full."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAEImputer, VAEOutlierDetector, VAETransformer
from skvae._data import resolve_device

# Fitting with an integer weight w is not the same as repeating a row w times
# for a minibatch optimiser: the repeated copies land in different batches and
# draw different reparameterisation noise, and the epoch has more steps. The
# estimate is right in expectation only, as for scikit-learn's SGD estimators
# and MiniBatchKMeans, which expect these checks to fail for the same reason
# (scikit-learn meta-issue #16298). tests/test_training.py checks the weighted
# loss itself.
STOCHASTIC_WEIGHTS = (
    "sample_weight is not equivalent to removing/repeating samples for a "
    "stochastic minibatch optimiser."
)

# On a GPU the matrix kernels are chosen by the batch's shape, so a row scored
# alone and the same row scored among others agree to float32 rounding (4.8e-7
# on decision_function here), not to the bit; the check's tolerance is 1e-7.
# decision_function is score_samples less offset_, near 0 at the threshold,
# where that rounding is large relative to the value. On the CPU the kernels
# agree to the bit on these rows.
GPU_ROUNDING = (
    "on a GPU, a row scored in batches of other shapes agrees to float32 "
    "rounding, not to the bit"
)
ON_GPU = resolve_device("auto").type != "cpu"


def expected_failed_checks(estimator):
    if isinstance(estimator, VAEImputer):
        return {}  # a row without missing cells comes back as it is, whatever the fit
    expected = {
        "check_sample_weight_equivalence_on_dense_data": STOCHASTIC_WEIGHTS,
        "check_sample_weight_equivalence_on_sparse_data": STOCHASTIC_WEIGHTS,
    }
    if ON_GPU and isinstance(estimator, VAEOutlierDetector):
        expected["check_methods_subset_invariance"] = GPU_ROUNDING
    return expected


@parametrize_with_checks(
    [
        VAETransformer(),
        VAETransformer(early_stopping=True, hidden_layer_sizes=(16,)),
        VAEOutlierDetector(),
        VAEOutlierDetector(contamination=0.1, hidden_layer_sizes=(16,)),
        VAEImputer(hidden_layer_sizes=(16,)),
        # one family named for every column: objects that are neither text
        # nor numbers raise a TypeError (check_dtype_object), as under 'auto'
        VAETransformer(likelihood="gaussian", hidden_layer_sizes=(16,)),
        VAEOutlierDetector(likelihood="laplace", hidden_layer_sizes=(16,)),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
