"""What latent-factor models share: a score is a dot product of listener and item factors."""

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from .base import Recommender, similar_by_scores


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

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        item_ids = self._check_items(item_ids)
        norms = np.linalg.norm(self.item_factors, axis=1)
        norms[norms == 0] = 1e-10
        cosine = (self.item_factors[item_ids] @ self.item_factors.T) / np.outer(
            norms[item_ids], norms
        )
        return similar_by_scores(cosine, item_ids, k)

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """item_factors[i] . item_factors[j]: how alike the two items are to the model."""
        vectors = self.source_vectors()
        return np.einsum("rmf,rkf->rmk", vectors[sources], self.item_factors[targets])

    def source_vectors(self) -> np.ndarray:
        """The vectors a played item adds to a listener's factors (the item factors here)."""
        return self.item_factors

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._set_factors(state["user_factors"], state["item_factors"])
