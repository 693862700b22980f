"""Most popular first: the baseline every personal model must beat (no Django)."""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from .base import SCORE_BLOCK_CELLS, SPARSE_BLOCK_ROWS, Recommender

BY = ("plays", "listeners")


class Popularity(Recommender):
    """The same ranking for everyone, minus what each listener has played.

    Params: `by` = "plays" ranks items by the sum of their column (total confidence), or
    "listeners" by how many listeners played them. Popularity has no clock of its own: to
    favour recent hits, let the matrix builder weight recent plays higher before fitting.
    """

    name: ClassVar[str] = "popularity"
    defaults: ClassVar[Mapping[str, Any]] = {"by": "plays"}

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        if self.params["by"] not in BY:
            raise ValueError(f"popularity by must be one of {', '.join(BY)}")
        self.popularity = np.zeros(0, dtype=np.float32)

    def fit(self, user_items: sp.csr_matrix) -> Self:
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        if self.params["by"] == "plays":
            popularity = np.asarray(matrix.sum(axis=0)).ravel()
        else:
            popularity = matrix.getnnz(axis=0)
        self.popularity = popularity.astype(np.float32)
        self.n_items = matrix.shape[1]
        self.fitted = True
        return self

    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.popularity, (len(user_ids), 1))

    def recommend(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `Recommender.recommend`, without scoring every item for every listener: one
        ranking for all, and each listener's first k items of it that they have not played
        (among the first k + the length of their row)."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        rows = self._check_rows(user_ids, user_items)
        order = np.argsort(-self.popularity, kind="stable")
        ids = np.full((len(user_ids), k), -1, dtype=np.int64)
        scores = np.full((len(user_ids), k), -np.inf, dtype=np.float32)
        if not exclude_seen:
            kept = order[:k]
            ids[:, : len(kept)], scores[:, : len(kept)] = kept, self.popularity[kept]
            return ids, scores
        played = sp.csr_matrix(rows != 0)
        lengths = np.diff(played.indptr)
        chunk = SPARSE_BLOCK_ROWS
        for first in range(0, len(user_ids), chunk):
            width = min(k + int(lengths[first : first + chunk].max(initial=0)), len(order))
            step = max(1, min(chunk, SCORE_BLOCK_CELLS // max(width, 1)))
            for start in range(first, min(first + chunk, len(user_ids)), step):
                stop = min(start + step, first + chunk, len(user_ids))
                part = slice(start, stop)
                ids[part], scores[part] = self._first_unplayed(played[part], order[:width], k)
        return ids, scores

    def _first_unplayed(
        self, played: sp.csr_matrix, candidates: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each row's first k `candidates` (items in rank order) it has not played."""
        seen = played.tocoo()
        keys = np.sort(seen.row.astype(np.int64) * self.n_items + seen.col)
        slots = np.arange(played.shape[0], dtype=np.int64)[:, None] * self.n_items + candidates
        keep = ~np.isin(slots, keys)
        first = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # the unplayed, in rank order
        chosen = np.take_along_axis(np.broadcast_to(candidates, keep.shape), first, axis=1)
        good = np.take_along_axis(keep, first, axis=1)
        ids = np.full((played.shape[0], k), -1, dtype=np.int64)
        scores = np.full((played.shape[0], k), -np.inf, dtype=np.float32)
        ids[:, : first.shape[1]] = np.where(good, chosen, -1)
        scores[:, : first.shape[1]] = np.where(good, self.popularity[chosen], -np.inf)
        return ids, scores

    def _state(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.popularity = state["popularity"]
        self.n_items = len(self.popularity)
