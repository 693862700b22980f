"""Most popular first: the baseline every personal model must beat (no Django)."""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from .base import Recommender

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

    def _state(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.popularity = state["popularity"]
        self.n_items = len(self.popularity)
