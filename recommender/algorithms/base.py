"""The one interface every recommender implements, and the ranking they share (no Django).

A model is fitted on a listeners x items matrix of confidences (already weighted, see
`weighting.py`). Listener and item ids are row and column positions of that matrix; the
matrix builder owns the maps to real listeners and songs.

Ranking is done here, once, for everyone: a model only scores a batch of listeners against
every item, and `Recommender.recommend` masks what they have played, keeps the best k and pads
with -1 / -inf when fewer than k items are eligible (an item is eligible unless excluded).
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

NAME_KEY = "__algorithm__"
PARAMS_KEY = "__params__"
SEED_KEY = "__seed__"

# Dense score blocks are kept near this many cells (64 MB of float32), whatever the catalogue.
SCORE_BLOCK_CELLS = 16_777_216
# Sparse score blocks hold at most this many cells if every row reached every item (they
# reach far fewer: the items their plays lead to), so 4 dense blocks' worth of rows.
SPARSE_BLOCK_CELLS = 4 * SCORE_BLOCK_CELLS
# Rows ranked together where ranking needs no scores block (popularity, the blend's fusion:
# its components' top lists are rows x depth each).
SPARSE_BLOCK_ROWS = 4_096
# Reasons are found for blocks of about this many (listener, played, suggested) triples.
REASON_BLOCK_CELLS = 2_000_000
# With a spread, a seed explains at most so many of each this many suggestions (a page's worth).
SPREAD_WINDOW = 12

Scorer = Callable[[np.ndarray, sp.csr_matrix], np.ndarray]


class NotSupported(Exception):
    """This model cannot answer that (e.g. similar_items on popularity)."""


class Recommender(ABC):
    """A recommendation model: fit on confidences, rank items for listeners, save to one file.

    `defaults` names every parameter a model takes with its default; `params` holds the
    values in use (JSON-ready, so a training run can store them). `seed` drives all the
    model's randomness: the same seed on the same matrix gives the same recommendations.
    """

    name: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any]] = {}
    # True when scoring looks listeners up by their training row (learned per-listener
    # state): such a model can only rank the listeners it was trained on. False when the
    # rows passed in are all it needs, so new listens and new listeners count at once.
    needs_known_listeners: ClassVar[bool] = False
    # True when `recommend(..., recalculate=True)` folds listeners in from their rows.
    can_fold_in: ClassVar[bool] = False

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise TypeError(
                f"{self.name} got unknown parameter(s) {', '.join(unknown)}; it takes: {known}"
            )
        self.seed = int(seed)
        self.params: dict[str, Any] = {**self.defaults, **params}
        self.n_items = 0
        self.fitted = False

    # -- what each model provides -------------------------------------------------------

    @abstractmethod
    def fit(self, user_items: sp.csr_matrix) -> Self:
        """Learn from a listeners x items matrix of float32 confidences."""

    @abstractmethod
    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Dense float32 scores (len(user_ids) x n_items) of one batch of listeners.

        A fresh array each call: the ranker overwrites the seen cells in place.
        """

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """The learned arrays, to save."""

    @abstractmethod
    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Set the learned arrays back from `_state`'s output."""

    # -- the shared interface ------------------------------------------------------------

    def recommend(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best items for each listener, best first.

        `user_items` holds the rows of `user_ids` (what they played, possibly newer than the
        training matrix). Returns (item ids int64, scores float32), both len(user_ids) x k,
        padded with -1 / -inf when fewer than k items are eligible. With `exclude_seen`,
        items with a non-zero in the listener's row are never returned.
        """
        return self._rank(user_ids, user_items, k, exclude_seen, self._scores)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k items most like each given item (never the item itself), best first."""
        raise NotSupported(f"{self.name} cannot find similar items")

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """How much playing item i adds to item j's score, for every i of a row of `sources`
        (n_rows x m) and j of the same row of `targets` (n_rows x k): n_rows x m x k.

        Models whose score is a sum over the played items give their own weights; others
        raise NotSupported (and `reasons` then has nothing to say).
        """
        raise NotSupported(f"{self.name} cannot say which played item led to a suggestion")

    def reasons(
        self,
        user_items_rows: sp.csr_matrix,
        item_ids: np.ndarray,
        max_sources: int = 20,
        *,
        spread: int | None = None,
    ) -> np.ndarray:
        """For each suggestion, a played item that contributes to it (-1 if none).

        `item_ids` is `recommend`'s output for these rows (n_rows x k). The contribution of a
        played item i to a suggestion j is confidence(i) * `affinity`(i, j); it is looked for
        among each listener's `max_sources` highest-confidence items (a reason should be
        something they play a lot, and this bounds the work). -1 where no contribution is
        positive, where the suggestion is padding, or where the model cannot say.

        Without `spread`, the reason is the item that contributes most. With `spread`, the
        reason is chosen for the listener rather than for the model: among the contributing
        items, the one with the highest confidence(i) * affinity(i, j) / (i's mean affinity to
        the row's suggestions) — a hub item that leads to everything a little no longer
        explains everything — and, slot by slot, no item explains more than `spread` of each
        SPREAD_WINDOW suggestions while another contributing item is left (see `spread_reasons`).
        """
        item_ids = np.asarray(item_ids, dtype=np.int64)
        rows = self._check_rows(np.arange(item_ids.shape[0]), user_items_rows)
        reasons = np.full(item_ids.shape, -1, dtype=np.int64)
        sources, confidences = strongest_items(rows, max_sources)
        if sources.shape[1] == 0 or item_ids.size == 0:
            return reasons
        # In blocks of listeners: the affinities are listeners x sources x suggestions.
        block = max(1, REASON_BLOCK_CELLS // (sources.shape[1] * item_ids.shape[1]))
        for start in range(0, len(item_ids), block):
            part = slice(start, start + block)
            try:
                weights = self.affinity(np.maximum(sources[part], 0), np.maximum(item_ids[part], 0))
            except NotSupported:
                return reasons
            contributions = confidences[part, :, None] * weights
            contributions[sources[part] < 0] = 0.0  # padding: no source there
            contributions[
                np.broadcast_to((item_ids[part] < 0)[:, None, :], contributions.shape)
            ] = 0
            if spread is None:
                best = np.argmax(contributions, axis=1)  # which source, per suggestion
                strongest = np.take_along_axis(contributions, best[:, None, :], axis=1)[:, 0, :]
                found = (strongest > 0) & (item_ids[part] >= 0)
                chosen = np.take_along_axis(sources[part], best, axis=1)
                reasons[part][found] = chosen[found]
            else:
                reasons[part] = spread_reasons(
                    contributions, weights, confidences[part], sources[part], spread
                )
        return reasons

    def save(self, path: Path) -> None:
        """Write the model to one .npz file at exactly `path`, with its name and params."""
        self._check_fitted()
        arrays = {
            NAME_KEY: np.array(self.name),
            PARAMS_KEY: np.array(json.dumps(self.params)),
            SEED_KEY: np.array(self.seed),
            **self._state(),
        }
        with Path(path).open("wb") as file:
            np.savez(file, **arrays)

    @classmethod
    def load(cls, path: Path) -> "Recommender":
        """Read a model written by `save`; on this base class, whichever model the file holds."""
        with np.load(Path(path), allow_pickle=False) as archive:
            state = {key: archive[key] for key in archive.files}
        name = str(state.pop(NAME_KEY))
        if cls is Recommender:
            if name not in ALGORITHMS:
                raise ValueError(
                    f"{path} holds a {name} model, which is not available here; "
                    f"known: {', '.join(ALGORITHMS)}"
                )
            return ALGORITHMS[name].load(path)
        if name != cls.name:
            raise ValueError(f"{path} holds a {name} model, not {cls.name}")
        params = json.loads(str(state.pop(PARAMS_KEY)))
        model = cls(seed=int(state.pop(SEED_KEY)), **params)
        model._restore(state)
        model.fitted = True
        return model

    # -- helpers for the models ----------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{self.name} is not fitted yet: call fit() first")

    def _check_rows(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> sp.csr_matrix:
        self._check_fitted()
        rows = sp.csr_matrix(user_items, dtype=np.float32)
        if rows.shape != (len(user_ids), self.n_items):
            raise ValueError(
                f"user_items must be {len(user_ids)} x {self.n_items} (one row per listener, "
                f"one column per item of the model), not {rows.shape[0]} x {rows.shape[1]}"
            )
        return rows

    def _rank(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool,
        scorer: Scorer,
    ) -> tuple[np.ndarray, np.ndarray]:
        user_ids = np.asarray(user_ids, dtype=np.int64)
        rows = self._check_rows(user_ids, user_items)
        ids = np.full((len(user_ids), k), -1, dtype=np.int64)
        scores = np.full((len(user_ids), k), -np.inf, dtype=np.float32)
        batch = max(1, SCORE_BLOCK_CELLS // max(self.n_items, 1))
        for start in range(0, len(user_ids), batch):
            stop = min(start + batch, len(user_ids))
            block = scorer(user_ids[start:stop], rows[start:stop]).astype(np.float32, copy=False)
            if exclude_seen:
                seen = rows[start:stop].tocoo()
                played = seen.data != 0  # a stored zero is not a play
                block[seen.row[played], seen.col[played]] = -np.inf
            ids[start:stop], scores[start:stop] = top_k(block, k)
        return ids, scores

    def _rank_sparse(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool,
        scorer: Callable[[sp.csr_matrix], sp.csr_matrix],
    ) -> tuple[np.ndarray, np.ndarray]:
        """`_rank` for a model whose scores are sparse (`scorer(rows)`: rows x items, 0
        where not stored), without ever holding a dense block: a row's best k are among its
        stored positive cells. A row with fewer than k of them (its plays reach few items)
        goes on as `_rank` ranks it: the unplayed items scoring 0 (lowest columns first,
        where `_rank` takes any of these ties), then its negative cells."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        rows = self._check_rows(user_ids, user_items)
        ids = np.full((len(user_ids), k), -1, dtype=np.int64)
        scores = np.full((len(user_ids), k), -np.inf, dtype=np.float32)
        # Even at half the catalogue stored, a row's argpartition over its own cells beat the
        # dense block's 3.7 times at 377k items (and 4 times at 20k, at 25%).
        step = max(1, SPARSE_BLOCK_CELLS // max(self.n_items, 1))
        for start in range(0, len(user_ids), step):
            part = slice(start, min(start + step, len(user_ids)))
            block = sp.csr_matrix(scorer(rows[part]), dtype=np.float32)
            played = None
            if exclude_seen:
                played = sp.csr_matrix(rows[part] != 0, dtype=np.float32)
                block = block - block.multiply(played)  # structure kept, played cells 0
            found, best, enough = top_k_positive(block, k)
            for row in np.flatnonzero(~enough):
                _fill(found[row], best[row], block, played, row)
            ids[part], scores[part] = found, best
        return ids, scores

    def _check_items(self, item_ids: np.ndarray) -> np.ndarray:
        self._check_fitted()
        item_ids = np.asarray(item_ids, dtype=np.int64)
        outside = item_ids[(item_ids < 0) | (item_ids >= self.n_items)]
        if outside.size:
            raise ValueError(
                f"{self.name} has {self.n_items} items; unknown: {outside[:10].tolist()}"
            )
        return item_ids

    def _check_known_users(self, user_ids: np.ndarray, n_users: int) -> None:
        outside = user_ids[(user_ids < 0) | (user_ids >= n_users)]
        if outside.size:
            raise ValueError(
                f"{self.name} only knows the {n_users} listeners it was trained on "
                f"(ids 0..{n_users - 1}); unknown: {outside[:10].tolist()}"
            )


def spread_reasons(
    contributions: np.ndarray,
    weights: np.ndarray,
    confidences: np.ndarray,
    sources: np.ndarray,
    spread: int,
) -> np.ndarray:
    """`Recommender.reasons` with `spread`: per row, a contributing source for each slot
    (n_rows x m x k arrays in; n_rows x k source columns out, -1 where none contributes).

    The preference weighs the listener's own confidence in the source against how much the
    source leads to every suggestion of the row (its mean positive affinity): the seed that
    leads to *this* suggestion in particular, among what the listener plays most. Slots are
    taken in rank order; within each SPREAD_WINDOW slots a source explains at most `spread`
    of them unless no other source contributes to the slot. A reason always contributes.
    """
    n_rows, _, k = contributions.shape
    positive = np.where(contributions > 0, weights, 0.0)
    counted = np.maximum((contributions > 0).sum(axis=2), 1)
    mean_affinity = positive.sum(axis=2) / counted  # n_rows x m
    with np.errstate(divide="ignore", invalid="ignore"):
        preference = np.where(
            contributions > 0,
            confidences[:, :, None] * weights / mean_affinity[:, :, None],
            -np.inf,
        )
    reasons = np.full((n_rows, k), -1, dtype=np.int64)
    used = np.zeros(sources.shape, dtype=np.int64)  # per row and source, in this window
    rows = np.arange(n_rows)
    for slot in range(k):
        if slot % SPREAD_WINDOW == 0:
            used[:] = 0
        wanted = preference[:, :, slot]
        capped = np.where(used < spread, wanted, -np.inf)
        pick = np.where(np.isfinite(capped).any(axis=1)[:, None], capped, wanted).argmax(axis=1)
        found = np.isfinite(wanted[rows, pick])
        reasons[found, slot] = sources[rows[found], pick[found]]
        used[rows[found], pick[found]] += 1
    return reasons


def strongest_items(rows: sp.csr_matrix, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's m highest-valued columns and their values, highest first (n_rows x m,
    padded with -1 / 0; fewer columns when no row has m items)."""
    rows = sp.csr_matrix(rows)
    lengths = np.diff(rows.indptr)
    width = int(min(m, lengths.max(initial=0)))
    columns = np.full((rows.shape[0], width), -1, dtype=np.int64)
    values = np.zeros((rows.shape[0], width), dtype=np.float32)
    if width == 0:
        return columns, values
    row_of = np.repeat(np.arange(rows.shape[0]), lengths)
    order = np.lexsort((-rows.data, row_of))  # by row, then the largest value first
    rank = np.arange(order.size) - rows.indptr[row_of[order]]
    kept = rank < width
    columns[row_of[order][kept], rank[kept]] = rows.indices[order][kept]
    values[row_of[order][kept], rank[kept]] = rows.data[order][kept]
    return columns, values


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k highest scores of each row, best first: (columns int64, scores float32).

    Cells scoring -inf are not eligible: they come back as -1 / -inf, as do the slots beyond
    the number of columns.
    """
    n_rows, n_columns = scores.shape
    ids = np.full((n_rows, k), -1, dtype=np.int64)
    best = np.full((n_rows, k), -np.inf, dtype=np.float32)
    kept = min(k, n_columns)
    if kept == 0 or n_rows == 0:
        return ids, best
    if kept < n_columns:
        candidates = np.argpartition(-scores, kept - 1, axis=1)[:, :kept]
    else:
        candidates = np.broadcast_to(np.arange(n_columns), (n_rows, n_columns))
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    order = np.argsort(-candidate_scores, axis=1, kind="stable")
    ids[:, :kept] = np.take_along_axis(candidates, order, axis=1)
    best[:, :kept] = np.take_along_axis(candidate_scores, order, axis=1)
    ids[np.isneginf(best)] = -1
    return ids, best


def _fill(
    ids: np.ndarray,
    scores: np.ndarray,
    block: sp.csr_matrix,
    played: sp.csr_matrix | None,
    row: int,
) -> None:
    """Complete a row's list (its positive cells first, in place) as a dense ranking would:
    the items scoring 0 that are not `played` (lowest columns first), then the row's
    negative cells, best first."""
    have = int((ids >= 0).sum())
    cells = slice(block.indptr[row], block.indptr[row + 1])
    columns, values = block.indices[cells], block.data[cells]
    taken = columns[values != 0]
    if played is not None:
        taken = np.union1d(taken, played.indices[played.indptr[row] : played.indptr[row + 1]])
    need = len(ids) - have
    limit = min(need + len(taken), block.shape[1])
    zeros = np.setdiff1d(np.arange(limit), taken, assume_unique=True)[:need]
    ids[have : have + len(zeros)], scores[have : have + len(zeros)] = zeros, 0.0
    have += len(zeros)
    negative = values < 0
    if have < len(ids) and negative.any():
        order = np.argsort(-values[negative], kind="stable")[: len(ids) - have]
        ids[have : have + len(order)] = columns[negative][order]
        scores[have : have + len(order)] = values[negative][order]


def top_k_positive(scores: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`top_k` of each row's stored positive cells: (columns int64, scores float32, whether
    the row has at least k of them). The other slots are -1 / -inf.

    One argpartition per row over its own cells (a few thousand where a dense row would be
    the whole catalogue): a loop over rows, each step a handful of numpy calls on a slice.
    """
    scores = sp.csr_matrix(scores, dtype=np.float32, copy=True)
    scores.data[~(scores.data > 0)] = 0  # negative and nan cells rank after the unstored 0s
    return _top_k_of_cells(scores, k)


def top_k_stored(scores: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`top_k_positive` over each row's stored non-zero cells, whatever their sign (a cell
    not stored is not a candidate at all)."""
    scores = sp.csr_matrix(scores, dtype=np.float32, copy=True)
    scores.data[np.isnan(scores.data)] = 0
    return _top_k_of_cells(scores, k)


def _top_k_of_cells(scores: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two above, on a float32 copy of their own (its zeros are dropped here)."""
    scores.eliminate_zeros()
    n_rows = scores.shape[0]
    ids = np.full((n_rows, k), -1, dtype=np.int64)
    best = np.full((n_rows, k), -np.inf, dtype=np.float32)
    indptr, indices, data = scores.indptr, scores.indices, scores.data
    counts = np.diff(indptr)
    if k == 0:
        return ids, best, np.ones(n_rows, dtype=bool)
    for row in np.flatnonzero(counts):
        start, stop = indptr[row], indptr[row + 1]
        values = data[start:stop]
        if stop - start > k:
            kept = np.argpartition(values, stop - start - k)[stop - start - k :]
        else:
            kept = np.arange(stop - start)
        kept = kept[np.argsort(-values[kept], kind="stable")]
        ids[row, : len(kept)] = indices[start:stop][kept]
        best[row, : len(kept)] = values[kept]
    return ids, best, counts >= k


def similar_by_scores(
    scores: np.ndarray, item_ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """`top_k` of item-to-item scores (one row per item in `item_ids`), the item itself removed."""
    scores = np.array(scores, dtype=np.float32)
    scores[np.arange(len(item_ids)), item_ids] = -np.inf
    return top_k(scores, k)


# Every model by its name, filled by the package's __init__ (which imports each model
# module). Kept here, below the models, so a model made of others (the blend) can look
# them up without importing the package that imports it.
ALGORITHMS: dict[str, type[Recommender]] = {}


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted model by its registered name (params and `seed` as keywords)."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name](**params)
