"""Sparse input at scale: VAETransformer against a hand-written torch loop.

A 100,000 x 20,000 CSR matrix of 0/1 values with density 0.001 (a dense copy
would take 8 GB in float32) goes through one epoch of training (the first
``partial_fit`` call, which builds the network as ``fit`` does) and then
``transform``. The hand-written loop is what one writes without a
sparse-aware model: it densifies one batch at a time and feeds it to the same
network (one hidden layer of 128, latent 16, Bernoulli likelihood, Adam, batch
256), from random weights. ``VAETransformer`` starts from random weights too
(``init='random'``); ``--init auto`` measures the default start instead, which
first fits the encoder to the rows' principal components. ``VAETransformer``
draws and scores under ``N(0, I)`` (``latent_prior='normal'``), the hand
loop's prior; ``--latent-prior 10`` measures the default, which fits a
Gaussian mixture to the aggregate posterior after the epoch. Each contestant runs
in its own process, alternating, so that peak resident memory is its own; the
script prints the median times, the ratio, and each one's peak memory.

Run with ``.venv/bin/python benchmarks/bench_sparse_fit.py`` (about 5 minutes
on 2 CPU cores); ``--repeats`` sets how many runs each contestant gets.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

N_ROWS, N_FEATURES, DENSITY = 100_000, 20_000, 0.001
HIDDEN, LATENT, BATCH = 128, 16, 256


def make_data(seed=0):
    """0/1 CSR matrix with about ``DENSITY`` of its entries set."""
    rng = np.random.default_rng(seed)
    n_values = int(N_ROWS * N_FEATURES * DENSITY)
    rows = rng.integers(0, N_ROWS, n_values)
    columns = rng.integers(0, N_FEATURES, n_values)
    X = sp.csr_matrix((np.ones(n_values), (rows, columns)), shape=(N_ROWS, N_FEATURES))
    X.data[:] = 1.0  # repeated positions were summed
    return X


def fit_one_epoch(
    X,
    likelihood="bernoulli",
    input_dropout=0.0,
    init="random",
    n_threads=None,
    latent_prior="normal",
):
    """The benchmark's network as a ``VAETransformer``, trained for one epoch.

    No input dropout by default (``input_dropout='auto'`` would drop half the
    Bernoulli inputs) and the prior ``N(0, I)``: the hand loop has neither
    dropout nor another prior, and both train the same objective. Returns the
    fitted model and the seconds the epoch took.
    """
    from skvae import VAETransformer

    vae = VAETransformer(
        LATENT,
        hidden_layer_sizes=(HIDDEN,),
        likelihood=likelihood,
        input_dropout=input_dropout,
        init=init,
        latent_prior=latent_prior,
        batch_size=BATCH,
        learning_rate=1e-3,  # the hand loop's; 'auto' would take 1.13e-3
        device="cpu",
        n_threads=n_threads,
        random_state=0,
    )
    start = time.perf_counter()
    vae.partial_fit(X)
    return vae, time.perf_counter() - start


def run_skvae(X, init, latent_prior):
    vae, fit_seconds = fit_one_epoch(X, init=init, latent_prior=latent_prior)
    start = time.perf_counter()
    Z = vae.transform(X)
    return fit_seconds, time.perf_counter() - start, Z


def run_hand_loop(X, init=None, latent_prior=None):
    """The straightforward torch loop: densify a batch, run the dense network."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    # The clock starts before the network and optimizer are built, as it does
    # before ``fit``, which builds both. (In a fresh process the first torch
    # optimizer also imports torch's compiler stack, about a second.)
    start = time.perf_counter()
    torch.manual_seed(0)
    encoder = nn.Sequential(
        nn.Linear(N_FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2 * LATENT)
    )
    decoder = nn.Sequential(
        nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_FEATURES)
    )
    parameters = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)

    def dense(rows):
        return torch.from_numpy(X[rows].toarray()).float()

    for rows in np.array_split(np.random.permutation(N_ROWS), N_ROWS // BATCH):
        x = dense(rows)
        loc, raw_scale = encoder(x).chunk(2, -1)
        scale = F.softplus(raw_scale)
        z = loc + scale * torch.randn_like(loc)
        reconstruction = -F.binary_cross_entropy_with_logits(
            decoder(z), x, reduction="none"
        ).sum(-1)
        kl = 0.5 * (loc**2 + scale**2 - 1 - 2 * scale.log()).sum(-1)
        loss = -(reconstruction - kl).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    fitted = time.perf_counter()
    with torch.inference_mode():
        Z = torch.cat(
            [
                encoder(dense(np.arange(i, min(i + BATCH, N_ROWS))))[:, :LATENT]
                for i in range(0, N_ROWS, BATCH)
            ]
        ).numpy()
    return fitted - start, time.perf_counter() - fitted, Z


def child(contestant, init, latent_prior):
    X = make_data()
    run = {"skvae": run_skvae, "hand": run_hand_loop}[contestant]
    fit_seconds, transform_seconds, Z = run(X, init, latent_prior)
    assert Z.shape == (N_ROWS, LATENT) and np.isfinite(Z).all()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {"fit": fit_seconds, "transform": transform_seconds, "peak": peak_mb}
        )
    )


def main(repeats, init, latent_prior):
    runs = {"hand": [], "skvae": []}
    for repeat in range(repeats):
        for contestant in runs:
            output = subprocess.run(
                [
                    *(sys.executable, __file__, "--child", contestant),
                    *("--init", init, "--latent-prior", str(latent_prior)),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[contestant].append(json.loads(output.strip().splitlines()[-1]))
            print(
                f"run {repeat + 1} {contestant:5s}: {runs[contestant][-1]}", flush=True
            )

    def median(contestant, key):
        return statistics.median(run[key] for run in runs[contestant])

    print(
        f"\n{N_ROWS:,} x {N_FEATURES:,} CSR, density {DENSITY}, 0/1 values; one "
        f"epoch of fit + transform; VAETransformer(init={init!r}, "
        f"latent_prior={latent_prior!r}); {repeats} runs "
        "each, medians\n"
    )
    print(
        f"{'':22s}{'fit s':>8s}{'transform s':>13s}{'total s':>9s}{'peak RSS MB':>13s}"
    )
    for contestant, label in (
        ("hand", "hand loop (densify)"),
        ("skvae", "VAETransformer"),
    ):
        fit, transform = median(contestant, "fit"), median(contestant, "transform")
        peak = max(run["peak"] for run in runs[contestant])
        print(
            f"{label:22s}{fit:8.1f}{transform:13.1f}{fit + transform:9.1f}{peak:13.0f}"
        )
    ratios = [
        (s["fit"] + s["transform"]) / (h["fit"] + h["transform"])
        for s, h in zip(runs["skvae"], runs["hand"], strict=True)
    ]
    ratio = statistics.median(ratios)
    peak = max(run["peak"] for run in runs["skvae"])
    print(
        "\ntime ratio VAETransformer / hand loop, run by run: "
        + ", ".join(f"{r:.3f}" for r in ratios)
    )
    print(
        f"median time ratio: {ratio:.3f} (target <= 0.5: "
        f"{'met' if ratio <= 0.5 else 'MISSED'})"
    )
    print(
        f"VAETransformer peak RSS: {peak:.0f} MB (target < 1024 MB: "
        f"{'met' if peak < 1024 else 'MISSED'})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--init", choices=["random", "auto"], default="random")
    parser.add_argument(
        "--latent-prior",
        type=lambda value: value if value == "normal" else int(value),
        choices=["normal", 10],
        default="normal",
    )
    parser.add_argument("--child", choices=["skvae", "hand"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.init, args.latent_prior)
    else:
        main(args.repeats, args.init, args.latent_prior)
