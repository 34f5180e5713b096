"""scikit-learn's own estimator checks, run in full."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAEOutlierDetector, VAETransformer

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

# The network computes in float32, and a matrix product may round a row's
# result differently depending on how many rows it multiplies (the BLAS kernel
# changes with the shape). Log-likelihoods then differ by one float32 step, about
# 5e-7 nats for a score near 4, and decision_function = score - offset_ is near
# 0, where the check's absolute tolerance of 1e-7 is below that step. Whether
# it shows depends on the CPU's kernels, so the mark is not strict.
# tests/test_outlier.py checks subset invariance to float32 precision.
FLOAT32_ROUNDING = (
    "decision_function near 0 differs by one float32 rounding step between "
    "batch shapes, above the check's absolute tolerance of 1e-7."
)


def expected_failed_checks(estimator):
    return {
        "check_sample_weight_equivalence_on_dense_data": STOCHASTIC_WEIGHTS,
        "check_sample_weight_equivalence_on_sparse_data": STOCHASTIC_WEIGHTS,
    }


@parametrize_with_checks(
    [
        VAETransformer(),
        VAETransformer(early_stopping=True, hidden_layer_sizes=(16,)),
        VAEOutlierDetector(),
        VAEOutlierDetector(contamination=0.1, hidden_layer_sizes=(16,)),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check, request):
    check_name = check.func.__name__
    if check_name == "check_methods_subset_invariance" and isinstance(
        estimator, VAEOutlierDetector
    ):
        request.applymarker(pytest.mark.xfail(reason=FLOAT32_ROUNDING, strict=False))
    check(estimator)
