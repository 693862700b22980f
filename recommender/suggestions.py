"""Every listener's top N from a trained model, with reasons and fallbacks (no Django).

What publishing and the near-real-time refresh share. Inputs are matrices and arrays; the
callers map rows and columns to listeners and songs.

- `suggest`: the model's top k for rows of confidences, never an item the row has played or
  an `excluded` cell (not-for-me), each with the played item that contributed most.
- `cold_start`: for listeners with too little history, the items most played by the
  listeners who share their few items ("seeds"), else the charts.
- `roll_up`: artist suggestions from song suggestions (an artist scores its best song).
- `similar`: every item's most similar items, in blocks.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.base import (
    SCORE_BLOCK_CELLS,
    NotSupported,
    Recommender,
    strongest_items,
    top_k,
)

NO_ITEM = -1


@dataclass
class Suggestions:
    """Ranked lists, row for row: items, scores and reasons (n_rows x k; -1 / nan pad), and
    whether each row is a fallback (not the model's own ranking)."""

    items: np.ndarray
    scores: np.ndarray
    reasons: np.ndarray
    fallback: np.ndarray

    @classmethod
    def empty(cls, n_rows: int, k: int) -> "Suggestions":
        return cls(
            np.full((n_rows, k), NO_ITEM, dtype=np.int64),
            np.full((n_rows, k), np.nan, dtype=np.float32),
            np.full((n_rows, k), NO_ITEM, dtype=np.int64),
            np.zeros(n_rows, dtype=bool),
        )

    def place(self, rows: np.ndarray, other: "Suggestions") -> None:
        """Copy `other`'s rows into these rows."""
        self.items[rows] = other.items
        self.scores[rows] = other.scores
        self.reasons[rows] = other.reasons
        self.fallback[rows] = other.fallback


def _pair_keys(matrix: sp.csr_matrix) -> np.ndarray:
    coo = sp.coo_matrix(matrix)
    return coo.row.astype(np.int64) * matrix.shape[1] + coo.col


def drop_cells(items: np.ndarray, scores: np.ndarray, cells: sp.csr_matrix, k: int):
    """The first k items of each row that are not a cell of `cells` (same rows), in order."""
    if cells is None or cells.nnz == 0:
        return items[:, :k], scores[:, :k]
    n_items = cells.shape[1]
    slots = np.arange(len(items), dtype=np.int64)[:, None] * n_items + np.maximum(items, 0)
    keep = (items >= 0) & ~np.isin(slots, _pair_keys(cells))
    order = np.argsort(~keep, axis=1, kind="stable")  # kept slots first, in rank order
    kept = np.take_along_axis(keep, order, axis=1)
    items = np.where(kept, np.take_along_axis(items, order, axis=1), NO_ITEM)
    scores = np.where(kept, np.take_along_axis(scores, order, axis=1), -np.inf)
    return items[:, :k], scores[:, :k]


def suggest(
    model: Recommender,
    rows: sp.csr_matrix,
    k: int,
    *,
    known_rows: np.ndarray | None = None,
    excluded: sp.csr_matrix | None = None,
    explain: int | None = None,
    batch_size: int = 5_000,
) -> Suggestions:
    """The model's top k for each row of confidences (rows x the model's items).

    A model that can fold listeners in does so from the rows (so new listens count); a model
    that needs the listeners it was trained on ranks rows whose `known_rows` entry (training
    row, -1 unknown) is known, and leaves the others empty (-1) for a fallback. Played items
    and `excluded` cells never appear. Scores are the model's own (nan in empty slots).
    Reasons are found for the first `explain` slots (all by default; the rest stay -1).
    """
    rows = sp.csr_matrix(rows, dtype=np.float32)
    n_rows = rows.shape[0]
    result = Suggestions.empty(n_rows, k)
    if known_rows is None:
        known_rows = np.arange(n_rows)
    fold = model.can_fold_in
    usable = np.ones(n_rows, dtype=bool)
    if model.needs_known_listeners and not fold:
        usable = known_rows >= 0
    excluded = sp.csr_matrix(excluded) if excluded is not None else None
    for start in range(0, n_rows, batch_size):
        batch = np.arange(start, min(start + batch_size, n_rows))
        batch = batch[usable[batch]]
        if not len(batch):
            continue
        block_rows = rows[batch]
        block_excluded = excluded[batch] if excluded is not None else None
        extra = 0 if block_excluded is None else int(np.diff(block_excluded.indptr).max(initial=0))
        ids = np.maximum(known_rows[batch], 0)
        if fold:
            items, scores = model.recommend(ids, block_rows, k + extra, recalculate=True)
        else:
            items, scores = model.recommend(ids, block_rows, k + extra)
        items, scores = drop_cells(items, scores, block_excluded, k)
        result.items[batch] = items
        result.scores[batch] = np.where(items >= 0, scores, np.nan)
        width = k if explain is None else min(explain, k)
        result.reasons[batch, :width] = model.reasons(block_rows, items[:, :width])
    return result


def charts(plays: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k items with the most listeners (ties: most plays), and their listener counts."""
    plays = sp.csr_matrix(plays)
    listeners = np.diff(sp.csc_matrix(plays).indptr).astype(np.float64)
    totals = np.asarray(plays.sum(axis=0)).ravel()
    order = np.lexsort((-totals, -listeners))[:k]
    return order.astype(np.int64), listeners[order].astype(np.float32)


def cold_start(
    seeds: sp.csr_matrix,
    plays: sp.csr_matrix,
    k: int,
    *,
    excluded: sp.csr_matrix | None = None,
) -> Suggestions:
    """Suggestions for listeners with few items (`seeds`, rows x items), marked fallback.

    "Listeners who played your items also played": an item scores, summed over the seeds,
    the number of listeners (rows of `plays`) who played both it and the seed; its reason
    is the seed it shares most listeners with. A listener whose seeds nobody else played
    gets the charts (no reason). Seeds and `excluded` cells never appear.
    """
    seed_binary = _binary(seeds)
    binary = _binary(plays)
    blocked = seed_binary if excluded is None else _binary(seed_binary + sp.csr_matrix(excluded))
    result = Suggestions.empty(seeds.shape[0], k)
    result.fallback[:] = True
    used = np.unique(seed_binary.indices)
    # Co-listeners of each seed item with every item: one sparse product for all seeds.
    together = sp.csr_matrix(sp.csc_matrix(binary)[:, used].T @ binary)
    together.sort_indices()
    position = np.full(binary.shape[1], -1, dtype=np.int64)
    position[used] = np.arange(len(used))
    chart_items, chart_scores = charts(binary, k + int(np.diff(blocked.indptr).max(initial=0)))
    block = max(1, SCORE_BLOCK_CELLS // max(binary.shape[1], 1))
    for start in range(0, seeds.shape[0], block):
        rows = np.arange(start, min(start + block, seeds.shape[0]))
        picks = seed_binary[rows]
        picks = sp.csr_matrix(
            (picks.data, position[picks.indices], picks.indptr), shape=(len(rows), len(used))
        )
        counts = (picks @ together).toarray()
        counts[blocked[rows].nonzero()] = 0
        counts[counts == 0] = -np.inf
        items, scores = top_k(counts, k)
        result.items[rows] = items
        result.scores[rows] = np.where(items >= 0, scores, np.nan)
        result.reasons[rows] = _strongest_seed(picks, together, used, items)
    for row in np.flatnonzero(result.items[:, 0] < 0):  # nobody shares a seed: the charts
        allowed = ~np.isin(chart_items, blocked[row].indices)
        chosen = chart_items[allowed][:k]
        result.items[row, : len(chosen)] = chosen
        result.scores[row, : len(chosen)] = chart_scores[allowed][:k]
    return result


def _strongest_seed(
    picks: sp.csr_matrix, together: sp.csr_matrix, used: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """For each suggested item, the row's seed with the most co-listeners (-1 if none)."""
    n_items = together.shape[1]
    keys = np.repeat(np.arange(together.shape[0], dtype=np.int64), np.diff(together.indptr))
    keys = keys * n_items + together.indices
    sources, _ = strongest_items(picks, int(np.diff(picks.indptr).max(initial=0)))
    if sources.shape[1] == 0 or not len(keys):
        return np.full(items.shape, NO_ITEM, dtype=np.int64)
    wanted = np.maximum(sources, 0)[:, :, None] * n_items + np.maximum(items, 0)[:, None, :]
    found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    links = np.where(keys[found] == wanted, together.data[found], 0.0)
    links[sources < 0] = 0.0
    best = np.argmax(links, axis=1)
    strongest = np.take_along_axis(links, best[:, None, :], axis=1)[:, 0, :]
    chosen = used[np.take_along_axis(np.maximum(sources, 0), best, axis=1)]
    return np.where((strongest > 0) & (items >= 0), chosen, NO_ITEM)


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    """1.0 where the matrix has a non-zero."""
    binary = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    binary.eliminate_zeros()
    binary.data[:] = 1.0
    return binary


def roll_up(
    songs: Suggestions,
    song_artist: np.ndarray,
    k: int,
    *,
    heard_artists: sp.csr_matrix,
) -> tuple[Suggestions, np.ndarray]:
    """Artist suggestions from song suggestions: each artist at its best song's place.

    `song_artist[song column]` is the artist column (-1 unknown); `heard_artists` (rows x
    artists) are never suggested. The reason is the artist of the best song's reason (-1
    where that song has none). Also returns each artist slot's best song (its song column,
    -1 pad), for a caller that explains those songs itself.
    """
    n_rows, width = songs.items.shape
    n_artists = heard_artists.shape[1]
    valid = songs.items >= 0
    artists = np.where(valid, song_artist[np.maximum(songs.items, 0)], NO_ITEM)
    reason_artists = np.where(
        songs.reasons >= 0, song_artist[np.maximum(songs.reasons, 0)], NO_ITEM
    )
    keys = np.arange(n_rows, dtype=np.int64)[:, None] * n_artists + np.maximum(artists, 0)
    usable = (artists >= 0) & ~np.isin(keys, _pair_keys(heard_artists))
    # The first slot of each (row, artist) is its best song: lists are sorted by score.
    flat = np.where(usable, keys, -1).ravel()
    _, first = np.unique(flat, return_index=True)
    keep = np.zeros(flat.shape, dtype=bool)
    keep[first] = True
    keep &= flat >= 0
    keep = keep.reshape(n_rows, width)
    order = np.argsort(~keep, axis=1, kind="stable")
    kept = np.take_along_axis(keep, order, axis=1)[:, :k]
    result = Suggestions.empty(n_rows, k)
    take = min(k, width)
    pick = order[:, :take]
    result.items[:, :take] = np.where(kept[:, :take], np.take_along_axis(artists, pick, 1), NO_ITEM)
    result.scores[:, :take] = np.where(
        kept[:, :take], np.take_along_axis(songs.scores, pick, 1), np.nan
    )
    result.reasons[:, :take] = np.where(
        kept[:, :take], np.take_along_axis(reason_artists, pick, 1), NO_ITEM
    )
    result.fallback[:] = songs.fallback
    best_songs = np.full((n_rows, k), NO_ITEM, dtype=np.int64)
    best_songs[:, :take] = np.where(
        kept[:, :take], np.take_along_axis(songs.items, pick, 1), NO_ITEM
    )
    return result, best_songs


def similar(model: Recommender, n_items: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every item's k most similar items (n_items x k, -1 / -inf pad), in blocks.

    NotSupported when the model has no notion of similar items.
    """
    items = np.full((n_items, k), NO_ITEM, dtype=np.int64)
    scores = np.full((n_items, k), -np.inf, dtype=np.float32)
    block = max(1, SCORE_BLOCK_CELLS // max(n_items, 1))
    for start in range(0, n_items, block):
        ids = np.arange(start, min(start + block, n_items))
        items[ids], scores[ids] = model.similar_items(ids, k)
    return items, scores


__all__ = ["NotSupported", "Suggestions", "charts", "cold_start", "roll_up", "similar", "suggest"]
