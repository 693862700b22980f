"""The metrics: hand-computed cases, the edge cases, a published implementation, properties."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.evaluation import metrics
from recommender.evaluation.metrics import (
    catalogue_coverage,
    f1_at_k,
    hit_rate_at_k,
    intra_list_diversity,
    mae,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    popularity_bias,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    rmse,
)

RANKING = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "f1": f1_at_k,
    "map": map_at_k,
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
    "mrr": mrr_at_k,
}

# Three listeners, items 0..8. At k = 3:
#   ann: top 3 = [0, 1, 2], relevant {0, 2}: hits at ranks 1 and 3
#   bob: top 3 = [4, 5, 6], relevant {8}:    no hit
#   cy:  top 3 = [1, 3, 5], relevant {3, 7}: a hit at rank 2
RECOMMENDED = {"ann": [0, 1, 2, 3], "bob": [4, 5, 6, 7], "cy": [1, 3, 5, 7]}
RELEVANT = {"ann": {0, 2}, "bob": {8}, "cy": {3, 7}}
INV_LOG2_3 = 1 / math.log2(3)  # the discount at rank 2
EXPECTED_AT_3 = {
    # (2/3 + 0 + 1/3) / 3
    "precision": 1 / 3,
    # (2/2 + 0/1 + 1/2) / 3
    "recall": 0.5,
    # 2 * (1/3) * (1/2) / (1/3 + 1/2) = (1/3) / (5/6)
    "f1": 0.4,
    # ann (1/1 + 2/3) / min(3, 2) = 5/6; bob 0; cy (1/2) / min(3, 2) = 1/4 -> (5/6 + 1/4) / 3
    "map": 13 / 36,
    # ann (1 + 1/log2(4)) / (1 + 1/log2(3)); cy (1/log2(3)) / (1 + 1/log2(3)); bob 0
    "ndcg": ((1 + 0.5) / (1 + INV_LOG2_3) + INV_LOG2_3 / (1 + INV_LOG2_3)) / 3,
    # ann and cy hit
    "hit_rate": 2 / 3,
    # ann 1/1, bob 0, cy 1/2
    "mrr": 0.5,
}
# At k = 4 ann's top 4 hits at ranks 1 and 3, cy's at ranks 2 and 4.
EXPECTED_AT_4 = {
    "precision": (2 / 4 + 0 + 2 / 4) / 3,
    "recall": (1 + 0 + 1) / 3,
    "map": ((1 + 2 / 3) / 2 + 0 + (1 / 2 + 2 / 4) / 2) / 3,  # = 4/9
    "mrr": 0.5,
}


def as_arrays(
    recommended: dict, relevant: dict, n_items: int, width: int
) -> tuple[np.ndarray, sp.csr_matrix]:
    """The mapping inputs as the vectorised path takes them (listeners in the mapping's order)."""
    listeners = list(relevant)
    ids = np.full((len(listeners), width), -1, dtype=np.int64)
    rows = np.zeros((len(listeners), n_items), dtype=bool)
    for row, listener in enumerate(listeners):
        top = list(recommended.get(listener, []))[:width]
        ids[row, : len(top)] = top
        rows[row, list(relevant[listener])] = True
    return ids, sp.csr_matrix(rows)


@pytest.mark.parametrize("name", list(EXPECTED_AT_3))
def test_each_ranking_metric_matches_the_hand_computed_value_at_3(name):
    assert RANKING[name](RECOMMENDED, RELEVANT, 3) == pytest.approx(EXPECTED_AT_3[name])


@pytest.mark.parametrize("name", list(EXPECTED_AT_4))
def test_each_ranking_metric_matches_the_hand_computed_value_at_4(name):
    assert RANKING[name](RECOMMENDED, RELEVANT, 4) == pytest.approx(EXPECTED_AT_4[name])


def test_the_vectorised_path_gives_the_hand_computed_values():
    ids, relevant = as_arrays(RECOMMENDED, RELEVANT, n_items=9, width=4)
    result = ranking_metrics(ids, relevant, [3])
    assert result == pytest.approx({f"{name}@3": value for name, value in EXPECTED_AT_3.items()})


def test_no_hits_score_zero_everywhere():
    recommended = {"ann": [1, 2, 3]}
    relevant = {"ann": {7}}
    for metric in RANKING.values():
        assert metric(recommended, relevant, 3) == 0.0


def test_fewer_relevant_items_than_k_can_still_reach_one_except_precision():
    # One relevant item, found at rank 1 of 3: precision 1/3, the rest 1.
    recommended, relevant = {"ann": [5, 6, 7]}, {"ann": {5}}
    assert precision_at_k(recommended, relevant, 3) == pytest.approx(1 / 3)
    for name in ("recall", "map", "ndcg", "hit_rate", "mrr"):
        assert RANKING[name](recommended, relevant, 3) == pytest.approx(1.0)


def test_fewer_recommendations_than_k_still_divide_precision_by_k():
    # One recommendation [5], relevant {5, 6}, k = 5:
    recommended, relevant = {"ann": [5]}, {"ann": {5, 6}}
    assert precision_at_k(recommended, relevant, 5) == pytest.approx(1 / 5)
    assert recall_at_k(recommended, relevant, 5) == pytest.approx(1 / 2)
    # AP = (1/1) / min(5, 2)
    assert map_at_k(recommended, relevant, 5) == pytest.approx(1 / 2)
    # DCG = 1, IDCG = 1 + 1/log2(3)
    assert ndcg_at_k(recommended, relevant, 5) == pytest.approx(1 / (1 + INV_LOG2_3))
    assert mrr_at_k(recommended, relevant, 5) == 1.0


def test_a_listener_without_recommendations_scores_zero():
    # ann scores 1 at k = 1, bob has no list and scores 0.
    recommended = {"ann": [1]}
    relevant = {"ann": {1}, "bob": {2}}
    for metric in RANKING.values():
        assert metric(recommended, relevant, 1) == pytest.approx(0.5)


def test_listeners_without_relevant_items_are_left_out():
    recommended = {"ann": [1], "bob": [5]}
    relevant = {"ann": {1}, "bob": set()}
    assert precision_at_k(recommended, relevant, 1) == 1.0
    ids, matrix = as_arrays(recommended, relevant, n_items=6, width=1)
    assert ranking_metrics(ids, matrix, [1])["precision@1"] == 1.0


@pytest.mark.parametrize("relevant", [{}, {"ann": set()}])
def test_no_relevant_listener_at_all_scores_zero(relevant):
    for metric in RANKING.values():
        assert metric({"ann": [1]}, relevant, 5) == 0.0
    ids, matrix = as_arrays({"ann": [1]}, relevant, n_items=3, width=2)
    assert set(ranking_metrics(ids, matrix, [5]).values()) == {0.0}


def test_k_below_one_and_a_repeated_item_are_errors():
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k(RECOMMENDED, RELEVANT, 0)
    with pytest.raises(ValueError, match="repeats"):
        precision_at_k({"ann": [1, 1]}, {"ann": {1}}, 2)
    with pytest.raises(ValueError, match="repeats"):
        ranking_metrics(np.array([[1, 1]]), sp.csr_matrix(np.array([[0, 1]])), [2])


def test_per_user_values_line_up_with_the_kept_rows():
    ids, relevant = as_arrays(RECOMMENDED, RELEVANT, n_items=9, width=4)
    per_user = ranking_metrics(ids, relevant, [3], per_user=True)
    np.testing.assert_array_equal(per_user["users"], [0, 1, 2])
    np.testing.assert_allclose(per_user["precision@3"], [2 / 3, 0, 1 / 3])
    np.testing.assert_allclose(per_user["mrr@3"], [1, 0, 1 / 2])
    assert "f1@3" not in per_user


def test_a_k_beyond_the_recommended_width_sees_only_the_given_slots():
    ids, relevant = as_arrays(RECOMMENDED, RELEVANT, n_items=9, width=4)
    result = ranking_metrics(ids, relevant, [10])
    assert result["precision@10"] == pytest.approx(precision_at_k(RECOMMENDED, RELEVANT, 10))
    assert result["recall@10"] == pytest.approx(2 / 3)


# -- RecBole's published test values (tests/metrics/test_topk_metrics.py) ------------------------
# RecBole states its cases as a hit table (is slot j of listener u relevant?) and each
# listener's number of relevant items, and gives every metric at k = 1, 2, 3 per listener.
# The lists below realise that table: listener u is recommended [10u, 10u + 1, 10u + 2];
# its relevant items are the hit slots plus unrecommended items up to its count.
RECBOLE_HITS = [[0, 0, 0], [1, 1, 1], [1, 0, 1], [0, 0, 1]]
RECBOLE_N_RELEVANT = [1, 3, 4, 2]
L2, L3, L4 = 1 / np.log2(2), 1 / np.log2(3), 1 / np.log2(4)
RECBOLE_EXPECTED = {
    "hit_rate": [[0, 0, 0], [1, 1, 1], [1, 1, 1], [0, 0, 1]],
    "mrr": [[0, 0, 0], [1, 1, 1], [1, 1, 1], [0, 0, 1 / 3]],
    "precision": [[0, 0, 0], [1, 1, 1], [1, 1 / 2, 2 / 3], [0, 0, 1 / 3]],
    "recall": [[0, 0, 0], [1 / 3, 2 / 3, 1], [1 / 4, 1 / 4, 2 / 4], [0, 0, 1 / 2]],
    "map": [[0, 0, 0], [1, 1, 1], [1, 1 / 2, (1 / 3) * (1 + 2 / 3)], [0, 0, (1 / 3) * (1 / 2)]],
    "ndcg": [
        [0, 0, 0],
        [1, 1, 1],
        [1, L2 / (L2 + L3), (L2 + L4) / (L2 + L3 + L4)],
        [0, 0, L4 / (L2 + L3)],
    ],
}


def recbole_case() -> tuple[dict[int, list[int]], dict[int, set[int]]]:
    recommended, relevant = {}, {}
    for user, (hits, n_relevant) in enumerate(zip(RECBOLE_HITS, RECBOLE_N_RELEVANT, strict=True)):
        recommended[user] = [10 * user + slot for slot in range(3)]
        chosen = {10 * user + slot for slot, hit in enumerate(hits) if hit}
        extra = [10 * user + 5 + index for index in range(n_relevant - len(chosen))]
        relevant[user] = chosen | set(extra)
    return recommended, relevant


@pytest.mark.parametrize("name", list(RECBOLE_EXPECTED))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_both_paths_reproduce_recboles_published_values(name, k):
    recommended, relevant = recbole_case()
    expected = np.array(RECBOLE_EXPECTED[name], dtype=np.float64)[:, k - 1]
    ids, matrix = as_arrays(recommended, relevant, n_items=40, width=3)
    per_user = ranking_metrics(ids, matrix, [k], per_user=True)
    assert per_user[f"{name}@{k}"] == pytest.approx(expected)
    assert RANKING[name](recommended, relevant, k) == pytest.approx(expected.mean())


def test_coverage_reproduces_recboles_published_value():
    # RecBole's itemcoverage case: five lists of three over 8 items reach 7 of them.
    lists = np.array([[5, 7, 3], [4, 5, 2], [2, 3, 5], [1, 4, 6], [5, 3, 7]])
    assert catalogue_coverage(lists, n_items=8, k=3) == pytest.approx(7 / 8)


# -- implicit's evaluation, run here as an independent published implementation ---------------


class FixedLists:
    """Stands in for an implicit model: returns given lists, best first."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids

    def recommend(self, userid, user_items, N=10, **kwargs):
        ids = self.ids[np.asarray(userid)][:, :N].astype(np.int32)
        return ids, np.tile(-np.arange(N, dtype=np.float32), (len(ids), 1))


def test_map_and_ndcg_agree_with_implicits_evaluation(rng):
    from implicit.evaluation import ranking_metrics_at_k

    n_users, n_items, k = 60, 30, 10
    ids = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]
    relevant = sp.csr_matrix(rng.random((n_users, n_items)) < 0.15, dtype=np.float32)
    train = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    reference = ranking_metrics_at_k(FixedLists(ids), train, relevant, K=k, show_progress=False)

    ours = ranking_metrics(ids, relevant, [k])
    assert ours[f"map@{k}"] == pytest.approx(reference["map"])
    assert ours[f"ndcg@{k}"] == pytest.approx(reference["ndcg"])
    # implicit's precision is pooled: all hits / sum of min(k, number relevant).
    per_user = ranking_metrics(ids, relevant, [k], per_user=True)
    hits = per_user[f"precision@{k}"] * k
    n_relevant = np.diff(relevant.indptr)[per_user["users"]]
    assert hits.sum() / np.minimum(k, n_relevant).sum() == pytest.approx(reference["precision"])


# -- rating errors ------------------------------------------------------------------------


def test_mae_and_rmse_by_hand():
    # errors 1, 0, 2: MAE = 3/3, RMSE = sqrt((1 + 0 + 4) / 3)
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))
    assert mae(np.array([4.0]), np.array([4.0])) == 0.0


@pytest.mark.parametrize(("y_true", "y_pred"), [([], []), ([1, 2], [1])])
def test_rating_errors_refuse_empty_or_mismatched_input(y_true, y_pred):
    with pytest.raises(ValueError, match=r"empty|shape"):
        mae(y_true, y_pred)
    with pytest.raises(ValueError, match=r"empty|shape"):
        rmse(y_true, y_pred)


# -- beyond accuracy ----------------------------------------------------------------------


def test_catalogue_coverage_counts_distinct_items_in_the_top_k():
    # top 2: ann [0, 1], bob [1, 3] -> {0, 1, 3} of 10 items
    recommended = {"ann": [0, 1, 2], "bob": [1, 3]}
    assert catalogue_coverage(recommended, n_items=10, k=2) == pytest.approx(0.3)
    assert catalogue_coverage(np.array([[0, 1, 2], [1, 3, -1]]), 10, 2) == pytest.approx(0.3)


def test_novelty_is_the_mean_self_information_with_unseen_items_as_popularity_one():
    # 8 listeners; items 0, 1, 3 played by 8, 4, 2; item 2 never: counts as 1.
    # -log2(8/8) = 0, -log2(4/8) = 1, -log2(2/8) = 2, -log2(1/8) = 3 -> mean 6/4
    recommended = {"ann": [0, 1, 9], "bob": [3, 2]}
    assert novelty(recommended, {0: 8, 1: 4, 3: 2}, n_listeners=8, k=2) == pytest.approx(1.5)
    ids = np.array([[0, 1], [3, 2]])
    assert novelty(ids, np.array([8, 4, 0, 2]), n_listeners=8, k=2) == pytest.approx(1.5)


def test_intra_list_diversity_is_the_share_of_pairs_by_different_artists():
    # ann [0, 1, 2]: pairs (0,1) same artist, (0,2) and (1,2) differ -> 2/3
    # bob [2, 3]: one pair, different artists -> 1; cy [0]: no pair, skipped
    artists = {0: "A", 1: "A", 2: "B", 3: "C"}
    recommended = {"ann": [0, 1, 2], "bob": [2, 3], "cy": [0]}
    assert intra_list_diversity(recommended, artists, k=3) == pytest.approx(5 / 6)
    ids = np.array([[0, 1, 2], [2, 3, -1], [0, -1, -1]])
    by_position = np.array([10, 10, 20, 30])
    assert intra_list_diversity(ids, by_position, k=3) == pytest.approx(5 / 6)
    assert intra_list_diversity({"cy": [0]}, artists, k=3) == 0.0


def test_popularity_bias_is_the_mean_popularity_percentile():
    # popularity [10, 5, 5, 1, 0]: share of items at most as popular as each:
    # item 0 -> 5/5, items 1 and 2 -> 4/5, item 3 -> 2/5, item 4 -> 1/5
    popularity = np.array([10, 5, 5, 1, 0])
    # top 2: ann [0, 3], bob [4] -> (1 + 0.4 + 0.2) / 3
    recommended = {"ann": [0, 3, 1], "bob": [4]}
    assert popularity_bias(recommended, popularity, k=2) == pytest.approx(1.6 / 3)
    as_mapping = dict(enumerate(popularity.tolist()))
    assert popularity_bias(recommended, as_mapping, k=2) == pytest.approx(1.6 / 3)


# -- properties ---------------------------------------------------------------------------


@st.composite
def runs(draw):
    """Random recommendation lists (distinct items, possibly short or empty) and held-out sets."""
    n_items = draw(st.integers(1, 12))
    n_users = draw(st.integers(0, 6))
    width = draw(st.integers(1, 8))
    recommended, relevant = {}, {}
    for user in range(n_users):
        order = draw(st.permutations(range(n_items)))
        recommended[user] = list(order[: draw(st.integers(0, min(width, n_items)))])
        relevant[user] = draw(st.sets(st.integers(0, n_items - 1)))
    return recommended, relevant, n_items, width


KS = st.lists(st.integers(1, 10), min_size=1, max_size=3, unique=True)


@settings(max_examples=150, deadline=None)
@given(run=runs(), ks=KS)
def test_every_metric_is_in_0_1_and_both_paths_agree(run, ks):
    recommended, relevant, n_items, width = run
    ids, matrix = as_arrays(recommended, relevant, n_items, width)
    vectorised = ranking_metrics(ids, matrix, ks)
    for k in ks:
        for name, metric in RANKING.items():
            value = metric(recommended, relevant, k)
            assert 0.0 <= value <= 1.0
            assert vectorised[f"{name}@{k}"] == pytest.approx(value, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(run=runs(), ks=KS, data=st.data())
def test_permuting_listeners_changes_nothing(run, ks, data):
    recommended, relevant, n_items, width = run
    order = data.draw(st.permutations(list(relevant)))
    shuffled = {user: relevant[user] for user in order}
    for k in ks:
        for metric in RANKING.values():
            assert metric(recommended, shuffled, k) == pytest.approx(
                metric(recommended, relevant, k)
            )
    ids, matrix = as_arrays(recommended, relevant, n_items, width)
    rows = np.array(order, dtype=np.int64)
    permuted = ranking_metrics(ids[rows], matrix[rows] if len(rows) else matrix, ks)
    assert permuted == pytest.approx(ranking_metrics(ids, matrix, ks))


@settings(max_examples=100, deadline=None)
@given(run=runs(), ks=KS)
def test_perfect_recommendations_score_one_where_the_definition_allows(run, ks):
    _, relevant, _, _ = run
    relevant = {user: items for user, items in relevant.items() if items}
    perfect = {user: sorted(items) for user, items in relevant.items()}
    if not relevant:
        return
    for k in ks:
        for name in ("map", "ndcg", "hit_rate", "mrr"):
            assert RANKING[name](perfect, relevant, k) == pytest.approx(1.0)
        if all(len(items) <= k for items in relevant.values()):
            assert recall_at_k(perfect, relevant, k) == pytest.approx(1.0)
        if all(len(items) >= k for items in relevant.values()):
            assert precision_at_k(perfect, relevant, k) == pytest.approx(1.0)
            assert f1_at_k(perfect, relevant, k) <= 1.0


def test_the_module_lists_its_ranking_metrics():
    assert set(metrics.RANKING_METRICS) == set(RANKING)
