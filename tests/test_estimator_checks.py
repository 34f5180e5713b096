"""scikit-learn's own estimator checks, run in full."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAETransformer


@parametrize_with_checks(
    [VAETransformer(), VAETransformer(early_stopping=True, hidden_layer_sizes=(16,))]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
