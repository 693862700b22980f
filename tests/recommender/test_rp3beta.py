"""RP3beta's item weights against the formula computed densely, and its blocked build."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import create, rp3beta


def dense_rp3beta(plays: np.ndarray, alpha: float, beta: float, keep: int) -> np.ndarray:
    """The definition, written out on dense arrays: W = (P_iu^a · P_ui^a) / pop^b, top keep."""
    to_items = plays / plays.sum(axis=1, keepdims=True)
    to_listeners = plays.T / plays.T.sum(axis=1, keepdims=True)
    weights = (to_listeners**alpha) @ (to_items**alpha)
    weights /= ((plays > 0).sum(axis=0) ** beta)[None, :]
    np.fill_diagonal(weights, 0.0)
    for row in weights:
        row[np.argsort(-row, kind="stable")[keep:]] = 0.0
    return weights


@pytest.fixture
def plays(rng) -> np.ndarray:
    matrix = (rng.random((40, 25)) < 0.3) * rng.integers(1, 9, size=(40, 25))
    matrix[:, 0] = 3  # every listener played item 0: nobody is empty, item 0 is a hit
    return matrix.astype(np.float64)


@pytest.mark.parametrize(("alpha", "beta", "keep"), [(1.0, 0.0, 24), (0.5, 0.3, 24), (0.7, 0.5, 5)])
def test_the_weights_follow_the_definition(plays, alpha, beta, keep):
    model = create("rp3beta", alpha=alpha, beta=beta, k_neighbours=keep).fit(sp.csr_matrix(plays))
    expected = dense_rp3beta(plays, alpha, beta, keep)
    assert model.similarity.toarray() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_beta_pushes_the_hit_down_the_list(plays):
    flat = create("rp3beta", beta=0.0).fit(sp.csr_matrix(plays))
    discounted = create("rp3beta", beta=0.9).fit(sp.csr_matrix(plays))
    rank_of_hit = [
        int(np.flatnonzero(np.argsort(-model.similarity[1].toarray()[0]) == 0)[0])
        for model in (flat, discounted)
    ]
    assert rank_of_hit[1] > rank_of_hit[0]


def test_building_in_blocks_gives_the_same_weights(plays, monkeypatch):
    whole = create("rp3beta", k_neighbours=7).fit(sp.csr_matrix(plays)).similarity
    monkeypatch.setattr(rp3beta, "SCORE_BLOCK_CELLS", 3 * plays.shape[1])
    blocked = create("rp3beta", k_neighbours=7).fit(sp.csr_matrix(plays)).similarity
    assert (whole != blocked).nnz == 0


@pytest.mark.parametrize("params", [{"alpha": 0.0}, {"k_neighbours": 0}])
def test_it_refuses_settings_without_meaning(params):
    with pytest.raises(ValueError, match="rp3beta needs alpha > 0"):
        create("rp3beta", **params)
