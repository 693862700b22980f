"""Models that score by a sparse item-to-item weight matrix (no Django).

A listener's score for item j is the sum over their played items i of confidence(i) *
weight(i, j): one sparse product per batch of listeners, so new listens count without
refitting, and the played item that contributed most is the natural reason to give.
"""

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from .base import Recommender, similar_by_scores


class Neighbourhood(Recommender):
    """The shared half of the item-to-item models: `similarity` (items x items, row i holds
    item i's weight towards each neighbour j) set by the subclass's `fit`."""

    similarity: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)

    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return (user_items @ self.similarity).toarray()

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        item_ids = self._check_items(item_ids)
        scores = self.similarity[item_ids].toarray()
        # Items outside an item's neighbourhood are not similar at all, not similarity 0.
        scores[scores == 0] = -np.inf
        return similar_by_scores(scores, item_ids, k)

    def neighbour_reasons(self, user_items_rows: sp.csr_matrix, item_ids: np.ndarray) -> np.ndarray:
        """For each recommended item, the played item that contributed most to its score.

        `item_ids` is recommend's output for these rows (n_rows x k); the answer has the same
        shape, -1 where an item has no played neighbour (or is itself padding).
        """
        item_ids = np.asarray(item_ids, dtype=np.int64)
        n_rows, k = item_ids.shape
        rows = self._check_rows(np.arange(n_rows), user_items_rows)
        flat = item_ids.ravel()
        valid = flat >= 0
        # One sparse row per (listener, suggestion): confidence(i) * similarity(i, suggestion).
        played = rows[np.repeat(np.arange(n_rows), k)[valid]]
        towards = sp.csr_matrix(self.similarity.T)[flat[valid]]
        contributions = sp.csr_matrix(played.multiply(towards))
        contributions.eliminate_zeros()
        lengths = np.diff(contributions.indptr)
        # Sorting each row's cells by contribution puts its strongest first, at indptr[row].
        order = np.lexsort((-contributions.data, np.repeat(np.arange(len(lengths)), lengths)))
        found = lengths > 0
        strongest = contributions.indices[order[contributions.indptr[:-1][found]]]
        reasons = np.full(flat.shape, -1, dtype=np.int64)
        reasons[np.flatnonzero(valid)[found]] = strongest
        return reasons.reshape(n_rows, k)

    def _state(self) -> dict[str, np.ndarray]:
        matrix = self.similarity
        return {
            "data": matrix.data,
            "indices": matrix.indices,
            "indptr": matrix.indptr,
            "shape": np.array(matrix.shape),
        }

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        shape = tuple(int(size) for size in state["shape"])
        self.similarity = sp.csr_matrix(
            (state["data"], state["indices"], state["indptr"]), shape=shape
        )
        self.n_items = shape[0]
