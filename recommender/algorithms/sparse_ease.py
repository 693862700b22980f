"""EASE restricted to each item's neighbourhood: a linear model whose memory is O(items x k).

EASE's column j is the ridge regression of item j's column on every other item's (Steck
2019; the closed form with diag(B) = 0 is exactly that regression). Here item j is regressed
on its `k_neighbours` strongest co-occurring items only, as fsSLIM (Ning & Karypis 2012)
restricts SLIM: one small dense solve per item, no items x items matrix anywhere. The
co-occurrences come from implicit's top-k item-item product, so the full Gram matrix is never
built either. No Django.
"""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import ItemItemRecommender
from threadpoolctl import threadpool_limits

from .base import strongest_items
from .neighbourhood import Neighbourhood

# The items' small systems are solved in stacks of about this many matrix cells (k x k each).
SOLVE_BLOCK_CELLS = 4_000_000


class SparseEASE(Neighbourhood):
    """EASE's regression of each item on the items it co-occurs with most (no Django).

    With X the listeners x items confidences and G = XᵀX: N(j) holds the `k_neighbours`
    items i != j with the largest G(i, j); B[N(j), j] = (G[N, N] + l2·I)⁻¹ G[N, j] and B is 0
    elsewhere; a listener's scores are X_u · B. G[N, N]'s cells are read from the sparsified
    Gram matrix (each item's top k co-occurrences, made symmetric): a pair of neighbours
    outside each other's top k counts as 0, which is what keeps memory at O(items x k).
    With every other item as a neighbour and nothing dropped, this is EASE exactly. Params:
    `l2` (on EASE's scale: the blend search's 2,000 suits HetRec), `k_neighbours` = 100.
    No randomness: the seed is unused.
    """

    name: ClassVar[str] = "sparse_ease"
    defaults: ClassVar[Mapping[str, Any]] = {"l2": 2000.0, "k_neighbours": 100}

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        k = self.params["k_neighbours"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"sparse_ease k_neighbours must be an integer >= 1, not {k!r}")
        if not self.params["l2"] > 0:
            raise ValueError(f"sparse_ease l2 must be > 0, not {self.params['l2']!r}")

    def fit(self, user_items: sp.csr_matrix) -> Self:
        matrix = sp.csr_matrix(user_items, dtype=np.float64)
        n_items = matrix.shape[1]
        k = min(self.params["k_neighbours"], max(n_items - 1, 1))
        # One more than k: an item's own co-occurrence is usually (not always) in its top list.
        knn = ItemItemRecommender(K=k + 1)
        with threadpool_limits(1, "blas"):
            knn.fit(matrix, show_progress=False)
        top = sp.csr_matrix(knn.similarity, dtype=np.float64)
        top.setdiag(0)
        top.eliminate_zeros()
        neighbours, _ = strongest_items(top, k)
        # Symmetric, as G is: a cell kept in either item's list is G's exact value.
        gram = top.maximum(top.T).tocsr()
        gram.sort_indices()
        diagonal = np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel()
        self.similarity = _regressions(gram, diagonal, neighbours, float(self.params["l2"]))
        self.n_items = n_items
        self.fitted = True
        return self


def _regressions(
    gram: sp.csr_matrix, diagonal: np.ndarray, neighbours: np.ndarray, l2: float
) -> sp.csr_matrix:
    """B (items x items, float32): column j holds item j's ridge weights over its neighbours
    (row i of B: what playing item i adds to each item it is a neighbour of)."""
    n_items = gram.shape[0]
    width = neighbours.shape[1]
    if width == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    # Each item's neighbours in ascending order (padding last, as the largest id): the
    # cells looked up for one item's system are then ascending keys, and the binary searches
    # walk the Gram matrix's memory in order (several times faster than random lookups).
    neighbours = np.sort(np.where(neighbours >= 0, neighbours, n_items), axis=1)
    neighbours[neighbours == n_items] = -1
    rows = np.repeat(np.arange(n_items, dtype=np.int64), np.diff(gram.indptr))
    keys = rows * n_items + gram.indices  # ascending: CSR with sorted columns
    values = gram.data
    block = max(1, SOLVE_BLOCK_CELLS // (width * width))
    weights = np.zeros(neighbours.shape, dtype=np.float32)
    # The systems are symmetric: look up the cells above the diagonal only (half the
    # searches), in row-major order, so that each item's keys stay ascending.
    upper_rows, upper_columns = np.triu_indices(width, 1)
    for start in range(0, n_items, block):
        items = np.arange(start, min(start + block, n_items))
        near = neighbours[items]
        present = near >= 0
        safe = np.where(present, near, n_items - 1)
        upper = _cells(keys, values, n_items, safe[:, upper_rows], safe[:, upper_columns])
        systems = np.zeros((len(items), width, width))
        systems[:, upper_rows, upper_columns] = upper
        systems[:, upper_columns, upper_rows] = upper
        targets = _cells(keys, values, n_items, safe, items[:, None])
        # Padding neighbours become identity rows with a 0 target: their weight is 0.
        pair = present[:, :, None] & present[:, None, :]
        systems = np.where(pair, systems, 0.0)
        targets = np.where(present, targets, 0.0)
        own = np.where(present, diagonal[safe] + l2, 1.0)
        systems[:, np.arange(width), np.arange(width)] = own
        weights[items] = np.linalg.solve(systems, targets[:, :, None])[:, :, 0]
    present = neighbours >= 0
    columns = np.broadcast_to(np.arange(n_items)[:, None], neighbours.shape)
    cells = (weights[present], (neighbours[present], columns[present]))
    return sp.csr_matrix(cells, shape=(n_items, n_items), dtype=np.float32)


def _cells(
    keys: np.ndarray, values: np.ndarray, n_items: int, rows: np.ndarray, columns: np.ndarray
) -> np.ndarray:
    """gram[rows, columns] (broadcast) from its sorted cell keys; 0 where no cell is kept."""
    wanted = rows.astype(np.int64) * n_items + columns
    if not len(keys):
        return np.zeros(wanted.shape)
    found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[found] == wanted, values[found], 0.0)
