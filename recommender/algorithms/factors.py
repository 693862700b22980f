"""What latent-factor models share: a score is a dot product of listener and item factors."""

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from implicit.cpu.topk import topk as implicit_top_k
from threadpoolctl import threadpool_limits

from .base import Recommender


class FactorModel(Recommender):
    """A model whose state is `user_factors` (listeners x f) and `item_factors` (items x f).

    Score(u, i) = user_factors[u] . item_factors[i]; similar items by cosine of item factors.
    Listener ids index `user_factors`, so only listeners seen in training can be scored
    (ALS can also fold a new listener in from their row).
    """

    needs_known_listeners: ClassVar[bool] = True

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self.user_factors = np.zeros((0, 0), dtype=np.float32)
        self.item_factors = np.zeros((0, 0), dtype=np.float32)

    def _set_factors(self, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        self.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        self.n_items = len(self.item_factors)
        self.fitted = True

    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        self._check_known_users(user_ids, len(self.user_factors))
        return self.user_factors[user_ids] @ self.item_factors.T

    def recommend(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool = True,
        recalculate: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `Recommender.recommend`, through implicit's fused, multi-threaded top-k (the
        scores are never held for a whole batch). With `recalculate` (models that
        `can_fold_in`), listeners are folded in from `user_items`, so they need not be known.
        """
        user_ids = np.asarray(user_ids, dtype=np.int64)
        rows = self._check_rows(user_ids, user_items)
        if recalculate:
            if not self.can_fold_in:
                raise ValueError(f"{self.name} cannot fold listeners in")
            query = self.fold_in(rows)
        else:
            self._check_known_users(user_ids, len(self.user_factors))
            query = self.user_factors[user_ids]
        played = None
        if exclude_seen:
            played = rows.copy()
            played.eliminate_zeros()  # a stored zero is not a play
        return self._top_k(query, k, exclude=played)

    def _top_k(
        self,
        query: np.ndarray,
        k: int,
        *,
        exclude: sp.csr_matrix | None = None,
        item_norms: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k items with the highest query . item (or cosine, given `item_norms`) per
        row, never an `exclude` cell; padded with -1 / -inf like `base.top_k`."""
        ids = np.full((len(query), k), -1, dtype=np.int64)
        scores = np.full((len(query), k), -np.inf, dtype=np.float32)
        kept = min(k, self.n_items)
        if kept == 0 or len(query) == 0:
            return ids, scores
        with threadpool_limits(1, "blas"):
            found, values = implicit_top_k(
                self.item_factors,
                np.ascontiguousarray(query, dtype=np.float32),
                kept,
                item_norms=item_norms,
                filter_query_items=exclude,
                num_threads=0,
            )
        # implicit marks the slots it could not fill with the lowest float.
        filled = values > np.finfo(np.float32).min
        ids[:, :kept] = np.where(filled, found, -1)
        scores[:, :kept] = np.where(filled, values, -np.inf)
        return ids, scores

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """By the cosine of item factors (implicit's top-k; the item itself left out)."""
        item_ids = self._check_items(item_ids)
        norms = np.linalg.norm(self.item_factors, axis=1).astype(np.float32)
        norms[norms == 0] = 1e-10
        itself = sp.csr_matrix(
            (np.ones(len(item_ids), np.float32), (np.arange(len(item_ids)), item_ids)),
            shape=(len(item_ids), self.n_items),
        )
        ids, scores = self._top_k(self.item_factors[item_ids], k, exclude=itself, item_norms=norms)
        return ids, scores / norms[item_ids][:, None]

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """item_factors[i] . item_factors[j]: how alike the two items are to the model."""
        vectors = self.source_vectors()
        return vectors[sources] @ self.item_factors[targets].transpose(0, 2, 1)

    def source_vectors(self) -> np.ndarray:
        """The vectors a played item adds to a listener's factors (the item factors here)."""
        return self.item_factors

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._set_factors(state["user_factors"], state["item_factors"])
