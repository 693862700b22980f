"""Item-item nearest neighbours: "listeners who played this also played" (no Django)."""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight, normalize, tfidf_weight
from threadpoolctl import threadpool_limits

from .base import Recommender, similar_by_scores

SIMILARITIES = ("cosine", "tfidf", "bm25")


class ItemKNN(Recommender):
    """Scores an item by the similarity of the items a listener played to it.

    Wraps implicit's item-item model: it keeps, for every item, its `k_neighbours` most similar
    items (`similarity` "cosine", "tfidf" or "bm25" with `bm25_k1` / `bm25_b`), and a listener's
    score for item j is sum over played items i of confidence(i) * similarity(i, j). Scoring is
    one sparse product per batch of listeners, so new listens count without refitting.
    """

    name: ClassVar[str] = "item_knn"
    defaults: ClassVar[Mapping[str, Any]] = {
        "similarity": "cosine",
        "k_neighbours": 100,
        "bm25_k1": 1.2,
        "bm25_b": 0.75,
    }

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        if self.params["similarity"] not in SIMILARITIES:
            raise ValueError(f"item_knn similarity must be one of {', '.join(SIMILARITIES)}")
        self.similarity = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, user_items: sp.csr_matrix) -> Self:
        # implicit 0.7 fits on listeners x items. Its Cosine/TFIDF/BM25 classes hand a COO
        # matrix to the kNN (a ParameterWarning); weighting here and fitting the base class
        # on CSR gives the same similarity without it.
        item_users = sp.csr_matrix(user_items, dtype=np.float32).T
        similarity = self.params["similarity"]
        if similarity == "cosine":
            weighted = normalize(item_users)
        elif similarity == "tfidf":
            weighted = normalize(tfidf_weight(item_users))
        else:
            weighted = bm25_weight(item_users, self.params["bm25_k1"], self.params["bm25_b"])
        model = ItemItemRecommender(K=self.params["k_neighbours"])
        with threadpool_limits(1, "blas"):
            model.fit(sp.csr_matrix(weighted.T), show_progress=False)
        self.similarity = sp.csr_matrix(model.similarity, dtype=np.float32)
        self.n_items = self.similarity.shape[0]
        self.fitted = True
        return self

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
