"""One way to build listeners' lists from a trained model (no Django): publishing calls it for
every listener at once, a refresh for one, so a list is the same whichever path made it.

`lists_build` takes the listeners' confidence rows in the model's columns (their plays,
skips and loves, weighted as the run was), their training rows, their not-for-me cells, the
neighbours of items and the charts, and returns song (or artist) lists with reasons and
fallback flags, and at song level the artist lists rolled up from them; at artist level,
given the artists' best songs (`ArtistSongs`), song lists made from the artist lists, so an
artist-level publication serves songs too (`songs_from_artists`).

Cold start, one rule on both paths: a listener with fewer than MIN_HISTORY items (or whom
the model cannot rank) gets the items most similar to the few they have ("seeds"), from the
publication's similar items (the model's own, else cosine neighbours on the plays), then the
publication's charts; marked fallback. Why this rule and not "listeners who played your
items also played" (the co-listener counts publishing used before): a refresh must build a
newcomer's list in milliseconds, and the seeds' neighbours are a handful of stored rows,
where co-listeners need every listen of everyone who played the seeds (millions for a
popular song). They are also what the "More like this song" lists show, and they come from
the same model that takes over at MIN_HISTORY items, so a newcomer's list changes little
when it does. docs/README.md ("Publishing and reasons") has the rest.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.base import Recommender
from recommender.suggestions import NO_ITEM, Suggestions, cold_start, roll_up, suggest

# Fewer distinct items than this and a listener gets the cold-start lists, marked fallback.
MIN_HISTORY = 3
# At song level, this many songs per listener are ranked, for the artist roll-up.
ROLL_UP_DEPTH = 200
# At artist level, each artist's this many most-listened songs are kept with the set, and at
# most SONGS_PER_ARTIST of them go into one listener's song list (no artist floods it).
ARTIST_SONGS_KEPT = 5
SONGS_PER_ARTIST = 3
# A reason names one of the listener's items; no item explains more than this many of each
# 12 suggestions while another of their items contributes (`Recommender.reasons`' spread).
REASON_SPREAD = 3
# Listeners per block when making song lists from artist lists (rows x artists x songs cells).
SONGS_BLOCK_CELLS = 20_000_000


def positions(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The place of each wanted id in `sorted_ids`; -1 where it is not there."""
    wanted = np.asarray(wanted, dtype=np.int64)
    found = np.searchsorted(sorted_ids, wanted)
    found = np.minimum(found, max(len(sorted_ids) - 1, 0))
    hit = (sorted_ids[found] == wanted) if len(sorted_ids) else np.zeros(len(wanted), bool)
    return np.where(hit, found, -1)


def cells(row_ids: np.ndarray, column_ids: np.ndarray, pairs: np.ndarray) -> sp.csr_matrix:
    """(row id, column id) pairs as a 0/1 matrix over these sorted ids; others dropped."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    rows = positions(row_ids, pairs[:, 0])
    columns = positions(column_ids, pairs[:, 1])
    inside = (rows >= 0) & (columns >= 0)
    cell = sp.csr_matrix(
        (np.ones(inside.sum(), dtype=np.float32), (rows[inside], columns[inside])),
        shape=(len(row_ids), len(column_ids)),
    )
    cell.data[:] = 1.0  # a pair given twice is still one cell
    return cell


@dataclass
class ArtistMap:
    """What rolling songs up to artists needs: each song column's artist column (-1
    unknown), how many artist columns there are, and not-for-me cells (rows x artists)."""

    song_artist: np.ndarray
    n_artists: int
    excluded: sp.csr_matrix

    def heard(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """Listeners x artists: each artist's confidence summed over its songs in `rows`."""
        known = self.song_artist >= 0
        to_artist = sp.csr_matrix(
            (
                np.ones(known.sum(), np.float32),
                (np.flatnonzero(known), self.song_artist[known]),
            ),
            shape=(len(self.song_artist), self.n_artists),
        )
        return sp.csr_matrix(rows @ to_artist)


@dataclass
class ArtistSongs:
    """What an artist-level set's song lists need: each artist column's most-listened song
    columns (n_artists x ARTIST_SONGS_KEPT, best first, -1 pad; `best_songs_by_artist`) and,
    rows x songs, what each listener has heard, loved or refused (never suggested)."""

    best: np.ndarray
    blocked: sp.csr_matrix


@dataclass
class ListenerLists:
    """Row for row of the input: the lists at the run's level (`depth` wide; write the first
    top_n); at song level, the artist lists (top_n wide); at artist level, given
    `ArtistSongs`, the song lists made from the artist lists (top_n wide, each reason an
    artist column: the artist list's reason, else the song's own artist)."""

    items: Suggestions
    artists: Suggestions | None
    songs: Suggestions | None = None


def depth_of(level: str, top_n: int) -> int:
    """How many items to rank per listener: enough for the artist roll-up at song level."""
    return max(top_n, ROLL_UP_DEPTH) if level == "song" else top_n


def lists_build(
    model: Recommender,
    rows: sp.csr_matrix,
    *,
    known_rows: np.ndarray,
    excluded: sp.csr_matrix,
    neighbours: Callable[[np.ndarray], sp.csr_matrix],
    chart: tuple[np.ndarray, np.ndarray],
    top_n: int,
    depth: int,
    artists: ArtistMap | None = None,
    songs: ArtistSongs | None = None,
    held: sp.csr_matrix | None = None,
) -> ListenerLists:
    """Every row's lists: the model's where the listener has MIN_HISTORY items and the model
    ranks them, else the cold start (module doc). Reasons for the first top_n slots.

    `rows`: confidences in the model's columns; `known_rows`: each listener's training row
    (-1 unknown); `excluded`: not-for-me cells; `neighbours(seed columns)`: an items x items
    links matrix holding at least those rows (`suggestions.neighbour_links`); `chart`: item
    columns best first and their listener counts; `artists`: given at song level; `songs`:
    given at artist level, for song lists too; `held`: 0/1, what each listener played,
    loved or picked, before weighting (a weighting may drop a cell, e.g. bm25's item that
    everyone plays, but the listener still holds it: it is never suggested).
    """
    rows = sp.csr_matrix(rows, dtype=np.float32)
    excluded = sp.csr_matrix(excluded)
    if held is not None:  # held but weighted away: excluded too (the rest the model masks)
        held = _binary(held)
        excluded = _binary(excluded + (held - held.multiply(_binary(rows))))
    history = np.diff(rows.indptr)
    lists = Suggestions.empty(rows.shape[0], depth)
    warm = np.flatnonzero(history >= MIN_HISTORY)
    if len(warm):
        ranked = suggest(
            model,
            rows[warm],
            depth,
            known_rows=np.asarray(known_rows)[warm],
            excluded=excluded[warm],
            explain=top_n,
            spread=REASON_SPREAD,
        )
        lists.place(warm, ranked)
    cold = np.flatnonzero((history < MIN_HISTORY) | (lists.items[:, 0] < 0))
    if len(cold):
        seeds = rows[cold]
        links = neighbours(np.unique(seeds.indices))
        lists.place(cold, cold_start(seeds, links, depth, chart=chart, excluded=excluded[cold]))
    return ListenerLists(
        lists,
        None if artists is None else _artist_lists(model, lists, rows, artists, top_n, held),
        None if songs is None else songs_from_artists(lists, songs, top_n),
    )


def best_songs_by_artist(
    plays: sp.csr_matrix, song_artist: np.ndarray, n_artists: int, k: int = ARTIST_SONGS_KEPT
) -> np.ndarray:
    """Each artist's k songs with the most listeners (ties: most plays) in `plays`
    (listeners x songs; `song_artist[song column]` its artist column, -1 unknown), as song
    columns, n_artists x k, -1 pad."""
    plays = sp.csr_matrix(plays)
    listeners = np.diff(sp.csc_matrix(plays).indptr)
    totals = np.asarray(plays.sum(axis=0)).ravel()
    known = np.flatnonzero(song_artist >= 0)
    order = known[np.lexsort((-totals[known], -listeners[known], song_artist[known]))]
    artist = song_artist[order]
    rank = np.arange(len(order)) - np.searchsorted(artist, artist, side="left")
    keep = rank < k
    best = np.full((n_artists, k), -1, dtype=np.int64)
    best[artist[keep], rank[keep]] = order[keep]
    return best


def songs_from_artists(artists: Suggestions, songs: ArtistSongs, k: int) -> Suggestions:
    """Song lists from artist lists: round by round, each listed artist in its order gives
    its next most-listened song the listener has not heard, loved or refused, at most
    SONGS_PER_ARTIST each; the first k. A song scores its artist's score; its reason is the
    artist's reason (the artist the listener played that led to it), else the artist itself."""
    n_rows, width = artists.items.shape
    kept = songs.best.shape[1]
    result = Suggestions.empty(n_rows, k)
    result.fallback[:] = artists.fallback
    if width == 0 or kept == 0:
        return result
    blocked = sp.csr_matrix(songs.blocked)
    block = max(1, SONGS_BLOCK_CELLS // (width * kept))
    for start in range(0, n_rows, block):
        rows = np.arange(start, min(start + block, n_rows))
        listed = artists.items[rows]
        candidates = np.where(
            (listed >= 0)[:, :, None], songs.best[np.maximum(listed, 0)], -1
        )  # rows x artist slot x song rank
        usable = candidates >= 0
        usable &= ~_blocked(candidates.reshape(len(rows), -1), blocked[rows]).reshape(usable.shape)
        round_ = np.cumsum(usable, axis=2) - 1  # the song's turn among its artist's usable
        usable &= round_ < SONGS_PER_ARTIST
        # Round first, then the artist's place: one song of every artist before a second.
        order_key = np.where(usable, round_ * width + np.arange(width)[None, :, None], -1)
        flat = order_key.reshape(len(rows), -1)
        order = np.argsort(np.where(flat >= 0, flat, np.iinfo(np.int64).max), axis=1)[:, :k]
        taken = np.take_along_axis(flat, order, axis=1) >= 0
        slot = order // kept
        chosen = np.take_along_axis(candidates.reshape(len(rows), -1), order, axis=1)
        reasons = np.take_along_axis(artists.reasons[rows], slot, axis=1)
        reasons = np.where(reasons >= 0, reasons, np.take_along_axis(listed, slot, axis=1))
        scores = np.take_along_axis(artists.scores[rows], slot, axis=1)
        width_k = order.shape[1]
        result.items[rows, :width_k] = np.where(taken, chosen, NO_ITEM)
        result.scores[rows, :width_k] = np.where(taken, scores, np.nan)
        result.reasons[rows, :width_k] = np.where(taken, reasons, NO_ITEM)
    return result


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    binary = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    binary.eliminate_zeros()
    binary.data[:] = 1.0
    return binary


def _blocked(candidates: np.ndarray, blocked: sp.csr_matrix) -> np.ndarray:
    """Which candidates (rows x slots of song columns, -1 pad) are cells of `blocked` (rows
    x songs). The cells' row-major keys are sorted already (CSR order): a binary search per
    candidate is several times faster than np.isin, which sorts or hashes both sides."""
    blocked = sp.csr_matrix(blocked)
    blocked.sort_indices()
    row_of = np.repeat(np.arange(blocked.shape[0], dtype=np.int64), np.diff(blocked.indptr))
    keys = row_of * blocked.shape[1] + blocked.indices
    if not len(keys):
        return np.zeros(candidates.shape, dtype=bool)
    wanted = np.arange(len(candidates), dtype=np.int64)[:, None] * blocked.shape[1] + candidates
    found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return (keys[found] == wanted) & (candidates >= 0)


def _artist_lists(
    model: Recommender,
    songs: Suggestions,
    rows: sp.csr_matrix,
    artists: ArtistMap,
    top_n: int,
    held: sp.csr_matrix | None,
) -> Suggestions:
    """Artist lists rolled up from the song lists, never an artist heard, loved, picked or
    refused (`artists.excluded` holds the loved and picked artists themselves)."""
    blocked = sp.csr_matrix(artists.heard(rows) + artists.excluded)
    if held is not None:
        blocked = sp.csr_matrix(blocked + artists.heard(sp.csr_matrix(held, dtype=np.float32)))
    lists, best_songs = roll_up(songs, artists.song_artist, top_n, heard_artists=blocked)
    # A model's artist reason: the artist of what led to its best song (found here, as the
    # model explained only the songs that are listed).
    modelled = np.flatnonzero(~lists.fallback)
    if len(modelled):
        reasons = model.reasons(rows[modelled], best_songs[modelled], spread=REASON_SPREAD)
        lists.reasons[modelled] = np.where(
            reasons >= 0, artists.song_artist[np.maximum(reasons, 0)], -1
        )
    return lists
