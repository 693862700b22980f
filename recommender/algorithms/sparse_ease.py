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

# The items' small systems are solved in stacks of about this many matrix cells (k x k each),
# and a stack's neighbour positions (stack x items int32) take at most POSITION_CELLS.
SOLVE_BLOCK_CELLS = 4_000_000
POSITION_CELLS = 16_000_000


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
        neighbours, strengths = strongest_items(top, k)
        diagonal = np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel()
        self.similarity = _regressions(neighbours, strengths, diagonal, float(self.params["l2"]))
        self.n_items = n_items
        self.fitted = True
        return self


def _regressions(
    neighbours: np.ndarray, strengths: np.ndarray, diagonal: np.ndarray, l2: float
) -> sp.csr_matrix:
    """B (items x items, float32): column j holds item j's ridge weights over its neighbours
    (row i of B: what playing item i adds to each item it is a neighbour of).

    `neighbours` / `strengths`: each item's top co-occurring items and their G(i, j), -1 / 0
    padded. A cell G(p, q) of item j's system is known when q is among p's neighbours or p
    among q's (G is symmetric): it is read from p's list, placed by a position lookup (no
    search), and the system is made symmetric by taking the larger of the two readings."""
    n_items, width = neighbours.shape
    if width == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    block = max(1, min(SOLVE_BLOCK_CELLS // (width * width), POSITION_CELLS // n_items))
    # positions[b, i]: where item i stands among the block's b-th item's neighbours (-1: not
    # among them); reset after each block, so it is allocated once.
    positions = np.full((block, n_items), -1, dtype=np.int32)
    slots = np.arange(width, dtype=np.int32)
    weights = np.zeros(neighbours.shape, dtype=np.float32)
    for start in range(0, n_items, block):
        items = np.arange(start, min(start + block, n_items))
        near = neighbours[items]
        present = near >= 0
        owner = np.broadcast_to(np.arange(len(items))[:, None], near.shape)
        positions[owner[present], near[present]] = np.broadcast_to(slots, near.shape)[present]
        their = neighbours[np.maximum(near, 0)]  # each neighbour's own neighbours
        column = positions[np.arange(len(items))[:, None, None], np.maximum(their, 0)]
        positions[owner[present], near[present]] = -1
        inside = (column >= 0) & (their >= 0) & present[:, :, None]
        systems = np.zeros((len(items), width, width))
        b, p, _ = np.nonzero(inside)
        systems[b, p, column[inside]] = strengths[np.maximum(near, 0)][inside]
        systems = np.maximum(systems, systems.transpose(0, 2, 1))
        # Padding neighbours become identity rows with a 0 target: their weight is 0.
        own = np.where(present, diagonal[np.maximum(near, 0)] + l2, 1.0)
        systems[:, slots, slots] = own
        targets = np.where(present, strengths[items], 0.0)
        weights[items] = np.linalg.solve(systems, targets[:, :, None])[:, :, 0]
    present = neighbours >= 0
    columns = np.broadcast_to(np.arange(n_items)[:, None], neighbours.shape)
    cells = (weights[present], (neighbours[present], columns[present]))
    return sp.csr_matrix(cells, shape=(n_items, n_items), dtype=np.float32)
