"""Ranking without a dense listeners x catalogue block gives the lists the dense ranking gives.

Neighbourhood models rank from their sparse product, popularity from its one order, and the
rank-fused blend from its components' own top lists; `Recommender._rank` on the dense scores
is the reference. Scores are compared (equal scores may come in either order).
"""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import create
from recommender.algorithms.base import Recommender, top_k_positive

pytestmark = pytest.mark.filterwarnings("error")

N_LISTENERS, N_ITEMS = 600, 2_000


@pytest.fixture(scope="module")
def plays() -> sp.csr_matrix:
    """Zipf-like popularity, continuous confidences (no ties), some listeners with one play
    (their rows reach fewer items than a list holds) and one who played nothing."""
    rng = np.random.default_rng(3)
    popularity = 1 / np.arange(1, N_ITEMS + 1) ** 0.9
    rows = rng.integers(1, N_LISTENERS, 20_000)
    columns = rng.choice(N_ITEMS, 20_000, p=popularity / popularity.sum())
    matrix = sp.csr_matrix(
        (rng.uniform(0.5, 3.0, 20_000).astype(np.float32), (rows, columns)),
        shape=(N_LISTENERS, N_ITEMS),
    )
    matrix.sum_duplicates()
    for listener in range(1, 40):  # one play each: short rows
        matrix.data[matrix.indptr[listener] + 1 : matrix.indptr[listener + 1]] = 0
    matrix.eliminate_zeros()
    return matrix


def dense_reference(model: Recommender, rows: sp.csr_matrix, k: int, exclude_seen: bool):
    users = np.arange(rows.shape[0])
    if model.name == "blend":
        depth = max(model.params["rrf_depth"], k)

        def scorer(ids, block):
            return model._scores(ids, block, played_last=exclude_seen, depth=depth)
    else:
        scorer = model._scores
    return Recommender._rank(model, users, rows, k, exclude_seen, scorer)


MODELS = {
    "popularity": {},
    "item_knn": {"k_neighbours": 30},
    "rp3beta": {"k_neighbours": 30},
    "sparse_ease": {"l2": 50.0, "k_neighbours": 20},  # negative weights too
}
BLEND = {
    "components": [
        {"algorithm": "item_knn", "params": {"k_neighbours": 30}},
        {"algorithm": "popularity"},
        {"algorithm": "als", "params": {"factors": 8}},
    ],
    "weights": [1.0, 0.2, 0.5],
    "rrf_depth": 40,
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("k", [10, 100])
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_the_lists_are_those_of_the_dense_ranking(plays, name, k, exclude_seen):
    model = create(name, **MODELS[name]).fit(plays)
    users = np.arange(plays.shape[0])
    ids, scores = model.recommend(users, plays, k, exclude_seen=exclude_seen)
    want_ids, want_scores = dense_reference(model, plays, k, exclude_seen)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-7)
    assert ((ids >= 0) == (want_ids >= 0)).all()
    if exclude_seen:
        listed = ids >= 0
        played = plays.toarray()[users[:, None], np.maximum(ids, 0)] != 0
        assert not (played & listed).any()
    # The same items where the scores differ from their neighbours' (no tie to reorder).
    unique = np.isfinite(want_scores) & (np.diff(want_scores, axis=1, prepend=np.inf) != 0)
    unique &= np.diff(want_scores, axis=1, append=-np.inf) != 0
    assert (ids[unique] == want_ids[unique]).mean() > 0.999


@pytest.mark.parametrize("k", [10, 100])
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_the_blend_fuses_its_components_own_top_lists(plays, k, exclude_seen):
    """Each component's top max(depth, k) list votes 1 / (c + rank) times its weight; the
    blend's list is the most voted items. (Against the dense fusion the lists differ only
    where a component's equal scores come in another order, so another rank and vote.)"""
    model = create("blend", **BLEND).fit(plays)
    users = np.arange(plays.shape[0])
    ids, scores = model.recommend(users, plays, k, exclude_seen=exclude_seen)
    depth = max(BLEND["rrf_depth"], k)
    votes = np.zeros(plays.shape)
    for component, weight in zip(model.components, BLEND["weights"], strict=True):
        listed, _ = component.recommend(users, plays, depth, exclude_seen=exclude_seen)
        ranked = listed >= 0
        rank = np.broadcast_to(np.arange(1, depth + 1), listed.shape)
        np.add.at(votes, (np.nonzero(ranked)[0], listed[ranked]), weight / (60.0 + rank[ranked]))
    want = -np.sort(-votes, axis=1)[:, :k]
    full = (votes > 0).sum(axis=1) >= k  # the other rows are ranked densely (checked below)
    np.testing.assert_allclose(scores[full], want[full], rtol=1e-5)
    np.testing.assert_allclose(votes[users[full, None], ids[full]], want[full], rtol=1e-5)
    want_ids, _ = dense_reference(model, plays, k, exclude_seen)
    first = [len(set(a) & set(b)) / 10 for a, b in zip(ids[:, :10], want_ids[:, :10], strict=True)]
    assert np.mean(first) > 0.95


def test_a_listener_who_played_nothing_still_gets_a_full_list(plays):
    # Row 0 is empty: the sparse product stores nothing, so the dense ranking pads it.
    model = create("item_knn", k_neighbours=30).fit(plays)
    ids, _ = model.recommend(np.array([0]), plays[[0]], 10)
    assert (ids >= 0).all()


def test_top_k_positive_keeps_the_k_best_stored_positive_cells_best_first():
    scores = sp.csr_matrix(
        np.array(
            [
                [0.0, 3.0, -1.0, 2.0, 5.0],  # three positive cells: k = 2 of them
                [0.0, -2.0, 0.0, 1.0, 0.0],  # one: not enough for k = 2
                [0.0, 0.0, 0.0, 0.0, 0.0],  # none
            ],
            dtype=np.float32,
        )
    )
    ids, best, enough = top_k_positive(scores, 2)
    assert ids.tolist() == [[4, 1], [3, -1], [-1, -1]]
    assert best[0].tolist() == [5.0, 3.0] and best[1, 0] == 1.0 and np.isneginf(best[2]).all()
    assert enough.tolist() == [True, False, False]


@pytest.mark.parametrize("name", ["item_knn", "rp3beta", "sparse_ease"])
def test_similar_items_are_the_strongest_stored_neighbours_as_a_dense_row_gives(plays, name):
    from recommender.algorithms.base import similar_by_scores

    model = create(name, **MODELS[name]).fit(plays)
    items = np.arange(0, N_ITEMS, 7)
    ids, scores = model.similar_items(items, 15)
    dense = model.similarity[items].toarray()
    dense[dense == 0] = -np.inf  # outside the neighbourhood: not similar at all
    want_ids, want_scores = similar_by_scores(dense, items, 15)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6)
    assert ((ids >= 0) == (want_ids >= 0)).all() and not (ids == items[:, None]).any()
