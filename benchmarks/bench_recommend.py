"""Top-k recommendations on MovieLens-100k: skvae against popularity and EASE.

Mult-VAE's protocol (Liang et al. 2018), scaled down: MovieLens-100k as RecBole
ships it (``recbole/dataset_example/ml-100k``; install with ``pip install
--no-deps recbole``, the data is read from the installed package and never
copied), ratings of 4 or more as positives, users with at least 5 positives.
For each split seed, 100 validation and 100 test users are held out; the
positives of each held-out user are split 80/20 into fold-in and held-out
items. Models train on the other users' rows, rank the items of each held-out
user from their fold-in items (which are left out of the ranking), and are
scored on the held-out items: Recall@20 and Recall@50 (hits divided by
min(K, number held out)) and NDCG@100.

Models: the most popular items; EASE (Steck 2019), with its L2 weight chosen
from a grid on the validation users; and ``VAETransformer`` with Mult-VAE's
recipe through its parameters (a multinomial likelihood, one hidden layer of
600 tanh units, 200 latent dimensions, input dropout 0.5, the KL weight
annealed from 0 to 0.2), stopping by its default rule. Fit seconds too.

Run: ``.venv/bin/python benchmarks/bench_recommend.py --seeds 0 1 2``.
"""

import argparse
import json
import time
from importlib import resources

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skvae import VAETransformer

EASE_LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0)
MULT_VAE_RECIPE = dict(
    latent_dim=200,
    hidden_layer_sizes=(600,),
    activation="tanh",
    likelihood="multinomial",
    input_dropout=0.5,
    beta=0.2,
    kl_warmup_epochs=20,
)


def positives() -> sp.csr_matrix:
    """Users by items, 1 where the user rated the item 4 or more."""
    path = resources.files("recbole") / "dataset_example/ml-100k/ml-100k.inter"
    ratings = pd.read_csv(path, sep="\t")
    ratings.columns = [column.split(":")[0] for column in ratings.columns]
    liked = ratings[ratings["rating"] >= 4]
    counts = liked["user_id"].value_counts()
    liked = liked[liked["user_id"].isin(counts[counts >= 5].index)]
    users = liked["user_id"].astype("category").cat.codes.to_numpy()
    items = liked["item_id"].astype("category").cat.codes.to_numpy()
    shape = (users.max() + 1, items.max() + 1)
    return sp.csr_matrix((np.ones(len(users)), (users, items)), shape=shape)


def fold_in_split(R: sp.csr_matrix, rng) -> tuple[sp.csr_matrix, list[np.ndarray]]:
    """Each row's positives split 80/20: fold-in rows, held-out item lists."""
    fold_in = R.tolil(copy=True)
    held_out = []
    for row in range(R.shape[0]):
        items = R.indices[R.indptr[row] : R.indptr[row + 1]]
        chosen = rng.choice(items, size=max(1, round(0.2 * len(items))), replace=False)
        fold_in[row, chosen] = 0
        held_out.append(chosen)
    return fold_in.tocsr(), held_out


def metrics(ranked: np.ndarray, held_out: list[np.ndarray]) -> dict[str, float]:
    """Mean Recall@20, Recall@50 and NDCG@100 over the rows."""
    discounts = 1.0 / np.log2(np.arange(2, 102))
    recall20, recall50, ndcg = [], [], []
    for top, truth in zip(ranked, held_out, strict=True):
        hits = np.isin(top[:100], truth)
        recall20.append(hits[:20].sum() / min(20, len(truth)))
        recall50.append(hits[:50].sum() / min(50, len(truth)))
        ideal = discounts[: min(100, len(truth))].sum()
        ndcg.append((hits * discounts).sum() / ideal)
    return {
        "Recall@20": float(np.mean(recall20)),
        "Recall@50": float(np.mean(recall50)),
        "NDCG@100": float(np.mean(ndcg)),
    }


def top_100(scores: np.ndarray, fold_in: sp.csr_matrix) -> np.ndarray:
    scores = np.where(fold_in.toarray() > 0, -np.inf, scores)
    return np.argsort(-scores, axis=1, kind="stable")[:, :100]


def ease_weights(train: sp.csr_matrix, l2: float) -> np.ndarray:
    gram = (train.T @ train).toarray() + l2 * np.eye(train.shape[1])
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    return weights


def run_split(R: sp.csr_matrix, seed: int, params: dict) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    users = rng.permutation(R.shape[0])
    validation, test, train = users[:100], users[100:200], users[200:]
    train_rows = R[train]
    valid_in, valid_out = fold_in_split(R[validation], rng)
    test_in, test_out = fold_in_split(R[test], rng)
    results = {}

    start = time.perf_counter()
    popularity = np.asarray(train_rows.sum(0)).ravel()
    seconds = time.perf_counter() - start
    ranked = top_100(np.tile(popularity, (len(test), 1)), test_in)
    results["most popular"] = metrics(ranked, test_out) | {"fit s": seconds}

    start = time.perf_counter()
    best = max(
        EASE_LAMBDAS,
        key=lambda l2: metrics(
            top_100(valid_in @ ease_weights(train_rows, l2), valid_in), valid_out
        )["NDCG@100"],
    )
    weights = ease_weights(train_rows, best)
    seconds = time.perf_counter() - start
    ranked = top_100(test_in @ weights, test_in)
    results[f"EASE (lambda {best:g})"] = metrics(ranked, test_out) | {"fit s": seconds}

    vae = VAETransformer(**(MULT_VAE_RECIPE | params), random_state=seed)
    start = time.perf_counter()
    vae.fit(train_rows)
    seconds = time.perf_counter() - start
    ranked, _ = vae.recommend(test_in, n=100)
    results["VAETransformer"] = metrics(ranked, test_out) | {
        "fit s": seconds,
        "epochs": vae.n_iter_,
    }
    return results


def main(seeds: list[int], params: dict) -> None:
    R = positives()
    print(f"{R.shape[0]} users x {R.shape[1]} items, {R.nnz} positives")
    print(f"VAETransformer: {MULT_VAE_RECIPE | params}")
    runs = [run_split(R, seed, params) for seed in seeds]
    print(f"\nmeans over split seeds {seeds}; 100 test users each")
    print(
        f"{'model':<22} {'Recall@20':>9} {'Recall@50':>9} {'NDCG@100':>9} {'fit s':>6}"
    )
    names = {name.split(" (")[0]: name for name in runs[0]}
    for short in names:
        rows = [
            next(value for name, value in run.items() if name.startswith(short))
            for run in runs
        ]
        mean = {key: np.mean([row[key] for row in rows]) for key in rows[0]}
        print(
            f"{short:<22} {mean['Recall@20']:>9.3f} {mean['Recall@50']:>9.3f} "
            f"{mean['NDCG@100']:>9.3f} {mean['fit s']:>6.1f}"
        )
    for seed, run in zip(seeds, runs, strict=True):
        epochs = run["VAETransformer"]["epochs"]
        print(f"seed {seed}: " + ", ".join(run) + f"; VAE epochs {epochs:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--params", type=json.loads, default={}, help="as JSON")
    args = parser.parse_args()
    main(args.seeds, args.params)
