"""EASE^R: the closed form, and its refusal of catalogues too big for a dense matrix."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import create


def test_it_refuses_more_items_than_max_items_and_says_how_big_it_would_be():
    matrix = sp.csr_matrix(np.ones((3, 6), dtype=np.float32))
    with pytest.raises(ValueError, match=r"max_items=5 .* 6 x 6 .*GB") as error:
        create("ease", max_items=5).fit(matrix)
    assert "items² x 4 bytes" in str(error.value)


def test_the_weights_have_a_zero_diagonal(rng):
    matrix = sp.random(30, 12, density=0.3, format="csr", random_state=rng, dtype=np.float32)
    model = create("ease", l2=5.0).fit(matrix)
    assert np.all(np.diag(model.weights) == 0)


def test_it_matches_a_direct_computation(rng):
    matrix = sp.random(25, 8, density=0.4, format="csr", random_state=rng, dtype=np.float32)
    dense = matrix.toarray().astype(np.float64)
    inverse = np.linalg.inv(dense.T @ dense + 3.0 * np.eye(8))
    expected = -inverse / np.diag(inverse)
    np.fill_diagonal(expected, 0.0)
    model = create("ease", l2=3.0).fit(matrix)
    np.testing.assert_allclose(model.weights, expected, rtol=1e-4, atol=1e-6)
    _, scores = model.recommend(np.arange(25), matrix, k=8, exclude_seen=False)
    best_first = -np.sort(-(dense @ expected), axis=1)
    np.testing.assert_allclose(scores, best_first, rtol=1e-4, atol=1e-6)


def test_binary_ease_sees_only_whether_an_item_was_played():
    rng = np.random.default_rng(4)
    plays = sp.csr_matrix((rng.random((30, 12)) < 0.3) * rng.integers(1, 50, size=(30, 12)))
    ones = plays.copy()
    ones.data[:] = 1.0
    binary = create("ease", l2=5.0, binary=True).fit(sp.csr_matrix(np.log1p(plays.toarray())))
    plain = create("ease", l2=5.0).fit(ones)
    np.testing.assert_allclose(binary.weights, plain.weights, rtol=1e-5, atol=1e-6)
    rows = np.arange(4)
    np.testing.assert_array_equal(
        binary.recommend(rows, plays[:4], k=5)[0], plain.recommend(rows, ones[:4], k=5)[0]
    )
