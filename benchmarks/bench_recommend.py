"""Top-k recommendations on MovieLens-100k: skvae against popularity, kNN, EASE, cornac.

Mult-VAE's protocol (Liang et al. 2018), scaled down: MovieLens-100k as RecBole
ships it (``recbole/dataset_example/ml-100k``; install with ``pip install
--no-deps recbole``, the data is read from the installed package and never
copied), ratings of 4 or more as positives, users with at least 5 positives.
For each split seed, 100 validation and 100 test users are held out, and the
items are those some other (training) user liked; the positives of each
held-out user are split 80/20 into fold-in and held-out items (``int(0.2 *
n)`` held out, as Mult-VAE's code does). Models train on the other users'
rows, rank the items of each held-out user from their fold-in items (which
are left out of the ranking), and are scored on the held-out items:
Recall@20 and Recall@50 (hits divided by min(K, number held out)) and
NDCG@100.

Models, each setting chosen on the validation users by NDCG@100: the most
popular items; item-kNN (cosine similarity of item columns, the number of
neighbours kept per item chosen); EASE (Steck 2019, its L2 weight chosen);
cornac's ``VAECF``, the Mult-VAE network (600 tanh units, 200 latent
dimensions, a multinomial likelihood, KL weight 0.2; cornac has neither input
dropout nor KL annealing), its number of epochs chosen; and ``VAETransformer``
with Mult-VAE's recipe through its parameters (input dropout 0.5, the KL weight
annealed from 0 to 0.2 over 20 epochs), stopped by its default rule, or by
``early_stopping`` on the NDCG@100 of 10 % of the training users
(``scoring='ndcg@100'``); and the same network at the full KL weight
(``beta=1``, annealed over the same 20 epochs) whose ``recommend`` refines
each test user's posterior by 30 steps (``refine_steps=30``) before ranking.
Fit seconds are those of the chosen setting; rank seconds those of
``recommend`` over the 100 test users.

cornac is a benchmark requirement (``pip install cornac``), not one of
skvae's.

Run: ``.venv/bin/python benchmarks/bench_recommend.py`` (split seeds 0 to 9).
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
KNN_NEIGHBOURS = (20, 50, 100, 200, None)
CORNAC_EPOCHS = (25, 50, 100, 200)
MULT_VAE_RECIPE = dict(
    latent_dim=200,
    hidden_layer_sizes=(600,),
    activation="tanh",
    likelihood="multinomial",
    input_dropout=0.5,
    beta=0.2,
    kl_warmup_epochs=20,
)
# The refined row: the full KL weight, and each test user's posterior refined
# by 30 steps before ranking (chosen on split seeds 10 to 15).
REFINED_SETTINGS = dict(beta=1.0)
REFINE_STEPS = 30


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
    """Each row's positives split 80/20: fold-in rows, held-out item lists.

    ``int(0.2 * n)`` of a row's ``n`` positives are held out, as in Mult-VAE's
    code: none of a row with fewer than 5, which is then not scored.
    """
    fold_in = R.tolil(copy=True)
    held_out = []
    for row in range(R.shape[0]):
        items = R.indices[R.indptr[row] : R.indptr[row + 1]]
        chosen = rng.choice(items, size=int(0.2 * len(items)), replace=False)
        fold_in[row, chosen] = 0
        held_out.append(chosen)
    return fold_in.tocsr(), held_out


METRICS = ("Recall@20", "Recall@50", "NDCG@100")


def metrics(ranked: np.ndarray, held_out: list[np.ndarray]) -> dict:
    """Mean Recall@20, Recall@50 and NDCG@100 over the rows, and each row's."""
    discounts = 1.0 / np.log2(np.arange(2, 102))
    recall20, recall50, ndcg = [], [], []
    for top, truth in zip(ranked, held_out, strict=True):
        if not len(truth):
            continue  # a row with nothing held out is not scored
        hits = np.isin(top[:100], truth)
        recall20.append(hits[:20].sum() / min(20, len(truth)))
        recall50.append(hits[:50].sum() / min(50, len(truth)))
        ideal = discounts[: min(100, len(truth))].sum()
        ndcg.append((hits * discounts).sum() / ideal)
    per_row = {
        name: np.array(values)
        for name, values in zip(METRICS, (recall20, recall50, ndcg), strict=True)
    }
    return {name: float(values.mean()) for name, values in per_row.items()} | {
        "per row": per_row
    }


def paired_difference(runs: list[dict], model: str, baseline: str) -> str:
    """Each measure of ``model`` less ``baseline``, paired by test user.

    The mean of the differences over every split's test users, and its
    standard error in brackets.
    """
    parts = []
    for measure in METRICS:
        differences = np.concatenate(
            [
                run[_named(run, model)]["per row"][measure]
                - run[_named(run, baseline)]["per row"][measure]
                for run in runs
            ]
        )
        standard_error = differences.std(ddof=1) / np.sqrt(len(differences))
        parts.append(f"{measure} {differences.mean():+.3f} ({standard_error:.3f})")
    return f"{model} less {baseline}, per test user: " + ", ".join(parts)


def _named(run: dict, short: str) -> str:
    """The key of ``run`` whose name, before any bracket, is ``short``."""
    return next(name for name in run if name.split(" (")[0] == short)


def top_100(scores: np.ndarray, fold_in: sp.csr_matrix) -> np.ndarray:
    scores = np.where(fold_in.toarray() > 0, -np.inf, scores)
    return np.argsort(-scores, axis=1, kind="stable")[:, :100]


def ease_weights(train: sp.csr_matrix, l2: float) -> np.ndarray:
    gram = (train.T @ train).toarray() + l2 * np.eye(train.shape[1])
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    return weights


def knn_weights(train: sp.csr_matrix, neighbours: int | None) -> np.ndarray:
    """Cosine similarity of item columns, each item's top ``neighbours`` kept."""
    gram = (train.T @ train).toarray()
    norms = np.sqrt(np.diag(gram)).clip(1e-12)
    similarity = gram / norms[:, None] / norms[None, :]
    np.fill_diagonal(similarity, 0.0)
    if neighbours is not None:
        weakest = np.argsort(-similarity, axis=0)[neighbours:]
        np.put_along_axis(similarity, weakest, 0.0, axis=0)
    return similarity


class CornacVAECF:
    """cornac's ``VAECF`` (Mult-VAE), ranking new users' fold-in rows.

    cornac scores the users it was trained on; the held-out users go through
    the trained network's own ``encode`` and ``decode``, as its ``score`` does.
    Items no training user liked are unknown to it and ranked last.
    """

    def __init__(self, n_epochs: int, seed: int):
        from cornac.models import VAECF

        self.model = VAECF(
            k=200,
            autoencoder_structure=[600],
            act_fn="tanh",
            likelihood="mult",
            n_epochs=n_epochs,
            batch_size=100,
            learning_rate=0.001,
            beta=0.2,
            seed=seed,
        )

    def fit(self, train: sp.csr_matrix) -> "CornacVAECF":
        from cornac.data import Dataset

        coo = train.tocoo()
        triples = zip(coo.row.astype(str), coo.col.astype(str), coo.data, strict=True)
        dataset = Dataset.build(list(triples), seed=0)
        self.model.fit(dataset)
        column = np.array(
            [dataset.iid_map.get(str(item), -1) for item in range(train.shape[1])]
        )
        self.known, self.column = column >= 0, column[column >= 0]
        self.n_known = dataset.num_items
        return self

    def scores(self, fold_in: sp.csr_matrix) -> np.ndarray:
        import torch

        rows = fold_in.toarray()
        x = np.zeros((len(rows), self.n_known), dtype=np.float32)
        x[:, self.column] = rows[:, self.known]
        with torch.no_grad():
            mean, _ = self.model.vae.encode(torch.as_tensor(x))
            probabilities = self.model.vae.decode(mean).numpy()
        scores = np.full(rows.shape, -np.inf)
        scores[:, self.known] = probabilities[:, self.column]
        return scores


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def chosen_on_validation(settings, fit, scores, validation, train):
    """The setting whose model ranks the validation users best, with its fit time."""
    valid_in, valid_out = validation
    best = None
    for setting in settings:
        model, seconds = timed(lambda setting=setting: fit(train, setting))
        ndcg = metrics(top_100(scores(model, valid_in), valid_in), valid_out)
        if best is None or ndcg["NDCG@100"] > best[0]:
            best = ndcg["NDCG@100"], setting, model, seconds
    return best[1:]


def run_split(R: sp.csr_matrix, seed: int, params: dict) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    users = rng.permutation(R.shape[0])
    validation, test, train = users[:100], users[100:200], users[200:]
    # Mult-VAE's item set: the items some training user liked
    R = R[:, np.flatnonzero(R[train].getnnz(axis=0))]
    train_rows = R[train]
    validation = fold_in_split(R[validation], rng)
    test_in, test_out = fold_in_split(R[test], rng)
    results = {}

    def record(name, scores, seconds, **extra):
        ranked = top_100(scores, test_in)
        results[name] = metrics(ranked, test_out) | {"fit s": seconds} | extra

    popularity, seconds = timed(lambda: np.asarray(train_rows.sum(0)).ravel())
    record("most popular", np.tile(popularity, (len(test), 1)), seconds)

    for name, settings, fit in (
        ("item-kNN (neighbours {})", KNN_NEIGHBOURS, knn_weights),
        ("EASE (lambda {})", EASE_LAMBDAS, ease_weights),
    ):
        setting, weights, seconds = chosen_on_validation(
            settings, fit, lambda weights, rows: rows @ weights, validation, train_rows
        )
        record(name.format(setting), test_in @ weights, seconds)

    setting, cornac, seconds = chosen_on_validation(
        CORNAC_EPOCHS,
        lambda rows, epochs: CornacVAECF(epochs, seed).fit(rows),
        lambda model, rows: model.scores(rows),
        validation,
        train_rows,
    )
    record(f"cornac VAECF ({setting} epochs)", cornac.scores(test_in), seconds)

    for name, settings, refine_steps in (
        ("VAETransformer", {}, 0),
        (
            "VAETransformer, ndcg@100",
            {"early_stopping": True, "scoring": "ndcg@100"},
            0,
        ),
        ("VAETransformer, refined", REFINED_SETTINGS, REFINE_STEPS),
    ):
        vae = VAETransformer(**(MULT_VAE_RECIPE | settings | params), random_state=seed)
        vae, seconds = timed(lambda vae=vae: vae.fit(train_rows))
        start = time.perf_counter()
        ranked, _ = vae.recommend(test_in, n=100, refine_steps=refine_steps)
        results[name] = metrics(ranked, test_out) | {
            "fit s": seconds,
            "rank s": time.perf_counter() - start,
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
        f"{'model':<26} {'Recall@20':>9} {'Recall@50':>9} {'NDCG@100':>9} "
        f"{'fit s':>6} {'rank s':>6}"
    )
    for short in [name.split(" (")[0] for name in runs[0]]:
        rows = [run[_named(run, short)] for run in runs]
        mean = {
            key: np.mean([row[key] for row in rows])
            for key in rows[0]
            if key != "per row"
        }
        print(
            f"{short:<26} {mean['Recall@20']:>9.3f} {mean['Recall@50']:>9.3f} "
            f"{mean['NDCG@100']:>9.3f} {mean['fit s']:>6.1f} "
            + (f"{mean['rank s']:>6.1f}" if "rank s" in mean else f"{'':>6}")
        )
    print(paired_difference(runs, "VAETransformer, refined", "EASE"))
    for seed, run in zip(seeds, runs, strict=True):
        epochs = [f"{run[name]['epochs']:.0f}" for name in run if "epochs" in run[name]]
        print(f"seed {seed}: " + ", ".join(run) + f"; VAETransformer epochs {epochs}")
        print(f"  {paired_difference([run], 'VAETransformer, refined', 'EASE')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--params", type=json.loads, default={}, help="as JSON")
    args = parser.parse_args()
    main(args.seeds, args.params)
