"""Every listener's top N from a trained model, with reasons and fallbacks (no Django).

What publishing and the near-real-time refresh share. Inputs are matrices and arrays; the
callers map rows and columns to listeners and songs.

- `suggest`: the model's top k for rows of confidences, never an item the row has played or
  an `excluded` cell (not-for-me), each with the played item that contributed most.
- `cold_start`: for listeners with too little history, the items most similar to their few
  items ("seeds"), then the charts (see recommender/listener_lists.py for why).
- `roll_up`: artist suggestions from song suggestions (an artist scores its best song).
- `similar`: every item's most similar items, in blocks.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.base import (
    SCORE_BLOCK_CELLS,
    SPARSE_BLOCK_CELLS,
    NotSupported,
    Recommender,
    strongest_items,
    top_k_positive,
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

    def take(self, rows: np.ndarray) -> "Suggestions":
        """These rows only, in this order."""
        return Suggestions(
            self.items[rows], self.scores[rows], self.reasons[rows], self.fallback[rows]
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
    spread: int | None = None,
    batch_size: int = 5_000,
) -> Suggestions:
    """The model's top k for each row of confidences (rows x the model's items).

    A model that can fold listeners in does so from the rows (so new listens count); a model
    that needs the listeners it was trained on ranks rows whose `known_rows` entry (training
    row, -1 unknown) is known, and leaves the others empty (-1) for a fallback. Played items
    and `excluded` cells never appear. Scores are the model's own (nan in empty slots).
    Reasons are found for the first `explain` slots (all by default; the rest stay -1),
    spread over the listener's items when `spread` is given (`Recommender.reasons`).
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
        result.reasons[batch, :width] = model.reasons(block_rows, items[:, :width], spread=spread)
    return result


def charts(plays: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k items with the most listeners (ties: most plays), and their listener counts."""
    plays = sp.csr_matrix(plays)
    listeners = np.diff(sp.csc_matrix(plays).indptr).astype(np.float64)
    totals = np.asarray(plays.sum(axis=0)).ravel()
    order = np.lexsort((-totals, -listeners))[:k]
    return order.astype(np.int64), listeners[order].astype(np.float32)


def neighbour_links(sources: np.ndarray, neighbours: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Items x items links from similar-item lists: row `sources[i]` links to the items of
    `neighbours[i]` (best first, -1 pad), each weighted 1 / (1 + its place among them).

    Places, not similarity scores, so the links are the same whether the lists come from
    the model in memory or from the rows a publication stored (scores there are rounded).
    """
    if len(sources) == 0:  # no seed has stored neighbours (a listener with nothing known)
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    neighbours = np.asarray(neighbours, dtype=np.int64).reshape(len(sources), -1)
    valid = neighbours >= 0
    place = np.cumsum(valid, axis=1) - 1
    rows, slots = np.nonzero(valid)
    data = (1.0 / (1.0 + place[rows, slots])).astype(np.float32)
    links = sp.csr_matrix(
        (data, (np.asarray(sources, dtype=np.int64)[rows], neighbours[rows, slots])),
        shape=(n_items, n_items),
    )
    links.sort_indices()
    return links


def cold_start(
    seeds: sp.csr_matrix,
    links: sp.csr_matrix,
    k: int,
    *,
    chart: tuple[np.ndarray, np.ndarray],
    excluded: sp.csr_matrix | None = None,
) -> Suggestions:
    """Suggestions for listeners with few items (`seeds`, rows x items), marked fallback.

    "More like what you played": an item scores, summed over the row's seeds, its link from
    each seed (`links`, items x items, e.g. `neighbour_links` of the similar items); its
    reason is the seed linking to it most strongly. Slots the seeds' neighbours leave empty
    are filled from `chart` (item columns, best first, and their listener counts), scored
    below every neighbour, with no reason. Seeds and `excluded` cells never appear.
    """
    seed_binary = _binary(seeds)
    blocked = seed_binary if excluded is None else _binary(seed_binary + sp.csr_matrix(excluded))
    n_rows, n_items = seeds.shape
    result = Suggestions.empty(n_rows, k)
    result.fallback[:] = True
    used = np.unique(seed_binary.indices)
    together = sp.csr_matrix(sp.csr_matrix(links)[used])
    together.sort_indices()
    position = np.full(n_items, -1, dtype=np.int64)
    position[used] = np.arange(len(used))
    block = max(1, SPARSE_BLOCK_CELLS // max(n_items, 1))
    for start in range(0, n_rows, block):
        rows = np.arange(start, min(start + block, n_rows))
        picks = seed_binary[rows]
        picks = sp.csr_matrix(
            (picks.data, position[picks.indices], picks.indptr), shape=(len(rows), len(used))
        )
        scores = sp.csr_matrix(picks @ together, dtype=np.float32)
        scores = scores - scores.multiply(blocked[rows])  # blocked is 0/1: those cells 0
        items, best, _ = top_k_positive(scores, k)  # only linked items: no dense row
        result.items[rows] = items
        result.scores[rows] = np.where(items >= 0, best, np.nan)
        result.reasons[rows] = _strongest_seed(picks, together, used, items)
    _fill_from_chart(result, blocked, chart, n_items)
    return result


def _fill_from_chart(
    result: Suggestions, blocked: sp.csr_matrix, chart: tuple[np.ndarray, np.ndarray], n_items: int
) -> None:
    """Each row's empty slots, in order, from the chart items the row neither holds nor
    blocks; scored below the row's last item (the chart's listener counts, scaled)."""
    chart_items, chart_listeners = (np.asarray(part) for part in chart)
    n_rows, k = result.items.shape
    filled = (result.items >= 0).sum(axis=1)
    if not len(chart_items) or (filled >= k).all():
        return
    row_of = np.arange(n_rows, dtype=np.int64)[:, None]
    taken = np.concatenate(
        [_pair_keys(blocked), (row_of * n_items + result.items)[result.items >= 0]]
    )
    allowed = ~np.isin(row_of * n_items + chart_items[None, :], taken)
    slot = np.cumsum(allowed, axis=1) - 1 + filled[:, None]
    chosen = allowed & (slot < k)
    rows, places = np.nonzero(chosen)
    top = float(chart_listeners.max()) + 1.0
    lowest = np.where(
        filled > 0, np.nanmin(np.where(result.items >= 0, result.scores, np.inf), axis=1), top
    )
    result.items[rows, slot[rows, places]] = chart_items[places]
    result.scores[rows, slot[rows, places]] = (lowest[rows] * chart_listeners[places] / top).astype(
        np.float32
    )


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


__all__ = [
    "NotSupported",
    "Suggestions",
    "charts",
    "cold_start",
    "neighbour_links",
    "roll_up",
    "similar",
    "suggest",
]
