"""Compare VAETransformer settings on the MNIST pipeline benchmark, over seeds.

Same protocol as ``bench_mnist_pipeline.py``. Each setting is a JSON object of
constructor parameters (the likelihood is ``"bernoulli"`` unless a setting
names another); for every seed the script prints the test accuracy of
LogisticRegression on the latent means (and of 15 nearest neighbours), the final
training loss and the held-out log-likelihood, then the mean accuracy over seeds.

Run, for example::

    .venv/bin/python benchmarks/sweep_mnist_settings.py --dim 2 --seeds 0 1 2 -- \\
        '{"hidden_layer_sizes": [256, 128]}' '{"hidden_layer_sizes": [400]}'
"""

import argparse
import json

import numpy as np
from bench_mnist_pipeline import fit_and_score, load_split

from skvae import VAETransformer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", help="JSON objects of parameters")
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    X_train, X_test, y_train, y_test = load_split()
    for setting in args.settings:
        params = {"likelihood": "bernoulli", **json.loads(setting)}
        accuracies = []
        for seed in args.seeds:
            vae = VAETransformer(args.dim, random_state=seed, **params)
            result = fit_and_score(vae, X_train, X_test, y_train, y_test)
            accuracies.append(result.accuracy)
            held_out = vae.score(X_test)
            print(
                f"dim={args.dim} {setting} seed={seed}: accuracy "
                f"{result.accuracy:.3f} (15-NN {result.neighbour_accuracy:.3f}), "
                f"train loss {vae.loss_curve_[-1]:.1f}, held-out {held_out:.1f} "
                f"nats/row, {result.seconds:.0f} s",
                flush=True,
            )
        print(f"dim={args.dim} {setting}: mean accuracy {np.mean(accuracies):.3f}\n")


if __name__ == "__main__":
    main()
