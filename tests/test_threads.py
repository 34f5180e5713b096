"""The thread policy: threads on idle cores; torch's global setting restored."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

import skvae._module
import skvae._threads
import skvae._training
from skvae._threads import CoreLoad, ThreadPolicy


@pytest.fixture
def global_threads():
    """torch's thread count, set to 2 for the test and restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


@pytest.fixture
def step_threads(monkeypatch):
    """The thread count of each training step."""
    seen = []
    kl_weight = skvae._training.kl_weight

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return kl_weight(*args, **kwargs)

    monkeypatch.setattr(skvae._training, "kl_weight", recording)
    return seen


class FakeCores:
    """A 2-CPU machine whose busy ticks and clocks the test advances."""

    def __init__(self, monkeypatch):
        self.wall = self.own = 0.0
        self.ticks = 0
        monkeypatch.setattr(skvae._threads, "_busy_ticks", lambda cpus: self.ticks)
        monkeypatch.setattr(skvae._threads.time, "monotonic", lambda: self.wall)
        monkeypatch.setattr(skvae._threads.time, "process_time", lambda: self.own)
        self.others_busy = 0.0
        self.load = CoreLoad()
        self.load.cpus, self.load.ticks_per_second = [0, 1], 100

    def run(self, seconds, own_cores):
        """``seconds`` pass, with this process and the others busy on cores."""
        self.wall += seconds
        self.own += own_cores * seconds
        self.ticks += round(100 * seconds * (own_cores + self.others_busy))


def test_a_fixed_thread_count_is_used_and_the_global_one_restored(
    X, make_vae, global_threads, step_threads, monkeypatch
):
    vae = make_vae(n_threads=1, batch_size=100).partial_fit(X)
    assert step_threads == [1, 1, 1]
    assert torch.get_num_threads() == global_threads
    seen_in_inference = []
    posterior_mean = vae.module_.posterior_mean

    def recording(x, **options):
        seen_in_inference.append(torch.get_num_threads())
        return posterior_mean(x, **options)

    monkeypatch.setattr(vae.module_, "posterior_mean", recording)
    vae.transform(X)
    assert set(seen_in_inference) == {1}
    assert torch.get_num_threads() == global_threads
    decode_mean = vae.module_.decode_mean

    def recording_decoder(z):
        seen_in_inference.append(torch.get_num_threads())
        return decode_mean(z)

    seen_in_inference.clear()
    monkeypatch.setattr(vae.module_, "decode_mean", recording_decoder)
    vae.inverse_transform(vae.transform(X))
    vae.sample(5, return_mean=True)
    assert seen_in_inference and set(seen_in_inference) == {1}
    assert torch.get_num_threads() == global_threads


@pytest.mark.short_fits
def test_the_pca_start_runs_on_the_fixed_thread_count(
    X, make_vae, global_threads, monkeypatch
):
    seen = []
    posterior_mean = skvae._module.VAE.posterior_mean

    def recording(module, x):
        seen.append(torch.get_num_threads())
        return posterior_mean(module, x)

    monkeypatch.setattr(skvae._module.VAE, "posterior_mean", recording)
    make_vae(n_threads=1, max_epochs=1).fit(X)  # init="auto": the PCA start
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == global_threads


def test_the_global_thread_count_is_restored_when_training_fails(
    X, make_vae, global_threads, monkeypatch
):
    def failing(*args, **kwargs):
        assert torch.get_num_threads() == 1
        raise RuntimeError("out of memory")

    monkeypatch.setattr(skvae._training, "kl_weight", failing)  # inside a step
    with pytest.raises(RuntimeError, match="out of memory"):
        make_vae(n_threads=1).fit(X)
    assert torch.get_num_threads() == global_threads


@pytest.mark.parametrize("n_threads", [1, 2])
def test_same_seed_and_threads_give_the_same_model(X, make_vae, n_threads):
    a = make_vae(n_threads=n_threads).fit(X)
    b = make_vae(n_threads=n_threads).fit(X)
    assert a.loss_curve_ == b.loss_curve_
    assert_array_equal(a.transform(X), b.transform(X))


def test_threads_give_way_to_other_processes(monkeypatch, global_threads):
    cores = FakeCores(monkeypatch)
    policy = ThreadPolicy(None, core_load=cores.load)
    assert policy.threads() == 1  # nothing measured yet
    cores.run(0.5, own_cores=1.0)
    assert policy.threads() == 2  # the other core was idle
    cores.run(1.0, own_cores=2.0)
    assert policy.threads() == 2  # this process alone kept both cores busy
    cores.others_busy = 1.0  # another process spins on a core
    cores.run(1.0, own_cores=1.3)
    assert policy.threads() == 1
    cores.run(0.1, own_cores=1.0)  # too short a window: no change of mind
    cores.others_busy = 0.0
    assert policy.threads() == 1
    cores.run(1.0, own_cores=1.0)  # the other process has ended
    assert policy.threads() == 2


def test_the_first_window_opens_when_the_load_is_first_read(
    monkeypatch, global_threads
):
    # skvae's reader is made at import: a first fit that starts later (its
    # data loaded) is sized by the load since, not started on one thread
    cores = FakeCores(monkeypatch)
    cores.run(0.5, own_cores=1.0)  # the caller loads its data
    assert ThreadPolicy(None, core_load=cores.load).threads() == 2
    busy = FakeCores(monkeypatch)
    busy.others_busy = 1.0
    busy.run(0.5, own_cores=1.0)
    assert ThreadPolicy(None, core_load=busy.load).threads() == 1


@pytest.mark.parametrize(
    "call, network_function",
    [
        (lambda vae, X: vae.transform(X), "posterior_mean"),
        (lambda vae, X: vae.score_samples(X), "_encoder_output"),
        (lambda vae, X: vae.inverse_transform(X[:, :2]), "decode_mean"),
        (lambda vae, X: vae.sample(5, return_mean=True), "decode_mean"),
    ],
    ids=["transform", "score_samples", "inverse_transform", "sample"],
)
def test_inference_gives_way_to_other_processes(
    X, make_vae, global_threads, monkeypatch, call, network_function
):
    vae = make_vae(latent_dim=2).fit(X)
    cores = FakeCores(monkeypatch)
    monkeypatch.setattr(skvae._threads, "_CORE_LOAD", cores.load)
    seen = []
    function = getattr(vae.module_, network_function)

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return function(*args, **kwargs)

    monkeypatch.setattr(vae.module_, network_function, recording)
    call(vae, X)  # nothing measured yet: one thread
    cores.run(1.0, own_cores=1.0)
    call(vae, X)  # the other core was idle
    cores.others_busy = 1.0
    cores.run(1.0, own_cores=1.0)
    call(vae, X)  # another process spins on a core
    assert [seen[0], seen[-1]] == [1, 1] and 2 in seen
    assert torch.get_num_threads() == global_threads


def test_steps_set_the_threads_at_most_every_quarter_second(
    monkeypatch, global_threads
):
    cores = FakeCores(monkeypatch)
    policy = ThreadPolicy(None, core_load=cores.load)
    policy.adjust()
    assert torch.get_num_threads() == 1  # nothing measured yet
    cores.run(0.3, own_cores=1.0)
    policy.adjust()
    assert torch.get_num_threads() == 2
    cores.others_busy = 1.0
    cores.run(0.2, own_cores=1.3)
    policy.adjust()
    assert torch.get_num_threads() == 2
    cores.run(0.2, own_cores=1.3)
    policy.adjust()
    assert torch.get_num_threads() == 1


def test_a_fixed_count_does_not_adapt(monkeypatch, global_threads):
    cores = FakeCores(monkeypatch)
    cores.others_busy = 1.0
    policy = ThreadPolicy(2, core_load=cores.load)
    cores.run(1.0, own_cores=1.3)
    assert policy.threads() == 2


def test_without_proc_stat_the_ceiling_applies(monkeypatch, global_threads):
    monkeypatch.setattr(skvae._threads, "_busy_ticks", lambda cpus: None)
    assert ThreadPolicy(None, core_load=CoreLoad()).threads() == global_threads


@pytest.mark.parametrize("n_threads", [0, -1, 1.5, "auto"])
def test_bad_thread_counts_are_refused(X, make_vae, n_threads):
    vae = make_vae(n_threads=n_threads)
    with pytest.raises(ValueError, match="n_threads"):
        vae.fit(X)
    assert not hasattr(vae, "module_")


@pytest.mark.short_fits
@pytest.mark.parametrize("n_threads", [0, 1.5, "4"])
def test_a_bad_thread_count_set_after_fit_is_refused_where_it_is_read(
    X, make_vae, n_threads
):
    # before: set_num_threads's RuntimeError, or 1.5 read as 1 and "4" as 4
    vae = make_vae(max_epochs=1).fit(X)
    vae.set_params(n_threads=n_threads)
    for call in (
        lambda: vae.transform(X),
        lambda: vae.score_samples(X),
        lambda: vae.sample(3),
        lambda: vae.inverse_transform(np.zeros((2, vae.latent_dim))),
    ):
        with pytest.raises(ValueError, match="'n_threads' parameter"):
            call()
