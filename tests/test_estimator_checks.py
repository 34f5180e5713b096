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
# changes with the shape). Outputs then differ by a few float32 steps: for
# transform, 1.8e-7 on a latent mean of 0.29 (six steps, after two layers); for
# decision_function = score - offset_, one step of a score near 4, 5e-7, on a
# value near 0. The check's tolerances, rtol=1e-7 and atol=1e-7, are below
# that. Whether it shows depends on the CPU's kernels and on the fitted
# weights, so the mark is not strict. tests/test_api.py and
# tests/test_outlier.py check subset invariance to float32 precision.
FLOAT32_ROUNDING = (
    "outputs differ by a few float32 rounding steps between batch shapes, "
    "above the check's tolerances of 1e-7."
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
    if check_name == "check_methods_subset_invariance":
        request.applymarker(pytest.mark.xfail(reason=FLOAT32_ROUNDING, strict=False))
    check(estimator)
