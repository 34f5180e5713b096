"""How far dense and CSR fits of the same values drift apart as training goes on.

``VAETransformer(random_state=0)`` is trained on ``load_digits().data / 16``
as a dense array and as a CSR matrix, one ``partial_fit`` epoch at a time, in
two shapes: the 64 columns as they are, whose sparse rows go to the network
as dense batches (at most 1,000 columns), and the same digits with 960
columns of zeros appended (1,024 columns), whose sparse rows go as sparse
batches. After each of the epochs asked for, the script prints the largest
difference between the two models' latent means (``transform``) and between
their training losses (nats per row).

Run with ``.venv/bin/python benchmarks/bench_containers.py`` (about 2 minutes).
"""

import argparse

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits

from skvae import VAETransformer


def drift(X: np.ndarray, epochs: list[int]) -> None:
    containers = {"dense": X, "csr": sp.csr_matrix(X)}
    models = {name: VAETransformer(random_state=0) for name in containers}
    for epoch in range(1, max(epochs) + 1):
        for name, model in models.items():
            model.partial_fit(containers[name])
        if epoch in epochs:
            dense, csr = models["dense"], models["csr"]
            latent = np.abs(dense.transform(X) - csr.transform(containers["csr"]))
            loss = np.abs(np.subtract(dense.loss_curve_, csr.loss_curve_))
            width = X.shape[1]
            print(f"{width:>7}  {epoch:>6}  {latent.max():>13.2g}  {loss.max():>7.2g}")


def main(epochs: list[int]) -> None:
    digits = load_digits().data / 16
    print("columns  epochs  latent means  loss (max |dense - csr|)")
    drift(digits, epochs)
    drift(np.hstack([digits, np.zeros((len(digits), 960))]), epochs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 5, 20, 50])
    main(parser.parse_args().epochs)
