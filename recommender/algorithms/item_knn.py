"""Item-item nearest neighbours: "listeners who played this also played" (no Django)."""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight, tfidf_weight
from threadpoolctl import threadpool_limits

from .neighbourhood import Neighbourhood

SIMILARITIES = ("cosine", "tfidf", "bm25")


class ItemKNN(Neighbourhood):
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

    def fit(self, user_items: sp.csr_matrix) -> Self:
        # implicit 0.7 fits on listeners x items. Its Cosine/TFIDF/BM25 classes hand a COO
        # matrix to the kNN (a ParameterWarning); weighting here and fitting the base class
        # on CSR gives the same similarity without it. In float64: a half-life decays old
        # plays to confidences whose float32 squares are 0, and cosine then divides by 0.
        item_users = sp.csr_matrix(user_items, dtype=np.float64).T
        similarity = self.params["similarity"]
        if similarity == "cosine":
            weighted = _unit_rows(item_users)
        elif similarity == "tfidf":
            weighted = _unit_rows(tfidf_weight(item_users))
        else:
            weighted = bm25_weight(item_users, self.params["bm25_k1"], self.params["bm25_b"])
        model = ItemItemRecommender(K=self.params["k_neighbours"])
        with threadpool_limits(1, "blas"):
            model.fit(sp.csr_matrix(weighted.T), show_progress=False)
        self.similarity = sp.csr_matrix(model.similarity, dtype=np.float32)
        self.n_items = self.similarity.shape[0]
        self.fitted = True
        return self


def _unit_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Each item's row scaled to length 1; a row of zeros stays zeros. implicit's `normalize`
    divides it by 0 into NaN: an item every listener but one played has a TF-IDF weight of
    0 (its idf is log(N) - log(1 + N - 1)), and so does an all-decayed row in float32."""
    rows = sp.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ rows)
