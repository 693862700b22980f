"""Play counts -> confidence: how sure we are that a listener likes a song (no Django).

The implicit-feedback models read a cell's value as confidence, not as a rating: a song
played 50 times is surely liked, but not 50 times more than one played once. The matrix
builder may pre-weight recent plays (time decay) in the counts it passes here.
"""

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import bm25_weight

SCHEMES = ("raw", "log", "bm25")
BM25_K1 = 100.0
BM25_B = 0.8


def confidence(
    play_counts: sp.csr_matrix,
    scheme: str = "log",
    alpha: float = 1.0,
    skips: sp.csr_matrix | None = None,
    skip_penalty: float = 1.0,
    refused: sp.csr_matrix | None = None,
) -> sp.csr_matrix:
    """Weight a listeners x items matrix of play counts into float32 confidences.

    Schemes (`alpha` scales each of them):
    - "raw": alpha * count.
    - "log": alpha * log1p(count); the usual choice, it damps heavy rotation.
    - "bm25": alpha * implicit's `bm25_weight(counts, K1=100, B=0.8)` on the listeners x items
      matrix: counts saturate per listener (long histories are length-normalised) and
      items are weighted by inverse listener frequency. An item that nearly every listener
      played gets an idf <= 0, so its cells are dropped by the rule below.

    Negative feedback: `skips` (same shape; for each cell, how often the listener skipped the
    song) is subtracted as skip_penalty * skips after weighting. `refused` (same shape,
    non-zero where the listener said "not for me") removes its cells whatever their plays
    and whatever the skip penalty: a listener's word outweighs any count. A cell whose
    confidence ends <= 0 is removed (eliminate_zeros): the models treat it as unplayed,
    which is what a skipped or refused song is.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown weighting scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    counts = sp.csr_matrix(play_counts, dtype=np.float32)
    if scheme == "raw":
        weighted = counts.copy()
    elif scheme == "log":
        weighted = counts.copy()
        weighted.data = np.log1p(weighted.data)
    else:
        weighted = sp.csr_matrix(bm25_weight(counts, K1=BM25_K1, B=BM25_B), dtype=np.float32)
    weighted = weighted * np.float32(alpha)
    if skips is not None:
        if skips.shape != counts.shape:
            raise ValueError(f"skips is {skips.shape}, play_counts is {counts.shape}")
        weighted = weighted - sp.csr_matrix(skips, dtype=np.float32) * np.float32(skip_penalty)
    weighted = sp.csr_matrix(weighted, dtype=np.float32)
    if refused is not None:
        if refused.shape != counts.shape:
            raise ValueError(f"refused is {refused.shape}, play_counts is {counts.shape}")
        weighted = sp.csr_matrix(weighted - weighted.multiply(refused != 0), dtype=np.float32)
    weighted.data[weighted.data <= 0] = 0
    weighted.eliminate_zeros()
    weighted.sort_indices()
    return weighted
