"""Models that score by a sparse item-to-item weight matrix (no Django).

A listener's score for item j is the sum over their played items i of confidence(i) *
weight(i, j): one sparse product per batch of listeners, so new listens count without
refitting, and the played item that contributed most is the natural reason to give.
"""

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from .base import Recommender, top_k_stored


class Neighbourhood(Recommender):
    """The shared half of the item-to-item models: `similarity` (items x items, row i holds
    item i's weight towards each neighbour j) set by the subclass's `fit`."""

    similarity: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)

    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return (user_items @ self.similarity).toarray()

    def recommend(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `Recommender.recommend`, from the sparse product itself: a listener's scores
        are stored only for the items their plays reach, and no dense row of the whole
        catalogue is built (`Recommender._rank_sparse`)."""
        return self._rank_sparse(
            user_ids, user_items, k, exclude_seen, lambda rows: rows @ self.similarity
        )

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # Items outside an item's neighbourhood are not similar at all, not similarity 0: the
        # stored cells are the candidates (no dense row of the catalogue per item).
        item_ids = self._check_items(item_ids)
        rows = sp.csr_matrix(self.similarity[item_ids], dtype=np.float32)
        itself = rows.tocoo()
        other = item_ids[itself.row] != itself.col
        rows = sp.csr_matrix(
            (itself.data[other], (itself.row[other], itself.col[other])), shape=rows.shape
        )
        ids, scores, _ = top_k_stored(rows, k)
        return ids, scores

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """weight(i, j) from the sparse item-to-item matrix (0 outside i's neighbours)."""
        wanted = np.broadcast_shapes(sources[:, :, None].shape, targets[:, None, :].shape)
        rows = np.broadcast_to(sources[:, :, None], wanted).ravel()
        columns = np.broadcast_to(targets[:, None, :], wanted).ravel()
        if not rows.size:
            return np.zeros(wanted, dtype=np.float32)
        # scipy looks each cell up within its own row (a binary search over ~k neighbours),
        # 2.2 times faster than a search over every cell's key at 377k items.
        found = self._sorted_weights()[rows, columns]
        return np.asarray(found, dtype=np.float32).reshape(wanted)

    def _sorted_weights(self) -> sp.csr_matrix:
        """The weights with each row's columns sorted, once per fitted matrix."""
        if getattr(self, "_sorted_of", None) is not self.similarity:
            matrix = sp.csr_matrix(self.similarity, copy=True)
            matrix.sort_indices()
            self._sorted, self._sorted_of = matrix, self.similarity
        return self._sorted

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
