"""EASE^R (Steck 2019): a closed-form item-item linear model (no Django)."""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .base import Recommender, similar_by_scores


class EASE(Recommender):
    """Each item's score is a learned weighted sum of the listener's other items.

    With X the listeners x items confidences: G = XᵀX + l2·I, P = G⁻¹, B = -P / diag(P)
    (column j divided by P_jj) and diag(B) = 0; a listener's scores are X_u · B. B is a dense
    items x items float32 matrix, so the model refuses catalogues above `max_items`
    (params: `l2` = 500.0, `max_items` = 20_000). With `binary`, X is 1 wherever the
    listener played the item, whatever the confidence (Steck's own setting; its l2 is then
    on a co-occurrence scale, ~100 on HetRec). No randomness: the seed is unused.
    """

    name: ClassVar[str] = "ease"
    defaults: ClassVar[Mapping[str, Any]] = {"l2": 500.0, "max_items": 20_000, "binary": False}

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self.weights = np.zeros((0, 0), dtype=np.float32)

    def _input(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        if self.params["binary"]:
            matrix = matrix.copy()
            matrix.eliminate_zeros()
            matrix.data[:] = 1.0
        return matrix

    def fit(self, user_items: sp.csr_matrix) -> Self:
        matrix = self._input(user_items)
        n_items = matrix.shape[1]
        if n_items > self.params["max_items"]:
            gigabytes = n_items**2 * 4 / 1e9
            raise ValueError(
                f"ease is limited to max_items={self.params['max_items']} items; this matrix has "
                f"{n_items}, and its dense {n_items} x {n_items} float32 weights would take "
                f"{gigabytes:.1f} GB (items² x 4 bytes). Raise max_items or trim the catalogue."
            )
        gram = (matrix.T @ matrix).toarray()
        gram[np.diag_indices(n_items)] += np.float32(self.params["l2"])
        inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = inverse / -np.diag(inverse)
        weights[np.diag_indices(n_items)] = 0.0
        self.weights = weights.astype(np.float32, copy=False)
        self.n_items = n_items
        self.fitted = True
        return self

    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return np.asarray(self._input(user_items) @ self.weights)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Items by their weight in predicting each given item (its column of B)."""
        item_ids = self._check_items(item_ids)
        return similar_by_scores(self.weights[:, item_ids].T, item_ids, k)

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """B(i, j): a score is exactly the sum of confidence(i) * B(i, j) over played i."""
        return self.weights[sources[:, :, None], targets[:, None, :]]

    def _state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.weights = state["weights"]
        self.n_items = len(self.weights)
