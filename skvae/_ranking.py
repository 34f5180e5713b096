"""Held-out ranking scores for early stopping: NDCG@k and Recall@k.

Mult-VAE (Liang et al. 2018) picks its epoch by NDCG@100 on held-out users:
each user's items are split into fold-in items, from which the model ranks
every other item, and held-out items, which the ranking should put first.
``RankingValidation`` scores the held-out rows of ``early_stopping`` that way,
with the same split at every epoch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from ._data import Rows
from ._families import family_class
from ._inflated import InflatedFamily
from ._likelihoods import CategoricalFamily, MultinomialFamily, stored_entries
from ._module import VAE

SCORING_PATTERN = re.compile(r"(ndcg|recall)@([1-9][0-9]*)")
HELD_OUT_SHARE = 0.2
"""Share of each row's items held out of its fold-in, as in Mult-VAE."""


def parse_ranking(scoring: str) -> tuple[str, int] | None:
    """``(metric, k)`` for ``'ndcg@k'`` or ``'recall@k'``; None for ``'elbo'``.

    Raises a ``ValueError`` that names the accepted forms.
    """
    if scoring == "elbo":
        return None
    match = SCORING_PATTERN.fullmatch(scoring) if isinstance(scoring, str) else None
    if match is None:
        raise ValueError(
            "scoring must be 'elbo', 'ndcg@k' or 'recall@k' with k a positive "
            f"integer, got {scoring!r}."
        )
    return match.group(1), int(match.group(2))


def check_rank_within(ranking: tuple[str, int], scoring: str, n_items: int) -> None:
    """Refuse a ranking of the top ``k`` items of rows of fewer ``n_items``."""
    _, k = ranking
    if k > n_items:
        raise ValueError(
            f"scoring={scoring!r} ranks the top {k} items, but X has only "
            f"{n_items} columns."
        )


def refuse_columns_without_item_scores(likelihoods: dict, what: str) -> None:
    """Refuse a model whose columns are not all items with a score.

    ``likelihoods`` is ``likelihoods_``; ``what`` is what ranks (``recommend``,
    a ``scoring``). A categorical or inflated column decodes to a level or a
    mixture of atoms, which ranks nothing.
    """
    for name, family in likelihoods.items():
        if issubclass(family_class(family), CategoricalFamily | InflatedFamily):
            raise ValueError(
                f"{what} ranks the items of implicit feedback, each column an "
                f"item; column {name!r} is {family!r}, whose decoded value is a "
                "level or a mixture, not an item's score."
            )


def item_scores(module: VAE, z: torch.Tensor) -> torch.Tensor:
    """What items are ranked by: the decoder's mean at ``z``.

    A multinomial block's mean is each of its items' probability times the
    training rows' average total; the probability alone, Mult-VAE's score,
    is taken, whatever other blocks the model has.
    """
    scores = module.decode_mean(z)
    likelihood = module.likelihood
    for columns, family in zip(likelihood.columns, likelihood.families, strict=True):
        if not isinstance(family, MultinomialFamily):
            continue
        if likelihood.whole_rows:
            return scores / family.total_count
        index = torch.as_tensor(columns, device=scores.device)
        scores[..., index] = scores[..., index] / family.total_count
    return scores


def without_held_items(scores: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``scores`` with ``-inf`` at the items each row of ``x`` holds, in place.

    An item is held where its entry is nonzero and not NaN (a missing cell is
    not held). A sparse batch sets its stored entries alone, without a dense
    copy of the rows.
    """
    if x.is_sparse:
        rows, columns, values = stored_entries(x)
        held = (values != 0) & ~values.isnan()
        scores[rows[held], columns[held]] = -math.inf
        return scores
    return scores.masked_fill_((x != 0) & ~x.isnan(), -math.inf)


def check_implicit_feedback(
    X,
    scoring: str,
    names: Sequence,
    row_numbers: np.ndarray,
    row_name: Callable[[int], str] = str,
) -> None:
    """Refuse ``X`` that a ranking score cannot read as implicit feedback.

    A ranking reads each nonzero entry as an item the row holds and ranks the
    items it does not hold. A negative or missing entry has no such reading,
    and where every row holds every item there is nothing to rank: each model
    would score 1. ``names`` names the columns of ``X`` in the messages, and
    ``row_numbers`` its rows' positions in the caller's ``X``, which
    ``row_name`` names (see :func:`skvae._data.row_namer`).
    """
    cells = sp.coo_matrix(X) if sp.issparse(X) else None
    values = X if cells is None else cells.data
    unreadable = np.isnan(values) | (values < 0)
    if unreadable.any():
        if cells is None:
            row, column = np.argwhere(unreadable)[0]
        else:
            rows, columns = cells.row[unreadable], cells.col[unreadable]
            first = np.lexsort((columns, rows))[0]
            row, column = rows[first], columns[first]
        value = X[row, column]
        held = "a missing cell" if np.isnan(value) else value
        raise ValueError(
            f"scoring={scoring!r} reads X as implicit feedback (each nonzero "
            "entry an item the row holds), which takes non-negative values "
            f"without missing cells, but column {names[column]!r} holds {held} "
            f"in row {row_name(row_numbers[row])}. Use scoring='elbo'."
        )
    held = (X != 0).sum(axis=1)
    if np.all(np.asarray(held).ravel() == X.shape[1]):
        raise ValueError(
            f"scoring={scoring!r} ranks the items a row does not hold, but "
            "every row of X holds every item (no entry is 0), so every model "
            "would score 1. Use scoring='elbo'."
        )


def ranking_scores(
    metric: str, k: int, scores: torch.Tensor, held_out: torch.Tensor
) -> torch.Tensor:
    """NDCG@k or Recall@k of each row: how high ``scores`` rank ``held_out``.

    ``held_out`` marks each row's relevant items (booleans). Recall@k divides
    the hits among the top ``k`` by ``min(k, number held out)``, as Mult-VAE
    does; NDCG@k divides the discounted hits by their best possible value.
    Rows with nothing held out score NaN.
    """
    top = torch.topk(scores, k, dim=-1).indices
    hits = held_out.gather(-1, top).to(scores.dtype)
    n_relevant = held_out.sum(-1).clamp(max=k)
    if metric == "recall":
        return hits.sum(-1) / n_relevant
    discounts = 1.0 / torch.log2(
        torch.arange(2, k + 2, device=scores.device, dtype=scores.dtype)
    )
    ideal = torch.cat([discounts.new_zeros(1), discounts.cumsum(0)])[n_relevant]
    return (hits * discounts).sum(-1) / ideal


class RankingValidation:
    """Held-out rows of implicit feedback, scored by NDCG@k or Recall@k.

    The nonzero entries of each row are split at random, the same way at
    every epoch: about ``HELD_OUT_SHARE`` of them are held out, the rest are
    the fold-in the encoder reads. Items are ranked by the decoder's mean at
    the fold-in's posterior mean, fold-in items left out, as
    ``VAETransformer.recommend`` ranks them. The score is the weighted mean
    over the rows with at least one item held out.
    """

    def __init__(self, rows: Rows, batch_size: int, seed: int, metric: str, k: int):
        self.rows = rows
        self.batch_size = batch_size
        self.seed = seed
        self.metric = metric
        self.k = k

    def score(self, module: VAE) -> float:
        """The weighted mean ranking score of the held-out rows."""
        module.eval()
        generator = torch.Generator(self.rows.device).manual_seed(self.seed)
        total = torch.zeros((), device=self.rows.device)
        weight = torch.zeros((), device=self.rows.device)
        with torch.inference_mode():
            for x, w in self.rows.weighted_batches(self.batch_size):
                x = x.to_dense() if x.is_sparse else x
                draws = torch.rand(x.shape, generator=generator, device=x.device)
                held_out = (x != 0) & (draws < HELD_OUT_SHARE)
                fold_in = x.masked_fill(held_out, 0.0)
                scores = item_scores(module, module.posterior_mean(fold_in))
                scores = without_held_items(scores, fold_in)
                values = ranking_scores(self.metric, self.k, scores, held_out)
                scored = held_out.any(-1)
                total += (w[scored] * values[scored]).sum()
                weight += w[scored].sum()
        if weight.item() == 0:
            raise ValueError(
                f"scoring='{self.metric}@{self.k}' found no held-out row with an "
                "item to hold out: early stopping needs rows of implicit feedback "
                "with several nonzero entries. Hold out more rows "
                "(validation_fraction) or use scoring='elbo'."
            )
        return total.item() / weight.item()
