"""The metrics, one small function each, with the definition in its docstring (no Django).

Ranking metrics take `recommended`, each listener's ranked list (best first), and `relevant`,
each listener's held-out items, and average over the listeners in `relevant` that have at
least one relevant item. The conventions, shared by every ranking metric here:

- a listener in `relevant` but missing from `recommended` scores 0;
- a list shorter than k simply has fewer chances to hit (precision still divides by k);
- an item repeated within one listener's top k is a bug in the recommender: ValueError;
- with no listener to average over the metric is 0.0 (never NaN), and k must be >= 1.

`ranking_metrics` computes the same ranking metrics over numpy arrays for big runs (no
per-listener Python loop); the tests check that both paths agree.
"""

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
import scipy.sparse as sp

Recommended = Mapping[Hashable, Sequence[Hashable]]
Relevant = Mapping[Hashable, Collection[Hashable]]
# A per-item table: a mapping from item to value, or an array indexed by item position.
ItemTable = Mapping[Hashable, float] | Mapping[Hashable, Hashable] | np.ndarray | Sequence[float]
RANKING_METRICS = ("precision", "recall", "f1", "map", "ndcg", "hit_rate", "mrr")

# -- the ranking metrics, one listener at a time -----------------------------------------------


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")


def _hit_ranks(top: Sequence[Hashable], relevant_items: Collection[Hashable], k: int) -> list[int]:
    """The 1-based ranks within the top k of `top` whose items are relevant."""
    head = list(top)[:k]
    if len(set(head)) != len(head):
        raise ValueError(f"a recommendation list repeats an item in its top {k}: {head}")
    return [rank for rank, item in enumerate(head, start=1) if item in relevant_items]


def _average(
    recommended: Recommended,
    relevant: Relevant,
    k: int,
    score: Callable[[list[int], int], float],
) -> float:
    """Mean of `score(hit ranks, number relevant)` over the listeners with relevant items."""
    _check_k(k)
    values = []
    for listener, items in relevant.items():
        held_out = set(items)
        if held_out:
            ranks = _hit_ranks(recommended.get(listener, ()), held_out, k)
            values.append(score(ranks, len(held_out)))
    return float(np.mean(values)) if values else 0.0


def _ideal_dcg(n_hits: int) -> float:
    return float(sum(1.0 / np.log2(rank + 1) for rank in range(1, n_hits + 1)))


def precision_at_k(recommended: Recommended, relevant: Relevant, k: int) -> float:
    """Precision@k: the number of relevant items in the top k, divided by k."""
    return _average(recommended, relevant, k, lambda ranks, n_relevant: len(ranks) / k)


def recall_at_k(recommended: Recommended, relevant: Relevant, k: int) -> float:
    """Recall@k: the number of relevant items in the top k, divided by the number relevant."""
    return _average(recommended, relevant, k, lambda ranks, n_relevant: len(ranks) / n_relevant)


def f1_from(precision: float, recall: float) -> float:
    """The harmonic mean 2PR / (P + R) of a precision and a recall; 0 when both are 0."""
    total = precision + recall
    return 2.0 * precision * recall / total if total > 0 else 0.0


def f1_at_k(recommended: Recommended, relevant: Relevant, k: int) -> float:
    """F1@k: the harmonic mean of the MEAN precision@k and the MEAN recall@k.

    Not the mean of per-listener F1 scores; 0 when both means are 0.
    """
    return f1_from(precision_at_k(recommended, relevant, k), recall_at_k(recommended, relevant, k))


def map_at_k(recommended: Recommended, relevant: Relevant, k: int) -> float:
    """MAP@k: the mean over listeners of their average precision at k.

    AP@k = (sum of precision@i over each rank i <= k holding a relevant item)
           / min(k, number relevant),
    so a listener with fewer relevant items than k can still reach 1.
    """

    def average_precision(ranks: list[int], n_relevant: int) -> float:
        hits = sum(nth / rank for nth, rank in enumerate(ranks, start=1))
        return hits / min(k, n_relevant)

    return _average(recommended, relevant, k, average_precision)


def ndcg_at_k(recommended: Recommended, relevant: Relevant, k: int) -> float:
    """NDCG@k with binary gains.

    DCG@k = sum over ranks r <= k (from 1) holding a relevant item of 1 / log2(r + 1);
    NDCG@k = DCG@k / IDCG, IDCG being the DCG of min(k, number relevant) hits at the top.
    """

    def ndcg(ranks: list[int], n_relevant: int) -> float:
        dcg = sum(1.0 / np.log2(rank + 1) for rank in ranks)
        return float(dcg / _ideal_dcg(min(k, n_relevant)))

    return _average(recommended, relevant, k, ndcg)


def hit_rate_at_k(recommended: Recommended, relevant: Relevant, k: int) -> float:
    """HitRate@k: the share of listeners with at least one relevant item in their top k."""
    return _average(recommended, relevant, k, lambda ranks, n_relevant: float(bool(ranks)))


def mrr_at_k(recommended: Recommended, relevant: Relevant, k: int) -> float:
    """MRR@k: the mean of 1 / rank of the first relevant item within the top k (0 if none)."""
    return _average(
        recommended, relevant, k, lambda ranks, n_relevant: 1.0 / ranks[0] if ranks else 0.0
    )


# -- rating predictions ----------------------------------------------------------------------


def _errors(
    y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray
) -> np.ndarray:
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {true.shape} vs {pred.shape}")
    if true.size == 0:
        raise ValueError("no ratings to compare: y_true and y_pred are empty")
    return pred - true


def mae(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    """Mean absolute error: mean of |y_pred - y_true|. ValueError on empty or mismatched input."""
    return float(np.mean(np.abs(_errors(y_true, y_pred))))


def rmse(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    """Root mean squared error: sqrt(mean((y_pred - y_true)^2)). ValueError on empty/mismatch."""
    return float(np.sqrt(np.mean(_errors(y_true, y_pred) ** 2)))


# -- beyond accuracy -------------------------------------------------------------------------


def _flat_top_k(
    recommended: Recommended | np.ndarray, k: int
) -> tuple[np.ndarray | list[Hashable], np.ndarray]:
    """Every listener's top-k items end to end, and how many each listener contributed.

    An array (listeners x slots, item positions, padded with -1 as `Recommender.recommend`
    returns) is read without a Python loop; its -1 slots are not items.
    """
    _check_k(k)
    if isinstance(recommended, np.ndarray):
        top = np.asarray(recommended)[:, :k]
        present = top >= 0
        return top[present], present.sum(axis=1)
    lists = [list(items)[:k] for items in recommended.values()]
    return [item for top in lists for item in top], np.array(
        [len(top) for top in lists], dtype=np.int64
    )


def _lookup(
    table: ItemTable, items: np.ndarray | list[Hashable], missing: float | None
) -> np.ndarray:
    """The table's values for `items`; for a mapping, `missing` stands in for absent items
    (None: absent items are an error)."""
    if isinstance(table, Mapping):
        if missing is None:
            return np.array([table[item] for item in items])
        return np.array([table.get(item, missing) for item in items], dtype=np.float64)
    return np.asarray(table)[np.asarray(items, dtype=np.int64)]


def catalogue_coverage(recommended: Recommended | np.ndarray, n_items: int, k: int) -> float:
    """Catalogue coverage@k: distinct items in all listeners' top-k lists / n_items."""
    if n_items < 1:
        raise ValueError(f"n_items must be at least 1, not {n_items}")
    items, _ = _flat_top_k(recommended, k)
    distinct = np.unique(items).size if isinstance(items, np.ndarray) else len(set(items))
    return distinct / n_items


def novelty(
    recommended: Recommended | np.ndarray, item_popularity: ItemTable, n_listeners: int, k: int
) -> float:
    """Novelty@k: the mean self-information, in bits, of the recommended items.

    novelty = mean over every item in every top-k list of -log2(popularity(i) / n_listeners),
    popularity(i) being the number of training listeners of item i. An item never seen in
    training (popularity 0, or absent from a mapping) counts as popularity 1, so it stays
    finite: log2(n_listeners) bits, the most any item can score. Not bounded by 1: it runs
    from 0 (everyone played it) to log2(n_listeners). 0.0 when nothing is recommended.
    """
    if n_listeners < 1:
        raise ValueError(f"n_listeners must be at least 1, not {n_listeners}")
    items, _ = _flat_top_k(recommended, k)
    popularity = np.maximum(_lookup(item_popularity, items, missing=0.0).astype(np.float64), 1.0)
    if popularity.size == 0:
        return 0.0
    if (popularity > n_listeners).any():
        raise ValueError(f"an item's popularity exceeds n_listeners ({n_listeners})")
    return float(np.mean(-np.log2(popularity / n_listeners)))


def intra_list_diversity(
    recommended: Recommended | np.ndarray, item_artist: ItemTable, k: int
) -> float:
    """Intra-list artist diversity@k: how rarely a list repeats an artist.

    For each listener, the share of the distinct pairs of items in their top k whose artists
    differ (1 = every item by a different artist, 0 = all by one artist), averaged over the
    listeners. A list with fewer than 2 items has no pairs: it is skipped, not scored (0.0
    when no list has 2 items). Every recommended item needs an artist in `item_artist`.
    """
    items, lengths = _flat_top_k(recommended, k)
    artists = _lookup(item_artist, items, missing=None)
    pairs = lengths * (lengths - 1) / 2
    scored = pairs > 0
    if not scored.any():
        return 0.0
    plays = pd.DataFrame({"list": np.repeat(np.arange(len(lengths)), lengths), "artist": artists})
    counts = plays.groupby(["list", "artist"], dropna=False).size()
    same = (counts * (counts - 1) / 2).groupby(level="list").sum()
    same_pairs = same.reindex(np.arange(len(lengths)), fill_value=0).to_numpy(dtype=np.float64)
    return float(np.mean(1.0 - same_pairs[scored] / pairs[scored]))


def popularity_bias(
    recommended: Recommended | np.ndarray, item_popularity: ItemTable, k: int
) -> float:
    """Popularity bias@k: the mean popularity percentile of the recommended items.

    An item's percentile is the share of the catalogue's items whose training popularity is
    at most its own (0..1; 1 = the most popular, ties share the higher rank). The catalogue
    is every item of `item_popularity`; an item absent from a mapping has popularity 0.
    0.5-ish means recommendations as popular as a random item, 1 means only the hits.
    0.0 when nothing is recommended.
    """
    catalogue = np.asarray(
        list(item_popularity.values()) if isinstance(item_popularity, Mapping) else item_popularity,
        dtype=np.float64,
    )
    if catalogue.size == 0:
        raise ValueError("item_popularity is empty: no catalogue to rank against")
    items, _ = _flat_top_k(recommended, k)
    popularity = _lookup(item_popularity, items, missing=0.0).astype(np.float64)
    if popularity.size == 0:
        return 0.0
    at_most = np.searchsorted(np.sort(catalogue), popularity, side="right")
    return float(np.mean(at_most / catalogue.size))


# -- the vectorised ranking metrics, for big runs --------------------------------------------


def _hit_matrix(recommended: np.ndarray, relevant: sp.csr_matrix, k_max: int) -> np.ndarray:
    """Boolean (n_users x k_max): does slot j of row u hold one of u's relevant items?"""
    n_users, n_items = relevant.shape
    top = np.full((n_users, k_max), -1, dtype=np.int64)
    width = min(k_max, recommended.shape[1])
    top[:, :width] = recommended[:, :width]
    if (top >= n_items).any():
        raise ValueError(f"recommended holds item positions beyond the {n_items} items")
    ordered = np.sort(top, axis=1)
    if ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any():
        raise ValueError(f"a recommendation list repeats an item in its top {k_max}")
    coo = relevant.tocoo()
    relevant_keys = coo.row.astype(np.int64) * n_items + coo.col
    slot_keys = np.arange(n_users, dtype=np.int64)[:, None] * n_items + top
    return np.isin(slot_keys, relevant_keys) & (top >= 0)


def _per_user(
    recommended: np.ndarray, relevant: sp.csr_matrix, ks: Sequence[int]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-listener values of each metric at each k (f1 excepted), and the rows they are for."""
    if not ks:
        raise ValueError("ks is empty: give at least one cut-off k")
    for k in ks:
        _check_k(k)
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.ndim != 2 or recommended.shape[0] != relevant.shape[0]:
        raise ValueError(
            f"recommended must have one row per row of relevant ({relevant.shape[0]}), "
            f"not shape {recommended.shape}"
        )
    relevant = sp.csr_matrix(relevant, dtype=bool)
    relevant.eliminate_zeros()
    n_relevant_all = np.diff(relevant.indptr)
    users = np.flatnonzero(n_relevant_all > 0)
    n_relevant = n_relevant_all[users].astype(np.float64)
    k_max = max(ks)
    hits = _hit_matrix(recommended[users], relevant[users], k_max)
    ranks = np.arange(1, k_max + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(ranks + 1)
    cumulative_hits = np.cumsum(hits, axis=1)
    precision_at_rank = np.where(hits, cumulative_hits / ranks, 0.0)
    ideal = np.cumsum(discounts)
    gains = np.where(hits, discounts, 0.0)
    first_hit = np.argmax(hits, axis=1)
    values: dict[str, np.ndarray] = {}
    for k in ks:
        n_hits = cumulative_hits[:, k - 1].astype(np.float64)
        best = np.minimum(k, n_relevant)
        any_hit = n_hits > 0
        values[f"precision@{k}"] = n_hits / k
        values[f"recall@{k}"] = n_hits / n_relevant
        values[f"map@{k}"] = precision_at_rank[:, :k].sum(axis=1) / best
        values[f"ndcg@{k}"] = gains[:, :k].sum(axis=1) / ideal[best.astype(np.int64) - 1]
        values[f"hit_rate@{k}"] = any_hit.astype(np.float64)
        values[f"mrr@{k}"] = np.where(any_hit, 1.0 / (first_hit + 1), 0.0)
    return values, users


@overload
def ranking_metrics(
    recommended: np.ndarray,
    relevant: sp.csr_matrix,
    ks: Sequence[int],
    *,
    per_user: Literal[False] = False,
) -> dict[str, float]: ...


@overload
def ranking_metrics(
    recommended: np.ndarray,
    relevant: sp.csr_matrix,
    ks: Sequence[int],
    *,
    per_user: Literal[True],
) -> dict[str, np.ndarray]: ...


def ranking_metrics(
    recommended: np.ndarray,
    relevant: sp.csr_matrix,
    ks: Sequence[int],
    *,
    per_user: bool = False,
) -> dict[str, float] | dict[str, np.ndarray]:
    """Every ranking metric at every k, on arrays, with the same definitions as above.

    `recommended` is n_users x K item positions, best first, padded with -1 (what
    `Recommender.recommend` returns); a k beyond K sees only the K slots. `relevant` is the
    n_users x n_items matrix of held-out items (any non-zero is relevant). Rows with no
    relevant item are left out. Returns {"precision@10": ..., "f1@10": ..., ...} for
    precision, recall, f1, map, ndcg, hit_rate and mrr.

    With `per_user=True` returns the per-listener arrays instead (for bootstrap intervals
    and paired comparisons), aligned with `result["users"]`, the row numbers kept. F1 has
    no per-listener value (it is the harmonic mean of two means): compute it from resampled
    means with `f1_from`.
    """
    values, users = _per_user(recommended, relevant, ks)
    if per_user:
        return {"users": users, **values}
    means = {name: float(v.mean()) if v.size else 0.0 for name, v in values.items()}
    result: dict[str, float] = {}
    for k in ks:
        for metric in RANKING_METRICS:
            key = f"{metric}@{k}"
            if metric == "f1":
                result[key] = f1_from(means[f"precision@{k}"], means[f"recall@{k}"])
            else:
                result[key] = means[key]
    return result


# Metrics where less is better: errors, and the bias towards popular items.
LOWER_IS_BETTER = frozenset({"mae", "rmse", "popularity_bias"})


def best_model(results: Mapping[str, Mapping[str, Any]], metric: str) -> str | None:
    """The label of the model best by `metric` in {label: {metric: value}} (lowest for an
    error or a bias, else highest); None if no model has it."""
    scored = {label: result[metric] for label, result in results.items() if metric in result}
    if not scored:
        return None
    pick = min if metric.partition("@")[0] in LOWER_IS_BETTER else max
    return pick(scored, key=scored.__getitem__)
