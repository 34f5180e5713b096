"""Numbers with atoms: the inflated family and the columns ``'auto'`` gives it."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse, stats
from scipy.special import log_softmax

from skvae._inflated import ATOM_SHARE, InflatedFamily, atoms_and_shares


def _family(X=None, sample_weight=None):
    """Two columns: zero-inflated amounts, and hours with two atoms."""
    if X is None:
        X = np.column_stack(
            [
                [0, 0, 0, 0, 0, 0, 0, 0, 250.0, 900.0],
                [40, 40, 40, 40, 50, 50, 12, 33, 61, 70.0],
            ]
        )
    options = {"noise": "normal", "variance": "learned", "share": 0.15}
    return InflatedFamily.from_data(X, sample_weight, **options)


def _output(family, n_rows=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n_rows, family.n_outputs, generator=generator)


def test_atoms_are_the_values_holding_the_share_among_observed_weighted_cells():
    X = np.array(
        [[0.0, 1.0], [0.0, 2.0], [np.nan, 3.0], [5.0, 3.0], [5.0, 1.0], [0.0, 4.0]]
    )

    def atoms(weights):
        return [atoms_and_shares(column, weights, share=0.3)[0] for column in X.T]

    unweighted = atoms(np.ones(6))
    assert_array_equal(unweighted[0], [0.0, 5.0])  # 3 and 2 of 5 observed cells
    assert_array_equal(unweighted[1], [1.0, 3.0])  # 2 of 6 each; 2 and 4 once
    weighted = atoms(np.array([1.0, 1.0, 1.0, 1.0, 3.0, 0.0]))
    # 5.0 holds 4 of 6 weighed cells; 0.0 two cells, 2 of 6; 1.0 4 of 7
    assert_array_equal(weighted[0], [0.0, 5.0])
    assert_array_equal(weighted[1], [1.0])
    _, shares = atoms_and_shares(X[:, 1], np.ones(6), share=0.3)
    assert_allclose(shares, [2 / 6, 2 / 6, 2 / 6])  # at 1 and 3, and elsewhere


def test_a_value_seen_once_is_no_atom_whatever_its_share():
    column = np.array([7.0, 7.0, 3.0, 9.0])  # each holds at least a quarter
    atoms, shares = atoms_and_shares(column, np.ones(4), share=0.25)
    assert_array_equal(atoms, [7.0])
    assert_allclose(shares, [0.5, 0.5])
    heavy = np.array([1.0, 1.0, 5.0, 0.0])  # 3.0 weighs most, in one cell
    assert_array_equal(atoms_and_shares(column, heavy, share=0.25)[0], [7.0])


@torch.no_grad()
def test_log_prob_is_an_atoms_log_probability_or_none_times_the_density():
    family = _family()
    output = _output(family)
    parameter = family.link(output)
    x = torch.tensor([[0.0, 40.0], [250.0, 50.0], [17.5, 12.0]])
    got = family.log_prob(parameter, x).numpy()

    logits = parameter[:, : family.n_choices].reshape(3, 2, family.width).numpy()
    log_p = log_softmax(logits, axis=-1)
    value = family.value
    mean = value.offset + value.scale * parameter[:, family.n_choices :]
    spread = value.scale * value.standardised_variance().sqrt()
    density = torch.distributions.Normal(mean, spread).log_prob(x)
    # column 0: atom 0 and none at place 1; column 1: atoms 40 and 50, none at 2
    expected = np.array(
        [
            [log_p[0, 0, 0], log_p[0, 1, 0]],
            [log_p[1, 0, 1] + density[1, 0], log_p[1, 1, 1]],
            [log_p[2, 0, 1] + density[2, 0], log_p[2, 1, 2] + density[2, 1]],
        ]
    )
    assert_allclose(got, expected, rtol=1e-5)


@torch.no_grad()
def test_the_atoms_and_the_density_together_hold_probability_one():
    family = _family()
    parameter = family.link(_output(family, n_rows=1))
    atoms = [torch.tensor([[0.0, 40.0]]), torch.tensor([[0.0, 50.0]])]
    at_atoms = sum(family.log_prob(parameter, x).exp() for x in atoms)
    at_atoms[0, 0] -= family.log_prob(parameter, atoms[1])[0, 0].exp()  # 0 twice
    grid = torch.linspace(-3000.0, 3000.0, 600_001)[:, None].expand(-1, 2)
    off_atoms = family.log_prob(parameter.expand(len(grid), -1), grid).exp()
    is_atom = (grid == 0.0) | (grid == 40.0) | (grid == 50.0)
    integral = off_atoms.masked_fill(is_atom, 0.0).sum(0) * (grid[1, 0] - grid[0, 0])
    assert_allclose((at_atoms[0] + integral).numpy(), [1.0, 1.0], atol=1e-3)


@torch.no_grad()
@torch.no_grad()
def test_atoms_come_at_their_probability_and_values_within_their_range():
    family = _family()
    parameter = family.link(_output(family, n_rows=1)).expand(200_000, -1)
    torch.manual_seed(0)
    draws = family.sample(parameter)
    log_p = family.log_prob(parameter[:1], torch.tensor([[0.0, 40.0]]))
    shares = [(draws[:, 0] == 0).float().mean(), (draws[:, 1] == 40).float().mean()]
    assert_allclose(shares, log_p[0].exp().numpy(), atol=0.005)
    # the other values: the noise truncated to the range of the training
    # values that are not atoms (250 to 900; 12 to 70), none beyond it and
    # none on an atom
    _, value_mean = family._split(parameter[:1])
    noise = family.value.distribution(value_mean)
    for j, (low, high) in enumerate([(250.0, 900.0), (12.0, 70.0)]):
        values = draws[:, j][~torch.isin(draws[:, j], torch.tensor([0.0, 40.0, 50.0]))]
        loc, scale = noise.loc[0, j].item(), noise.scale[0, j].item()
        expected = stats.truncnorm(
            (low - loc) / scale, (high - loc) / scale, loc=loc, scale=scale
        )
        assert low <= values.min() and values.max() <= high
        assert_allclose(values.mean().item(), expected.mean(), rtol=0.01)
        assert_allclose(values.std().item(), expected.std(), rtol=0.02)


@torch.no_grad()
@pytest.mark.parametrize("noise", ["normal", "laplace"])
def test_values_far_from_their_range_follow_the_truncated_noise(noise):
    # tens of scales out, a float32 CDF rounds both ends to 0 or 1, and its
    # inverse sent such draws to the far end of the range
    X = np.c_[np.r_[np.zeros(50), np.linspace(100.0, 200.0, 50)]]
    family = InflatedFamily.from_data(X, noise=noise, variance="learned")
    grid = np.linspace(100.0, 200.0, 100_001)
    torch.manual_seed(0)
    for standardised_mean in (-30.0, -3.0, 30.0):
        mean = torch.full((20_000, 1), standardised_mean)
        values = family._values_in_range(mean)
        assert values.dtype == torch.float32
        distribution = family.value.distribution(mean[:1])
        log_density = distribution.log_prob(torch.as_tensor(grid)[:, None]).numpy()
        weights = np.exp(log_density - log_density.max())
        expected = np.sum(grid[:, None] * weights) / np.sum(weights)
        assert_allclose(values.mean().item(), expected, atol=0.5)


def test_the_mean_weighs_the_atoms_and_the_mean_value_by_their_probabilities():
    family = _family()
    parameter = family.link(_output(family, n_rows=4))
    logits, value_mean = family._split(parameter)
    p = logits.softmax(-1)
    # column 0: the atom 0, then none; column 1: the atoms 40 and 50, then none
    atoms = torch.tensor([[0.0, 0.0, 0.0], [40.0, 50.0, 0.0]])
    none = torch.stack([p[:, 0, 1], p[:, 1, 2]], dim=-1)
    expected = (p * atoms).sum(-1) + none * family.value.mean(value_mean)
    assert_allclose(family.mean(parameter).numpy(), expected.numpy(), rtol=1e-5)


@torch.no_grad()
def test_training_frequencies_are_the_start_and_the_encoder_sees_places_and_values():
    family = _family()
    probabilities = family.link(torch.zeros(1, family.n_outputs))
    logits = probabilities[:, : family.n_choices].reshape(2, family.width)
    assert_allclose(logits.softmax(-1).numpy(), [[0.8, 0.2, 0], [0.4, 0.2, 0.4]])
    x = np.array([[0.0, 50.0], [900.0, 12.0], [np.nan, np.nan]])
    encoded = family.encoder_values(x)
    other_means = [575.0, np.mean([12, 33, 61, 70.0])]
    assert_allclose(
        encoded,
        [
            [1, 0, 0, 0, 1, 0, other_means[0], other_means[1]],
            [0, 1, 0, 0, 0, 1, 900.0, 12.0],
            [0, 0, 0, 0, 0, 0, other_means[0], other_means[1]],
        ],
        rtol=1e-6,
    )
    tensor = family.encoder_values(torch.as_tensor(x, dtype=torch.float32))
    assert_allclose(tensor.numpy(), encoded, rtol=1e-6)


@torch.no_grad()
def test_a_column_of_atoms_only_draws_its_atoms():
    family = _family(np.repeat([[2007.0], [2008.0], [2009.0]], 5, axis=0))
    assert family.atoms[0].tolist() == [2007.0, 2008.0, 2009.0]
    torch.manual_seed(0)
    draws = family.sample(family.link(_output(family, n_rows=500)))
    assert set(draws[:, 0].tolist()) <= {2007.0, 2008.0, 2009.0}


def test_other_values_of_weight_zero_leave_a_finite_standard_value():
    # every cell of positive weight is an atom; the other values weigh nothing
    X = np.c_[np.r_[np.zeros(80), np.arange(20) + 1.0], np.linspace(-1, 1, 100)]
    family = _family(X, sample_weight=np.r_[np.ones(80), np.zeros(20)])
    assert family.atoms[0].tolist() == [0.0]
    for parameter in family.value.state_dict().values():
        assert torch.isfinite(parameter).all()
    output = _output(family, n_rows=100)
    log_prob = family.log_prob(family.link(output), torch.as_tensor(X))
    assert torch.isfinite(log_prob).all()


# ----------------------------------------------------------------- in estimators


@pytest.fixture
def lumpy():
    """Zero-inflated amounts, hours lumped at 40, ages without a lump, years."""
    assert ATOM_SHARE == 0.05
    rng = np.random.RandomState(0)
    n = 400
    return pd.DataFrame(
        {
            "gain": np.where(rng.rand(n) < 0.85, 0, rng.randint(100, 9000, n)),
            "hours": np.where(rng.rand(n) < 0.5, 40, rng.randint(10, 80, n)),
            "age": rng.randint(18, 90, n),
            "year": rng.choice([2007, 2008, 2009], n),
            "income": rng.normal(size=n),
        }
    )


LUMPY = dict.fromkeys(["gain", "hours", "year"], "inflated_gaussian")


def test_auto_leaves_integer_columns_gaussian_and_a_dict_names_atoms(lumpy, make_vae):
    assert make_vae().fit(lumpy).likelihoods_["gain"] == "gaussian"
    vae = make_vae(likelihood=LUMPY).fit(lumpy)
    assert vae.likelihoods_ == LUMPY | {"age": "gaussian", "income": "gaussian"}
    (family,) = [
        f for f in vae.module_.likelihood.families if isinstance(f, InflatedFamily)
    ]
    assert [atoms.tolist() for atoms in family.atoms] == [
        [0.0],
        [40.0],
        [2007.0, 2008.0, 2009.0],
    ]


def test_draws_keep_the_atoms_shares_and_the_integer_dtypes(lumpy, make_vae):
    vae = make_vae(max_epochs=30, likelihood=LUMPY).fit(lumpy)
    synthetic = vae.sample(4000)
    assert_array_equal(synthetic.dtypes, lumpy.dtypes)
    for column, atom in [("gain", 0), ("hours", 40)]:
        real = (lumpy[column] == atom).mean()
        assert abs((synthetic[column] == atom).mean() - real) < 0.05
    assert set(synthetic["year"]) <= {2007, 2008, 2009}
    as_gaussian = make_vae(likelihood=dict.fromkeys(lumpy, "gaussian"))
    # the model's own draws: what the atoms are for (sample maps them to the
    # training distribution by default, spike included)
    spread = as_gaussian.fit(lumpy).sample(4000, marginals="model")
    assert (spread["gain"] == 0).mean() < 0.5


def test_missing_cells_of_inflated_columns_are_left_out(lumpy, make_vae):
    table = lumpy.astype({"gain": "Int64"})
    table.loc[::5, "gain"] = pd.NA
    vae = make_vae(likelihood=LUMPY).fit(table)
    terms = vae.feature_log_likelihoods(table)
    assert terms["gain"].isna().sum() == table["gain"].isna().sum()
    scores = vae.score_samples(table)
    assert np.isfinite(scores).all()
    assert np.isfinite(terms["gain"][table["gain"].notna()]).all()
    assert vae.sample(50)["gain"].dtype == pd.Int64Dtype()


def test_an_inflated_column_without_atoms_can_be_named(lumpy, make_vae):
    vae = make_vae(likelihood={"income": "inflated_gaussian"}).fit(lumpy)
    assert vae.likelihoods_["income"] == "inflated_gaussian"
    assert np.isfinite(vae.score_samples(lumpy)).all()


def test_inflated_scores_are_finite_on_unseen_values(lumpy, make_vae):
    vae = make_vae(likelihood=LUMPY).fit(lumpy)
    unseen = lumpy.iloc[:3].copy()
    unseen["gain"] = [math.floor(1e6), 1, -5]
    assert np.isfinite(vae.score_samples(unseen)).all()


def test_one_name_inflates_every_column_of_an_array(lumpy, make_vae):
    X = lumpy[["gain", "hours"]].to_numpy(float)
    vae = make_vae(likelihood="inflated_gaussian").fit(X)
    assert vae.likelihoods_ == {0: "inflated_gaussian", 1: "inflated_gaussian"}
    draws = vae.sample(500)
    assert isinstance(draws, np.ndarray) and draws.shape == (500, 2)
    assert (draws[:, 0] == 0).mean() > 0.7


def test_sparse_x_is_refused_naming_the_per_column_family(lumpy, make_vae):
    X = sparse.csr_matrix(lumpy[["gain", "hours"]].to_numpy(float))
    with pytest.raises(ValueError, match="inflated_gaussian.*dense X"):
        make_vae(likelihood="inflated_gaussian").fit(X)


def test_the_imputer_inflates_whole_numbers_even_when_holes_made_them_floats(lumpy):
    from skvae import VAEImputer

    holed = lumpy.copy()
    holed.loc[::4, "gain"] = np.nan  # float64 now, its values whole
    assert holed["gain"].dtype == np.float64
    quick = dict(hidden_layer_sizes=(16,), n_iter_no_change=3, random_state=0)
    imputer = VAEImputer(**quick).fit(holed)
    assert imputer.likelihoods_ == {
        "gain": "inflated_gaussian",
        "hours": "inflated_gaussian",
        "age": "inflated_gaussian",
        "year": "inflated_gaussian",
        "income": "laplace",
    }
    assert not np.isnan(imputer.transform(holed)["gain"]).any()
    named = VAEImputer(likelihood={"gain": "laplace"}, **quick).fit(holed)
    assert named.likelihoods_["gain"] == "laplace"
    assert named.likelihoods_["hours"] == "inflated_gaussian"


@pytest.mark.short_fits
def test_atoms_far_from_the_other_values_train(make_vae):
    # Atoms at 0 and 1e19 beside one other value: the masked Gaussian term of
    # an atom's cell overflowed float32, and its NaN gradient diverged the
    # fit (gaussian and laplace fitted the same column).
    X = np.array([0.0] * 20 + [1.0] * 20 + [3.0])[:, None] * 1e19
    vae = make_vae(likelihood="inflated_gaussian").fit(X)
    assert np.isfinite(vae.score_samples(X)).all()
    assert np.isfinite(vae.loss_curve_).all()


@pytest.mark.short_fits
def test_a_frame_fitted_as_inflated_gives_its_table_back_as_documented():
    # the family reads each column on its own, as "auto" does: a DataFrame
    # back, where "gaussian" for every column gives arrays
    from skvae import VAETransformer

    rng = np.random.RandomState(0)
    amounts = np.where(rng.rand(200) < 0.4, 0, rng.randint(10, 90, 200))
    frame = pd.DataFrame({"a": amounts, "b": rng.normal(5, 1, 200)})
    quick = dict(latent_dim=2, hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    inflated = VAETransformer(likelihood="inflated_gaussian", **quick).fit(frame)
    for rows in (inflated.sample(5), inflated.inverse_transform(np.zeros((5, 2)))):
        assert isinstance(rows, pd.DataFrame)
        assert_array_equal(rows.dtypes, frame.dtypes)
    gaussian = VAETransformer(likelihood="gaussian", **quick).fit(frame)
    assert isinstance(gaussian.sample(5), np.ndarray)
