"""The contract every registered recommender passes, on a tiny matrix with a known answer."""

import implicit.utils
import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recommender.algorithms import ALGORITHMS, NotSupported, Recommender, create, load

# Every warning is an error here: implicit's BLAS-threads and CSR warnings included.
pytestmark = pytest.mark.filterwarnings("error")

NAMES = [
    "popularity",
    "item_knn",
    "rp3beta",
    "als",
    "bpr",
    "ease",
    "sparse_ease",
    "rating",
    "ncf",
    "blend",
]

# Small enough to fit in milliseconds, strong enough to learn the checkerboard every time.
TEST_PARAMS: dict[str, dict] = {
    "popularity": {},
    "item_knn": {"k_neighbours": 20},
    "rp3beta": {"k_neighbours": 20},
    "als": {"factors": 4, "regularization": 1.0},
    "bpr": {"factors": 16, "learning_rate": 0.05, "regularization": 0.05, "iterations": 500},
    "ease": {"l2": 10.0},
    "sparse_ease": {"l2": 10.0, "k_neighbours": 12},
    "rating": {"factors": 4, "epochs": 200, "learning_rate": 0.05, "regularization": 0.1},
    "blend": {
        "components": [
            {"algorithm": "popularity"},
            {"algorithm": "item_knn", "params": {"k_neighbours": 20}},
        ],
        "weights": [0.05, 1.0],
    },
    "ncf": {
        "factors": 8,
        "layers": [32, 16, 8],
        "epochs": 15,
        "batch_size": 128,
        "learning_rate": 0.01,
    },
}

GROUP_LISTENERS = 10
GROUP_ITEMS = 10


def checkerboard() -> tuple[sp.csr_matrix, np.ndarray]:
    """Two groups of listeners, two groups of items.

    Each listener played every item of their own group (10 plays) but one, held back and
    different for each listener of a group, and two items of the other group once. Returns
    log1p confidences and each listener's held-back item.
    """
    n_listeners, n_items = 2 * GROUP_LISTENERS, 2 * GROUP_ITEMS
    plays = np.zeros((n_listeners, n_items), dtype=np.float32)
    held_back = np.zeros(n_listeners, dtype=np.int64)
    for listener in range(n_listeners):
        group = listener // GROUP_LISTENERS
        own, other = group * GROUP_ITEMS, (1 - group) * GROUP_ITEMS
        plays[listener, own : own + GROUP_ITEMS] = 10
        held_back[listener] = own + listener % GROUP_ITEMS
        plays[listener, held_back[listener]] = 0
        plays[listener, other + (listener + 1) % GROUP_ITEMS] = 1
        plays[listener, other + (listener + 2) % GROUP_ITEMS] = 1
    return sp.csr_matrix(np.log1p(plays)), held_back


MATRIX, HELD_BACK = checkerboard()
LISTENERS = np.arange(MATRIX.shape[0])
N_ITEMS = MATRIX.shape[1]


@pytest.fixture(params=NAMES)
def name(request) -> str:
    if request.param not in ALGORITHMS:
        if request.param == "ncf":
            pytest.skip("torch is not installed")
        pytest.fail(f"{request.param} is not registered")
    return request.param


def build(name: str, seed: int = 0) -> Recommender:
    return create(name, seed=seed, **TEST_PARAMS[name])


_fitted: dict[str, Recommender] = {}


@pytest.fixture
def model(name: str) -> Recommender:
    if name not in _fitted:
        _fitted[name] = build(name).fit(MATRIX)
    return _fitted[name]


def test_every_registered_algorithm_is_under_contract():
    assert set(ALGORITHMS) <= set(NAMES)


def test_it_learns_the_known_answer(name, model):
    ids, _ = model.recommend(LISTENERS, MATRIX, k=3)
    if name == "popularity":
        # It cannot personalise: everyone gets the unseen items in order of total plays.
        popularity = np.asarray(MATRIX.sum(axis=0)).ravel()
        for listener in LISTENERS:
            unseen = np.setdiff1d(np.arange(N_ITEMS), MATRIX[listener].indices)
            assert popularity[ids[listener]].tolist() == sorted(popularity[unseen])[::-1][:3]
    else:
        assert ids[:, 0].tolist() == HELD_BACK.tolist()


def test_popularity_ranks_items_by_total_plays_or_by_listeners():
    plays = sp.csr_matrix(np.array([[5, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]], dtype=np.float32))
    new_listener = sp.csr_matrix((1, 4), dtype=np.float32)
    by_plays = create("popularity").fit(plays).recommend(np.array([0]), new_listener, k=4)
    by_listeners = create("popularity", by="listeners").fit(plays)
    assert by_plays[0][0].tolist() == [0, 2, 1, 3]
    assert by_listeners.recommend(np.array([0]), new_listener, k=2)[0][0].tolist() == [0, 2]


def test_output_has_one_row_per_listener_and_k_columns(model):
    ids, scores = model.recommend(LISTENERS[:5], MATRIX[:5], k=4)
    assert ids.shape == scores.shape == (5, 4)
    assert ids.dtype == np.int64 and scores.dtype == np.float32


def test_scores_never_increase_along_a_row(model):
    _, scores = model.recommend(LISTENERS, MATRIX, k=N_ITEMS, exclude_seen=False)
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_seen_items_are_excluded_unless_asked_for(model):
    ids, _ = model.recommend(LISTENERS, MATRIX, k=N_ITEMS)
    everything, _ = model.recommend(LISTENERS, MATRIX, k=N_ITEMS, exclude_seen=False)
    for listener in LISTENERS:
        seen = set(MATRIX[listener].indices)
        assert not seen & set(ids[listener].tolist())
        assert seen <= set(everything[listener].tolist())


def test_rows_are_padded_when_fewer_than_k_items_are_eligible(model):
    k = N_ITEMS + 3
    ids, scores = model.recommend(LISTENERS, MATRIX, k=k)
    eligible = N_ITEMS - MATRIX.getnnz(axis=1)
    for listener in LISTENERS:
        assert np.all(ids[listener, : eligible[listener]] >= 0)
        assert np.all(ids[listener, eligible[listener] :] == -1)
        assert np.all(np.isneginf(scores[listener, eligible[listener] :]))


def test_the_same_seed_gives_the_same_recommendations(name):
    first = build(name, seed=7).fit(MATRIX).recommend(LISTENERS, MATRIX, k=5)
    second = build(name, seed=7).fit(MATRIX).recommend(LISTENERS, MATRIX, k=5)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_allclose(first[1], second[1], rtol=1e-5)


def test_a_saved_model_loads_back_with_the_same_recommendations(model, tmp_path):
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = load(path)
    assert type(loaded) is type(model) and loaded.params == model.params
    expected = model.recommend(LISTENERS, MATRIX, k=5)
    actual = loaded.recommend(LISTENERS, MATRIX, k=5)
    np.testing.assert_array_equal(actual[0], expected[0])
    np.testing.assert_array_equal(actual[1], expected[1])


def test_an_unknown_parameter_is_refused_by_name(name):
    with pytest.raises(TypeError, match="no_such_knob"):
        create(name, no_such_knob=1)


def test_an_unknown_algorithm_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="nope") as error:
        create("nope")
    assert all(known in str(error.value) for known in ALGORITHMS)


def test_similar_items_work_or_say_they_are_not_supported(model):
    items = np.array([0, 5, 12])
    try:
        ids, scores = model.similar_items(items, k=4)
    except NotSupported:
        return
    assert ids.shape == scores.shape == (3, 4)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert not np.any(ids == items[:, None])
    assert np.all(np.diff(scores, axis=1) <= 0)


@pytest.mark.parametrize("implicit_model", ["item_knn", "als", "bpr", "sparse_ease"])
def test_implicit_models_fit_without_a_blas_threads_warning(implicit_model, monkeypatch):
    # Simulate a process where BLAS may use two threads and implicit has not warned yet.
    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with threadpool_limits(2, "blas"):
        build(implicit_model).fit(MATRIX)


def test_every_reason_is_an_item_the_listener_played(name, model):
    ids, _ = model.recommend(LISTENERS, MATRIX, k=5)
    reasons = model.reasons(MATRIX, ids)
    assert reasons.shape == ids.shape
    for listener in LISTENERS:
        played = set(MATRIX[listener].indices)
        given = [reason for reason in reasons[listener] if reason >= 0]
        assert set(given) <= played
    if name in {"popularity", "rating", "ncf"}:
        assert (reasons == -1).all()  # these models cannot say why
    else:
        assert (reasons[ids >= 0] >= 0).mean() > 0.9


@pytest.mark.parametrize("linear_model", ["item_knn", "rp3beta", "ease", "sparse_ease"])
@pytest.mark.parametrize("max_sources", [3, 20])
def test_linear_models_name_the_played_item_that_adds_most_to_the_score(linear_model, max_sources):
    params = {"ease": {"l2": 10.0}, "sparse_ease": {"l2": 10.0, "k_neighbours": 3}}.get(
        linear_model, {"k_neighbours": 3}
    )
    model = create(linear_model, **params).fit(MATRIX)
    ids, _ = model.recommend(LISTENERS, MATRIX, k=N_ITEMS + 2)
    reasons = model.reasons(MATRIX, ids, max_sources=max_sources)
    weights = model.weights if linear_model == "ease" else model.similarity.toarray()
    for listener in LISTENERS[:4]:
        row = MATRIX[listener].toarray()[0]
        strongest = np.argsort(-row, kind="stable")[:max_sources]
        considered = np.zeros_like(row)
        considered[strongest] = row[strongest]
        for item, reason in zip(ids[listener], reasons[listener], strict=True):
            contributions = considered * weights[:, item]
            if item >= 0 and contributions.max() > 0:
                assert reason == np.argmax(contributions) and row[reason] > 0
            else:
                assert reason == -1


def test_bpr_refuses_listeners_it_was_not_trained_on():
    model = build("bpr").fit(MATRIX)
    with pytest.raises(ValueError, match=r"only knows the 20 listeners .* unknown: \[20\]"):
        model.recommend(np.array([20]), MATRIX[:1], k=3)


# -- reasons spread over the listener's items (what publishing and refresh ask for) -----------


def test_every_spread_reason_is_a_played_item_that_contributes_to_the_suggestion(name, model):
    ids, _ = model.recommend(LISTENERS, MATRIX, k=12)
    reasons = model.reasons(MATRIX, ids, spread=3)
    assert reasons.shape == ids.shape
    if name in {"popularity", "rating", "ncf"}:
        assert (reasons == -1).all()
        return
    for listener in LISTENERS:
        row = MATRIX[listener].toarray()[0]
        given = reasons[listener] >= 0
        assert set(reasons[listener][given]) <= set(MATRIX[listener].indices)
        weights = model.affinity(reasons[listener][given][None, :], ids[listener][given][None, :])
        contributions = row[reasons[listener][given]] * np.diagonal(weights[0])
        assert (contributions > 0).all()
    assert (reasons[ids >= 0] >= 0).mean() > 0.9


def hub_case() -> tuple[sp.csr_matrix, int]:
    """One hub item everyone plays (item 0), six seed items each with two items of its own
    that its listeners play; the last listener played the hub 100 times and each seed once:
    by largest share the hub explains most suggestions (returns the listener's row). Their
    12 suggestions tie; whichever order ties come in, each seed leads to at most 2 of them,
    so the spread has a contributing seed for every slot the hub's cap closes to it."""
    n_seeds, per_seed, per_group = 6, 2, 8
    n_items = 1 + n_seeds + n_seeds * per_seed
    plays = []
    for seed in range(n_seeds):
        own = 1 + n_seeds + seed * per_seed
        for _ in range(per_group):
            row = np.zeros(n_items, dtype=np.float32)
            row[0], row[1 + seed], row[own : own + per_seed] = 5, 3, 3
            plays.append(row)
    listener = np.zeros(n_items, dtype=np.float32)
    listener[0], listener[1 : 1 + n_seeds] = 100, 1
    plays.append(listener)
    return sp.csr_matrix(np.log1p(np.array(plays))), len(plays) - 1


# EASE is left out: its regression already gives an item everyone plays little or negative
# weight, so on this case the hub does not win by largest share there to begin with.
@pytest.mark.parametrize("linear_model", ["item_knn", "rp3beta"])
def test_a_hub_item_does_not_explain_most_of_the_first_12_when_other_seeds_contribute(
    linear_model,
):
    matrix, listener = hub_case()
    model = create(linear_model, k_neighbours=40).fit(matrix)
    ids, _ = model.recommend(np.array([listener]), matrix[listener], k=12)
    assert (ids >= 0).sum() == 12
    largest = model.reasons(matrix[listener], ids)
    spread = model.reasons(matrix[listener], ids, spread=3)
    assert (largest[0] == 0).sum() > 6  # the case is real: by largest share the hub wins
    assert (spread[0] == 0).sum() <= 3 and (spread[0] >= 0).all()
    assert len(set(spread[0].tolist())) >= 4
    row = matrix[listener].toarray()[0]
    weights = model.affinity(spread, ids)[0]
    assert (row[spread[0]] * np.diagonal(weights) > 0).all()  # each still contributes
