"""Play counts -> confidence: each scheme exactly, and negative feedback."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms.weighting import confidence

COUNTS = sp.csr_matrix(np.array([[1, 2, 0], [0, 3, 1], [4, 0, 0], [0, 0, 2]], dtype=np.float32))


def test_raw_is_alpha_times_the_count():
    weighted = confidence(COUNTS, "raw", alpha=2.0)
    np.testing.assert_array_equal(weighted.toarray(), 2.0 * COUNTS.toarray())
    assert weighted.dtype == np.float32


def test_log_is_alpha_times_log1p_of_the_count():
    weighted = confidence(COUNTS, "log", alpha=3.0)
    expected = 3.0 * np.log1p(COUNTS.toarray())
    np.testing.assert_allclose(weighted.toarray(), expected, rtol=1e-6)
    assert weighted.dtype == np.float32 and weighted.nnz == COUNTS.nnz


def test_bm25_saturates_per_listener_and_weights_items_by_rarity():
    counts = COUNTS.toarray().astype(np.float64)
    k1, b = 100.0, 0.8
    idf = np.log(4) - np.log1p((counts > 0).sum(axis=0))
    row_sums = counts.sum(axis=1)
    length_norm = (1 - b) + b * row_sums / row_sums.mean()
    expected = counts * (k1 + 1) / (k1 * length_norm[:, None] + counts) * idf
    weighted = confidence(COUNTS, "bm25")
    np.testing.assert_allclose(weighted.toarray(), expected, rtol=1e-6)
    assert weighted.dtype == np.float32


def test_bm25_drops_an_item_every_listener_played():
    everyone = sp.csr_matrix(np.array([[1, 2], [3, 0], [1, 0]], dtype=np.float32))
    weighted = confidence(everyone, "bm25")
    assert weighted[:, 0].nnz == 0 and weighted[0, 1] > 0


def test_skips_are_subtracted_and_cells_left_non_positive_are_removed():
    plays = sp.csr_matrix(np.array([[3, 1, 0], [2, 0, 0]], dtype=np.float32))
    skips = sp.csr_matrix(np.array([[1, 1, 2], [0, 0, 0]], dtype=np.float32))
    weighted = confidence(plays, "raw", skips=skips, skip_penalty=0.5)
    np.testing.assert_allclose(weighted.toarray(), [[2.5, 0.5, 0], [2, 0, 0]])
    heavy = confidence(plays, "raw", skips=skips, skip_penalty=1.0)
    assert heavy.nnz == 2 and heavy.toarray().tolist() == [[2, 0, 0], [2, 0, 0]]
    assert np.all(heavy.data > 0) and heavy.dtype == np.float32


def test_an_unknown_scheme_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="raw, log, bm25"):
        confidence(COUNTS, "sqrt")


def test_refused_cells_are_removed_whatever_their_plays_and_the_skip_penalty():
    plays = sp.csr_matrix(np.array([[30, 1, 0], [2, 0, 0]], dtype=np.float32))
    refused = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0]], dtype=np.float32))
    weighted = confidence(plays, "raw", refused=refused, skip_penalty=0.0)
    assert weighted.toarray().tolist() == [[0, 1, 0], [2, 0, 0]] and weighted.nnz == 2
    with pytest.raises(ValueError, match="refused is"):
        confidence(plays, "raw", refused=refused[:1])


def test_item_knn_ranks_finitely_on_the_tiny_confidences_of_long_decayed_histories():
    from recommender import algorithms

    # Plays decayed by a 30-day half-life over ten years weigh about 4e-37: in float32
    # their squares are 0, which a cosine's norm must survive.
    tiny = np.float32(0.5 ** (10 * 365 / 30))
    counts = sp.csr_matrix(np.array([[tiny, tiny, 0], [tiny, 0, 1], [0, tiny, 1]], np.float32))
    for similarity in ("cosine", "tfidf", "bm25"):
        model = algorithms.create("item_knn", similarity=similarity).fit(confidence(counts))
        _, scores = model.recommend(np.arange(3), confidence(counts), 2, exclude_seen=False)
        assert np.isfinite(model.similarity.data).all(), similarity
        assert np.isfinite(scores).all(), similarity
