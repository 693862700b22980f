"""RP3beta (Paudel et al. 2016): three-step random walks, popular items discounted (no Django)."""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from .base import SCORE_BLOCK_CELLS, top_k_positive
from .neighbourhood import Neighbourhood


def row_stochastic(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its sum (an all-zero row stays zero)."""
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)


# Items walked from at a time: a block's weights are sparse, so more than a dense block's.
FIT_BLOCK_CELLS = 4 * SCORE_BLOCK_CELLS


class RP3Beta(Neighbourhood):
    """Item-to-item weights from a random walk item -> listener -> item on the play graph.

    With P_ui the listener-to-item and P_iu the item-to-listener transition probabilities
    (rows of the confidences, and of their transpose, scaled to sum to 1), each raised to
    the power `alpha`: W = P_iu · P_ui, column j divided by popularity(j)^`beta` (its number
    of listeners), the diagonal dropped and only each item's `k_neighbours` strongest kept.
    A listener's score for j is sum over played items i of confidence(i) * W(i, j).
    alpha < 1 flattens the walk, beta > 0 lifts the long tail. Deterministic (seed unused);
    W is built a block of items at a time from the sparse walk, each item's strongest found
    among the items its walk reaches.
    """

    name: ClassVar[str] = "rp3beta"
    defaults: ClassVar[Mapping[str, Any]] = {"alpha": 0.7, "beta": 0.35, "k_neighbours": 200}

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        if self.params["alpha"] <= 0 or self.params["k_neighbours"] < 1:
            raise ValueError("rp3beta needs alpha > 0 and k_neighbours >= 1")

    def fit(self, user_items: sp.csr_matrix) -> Self:
        matrix = sp.csr_matrix(user_items, dtype=np.float64)
        matrix.eliminate_zeros()
        n_items = matrix.shape[1]
        to_items = row_stochastic(matrix)
        to_listeners = row_stochastic(sp.csr_matrix(matrix.T))
        to_items.data **= self.params["alpha"]
        to_listeners.data **= self.params["alpha"]
        popularity = np.maximum(np.diff(sp.csc_matrix(matrix).indptr), 1).astype(np.float64)
        discount = popularity ** -float(self.params["beta"])
        keep = min(int(self.params["k_neighbours"]), max(n_items - 1, 1))
        scale = sp.diags(discount)
        block = max(1, FIT_BLOCK_CELLS // max(n_items, 1))
        empty = np.zeros(0, dtype=np.int64)
        rows, cols, values = [empty], [empty], [np.zeros(0)]
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            # The walk reaches few items from most items: the block stays sparse, and each
            # row's strongest are found among the items it reaches (not the whole catalogue).
            walk = (to_listeners[start:stop] @ to_items @ scale).tocoo()
            other = walk.row + start != walk.col  # an item is not its own neighbour
            weights = sp.csr_matrix(
                (walk.data[other], (walk.row[other], walk.col[other])), shape=walk.shape
            )
            top, kept, _ = top_k_positive(weights, keep)
            found = top >= 0
            rows.append(np.repeat(np.arange(start, stop), found.sum(axis=1)))
            cols.append(top[found])
            values.append(kept[found].astype(np.float64))
        cells = (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols)))
        self.similarity = sp.csr_matrix(cells, shape=(n_items, n_items), dtype=np.float32)
        self.n_items = n_items
        self.fitted = True
        return self
