"""The evaluation protocol: honest by construction, the JSON shape, intervals and tuning."""

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender import algorithms as zoo
from recommender.algorithms.base import Recommender
from recommender.algorithms.rating import play_counts_to_ratings
from recommender.evaluation import protocol as protocol_module
from recommender.evaluation.protocol import (
    Protocol,
    bootstrap_ci,
    evaluate,
    evaluate_split,
    paired_difference,
    ratings_from_train,
    tune,
)
from recommender.evaluation.splits import Interactions, Split, random_holdout

N_GROUPS, GROUP_ITEMS, N_POPULAR = 6, 20, 10


def planted(seed: int = 7, n_users: int = 240) -> sp.csr_matrix:
    """Listeners in taste groups, each playing items of their group's block, plus a few
    globally popular items everyone tends to play: popularity alone ranks poorly."""
    rng = np.random.default_rng(seed)
    n_items = N_POPULAR + N_GROUPS * GROUP_ITEMS
    rows, cols = [], []
    for user in range(n_users):
        group = user % N_GROUPS
        block = N_POPULAR + group * GROUP_ITEMS + np.arange(GROUP_ITEMS)
        weights = 1.0 / np.arange(1, GROUP_ITEMS + 1)
        liked = rng.choice(block, size=10, replace=False, p=weights / weights.sum())
        popular = rng.choice(N_POPULAR, size=4, replace=False)
        items = np.concatenate([liked, popular])
        rows.extend([user] * len(items))
        cols.extend(items.tolist())
    counts = rng.integers(1, 40, size=len(rows)).astype(np.float32)
    return sp.csr_matrix((counts, (rows, cols)), shape=(n_users, n_items))


FAST = Protocol(bootstrap=200)
ZOO = {"popularity": {}, "item_knn": {}, "als": {"factors": 16, "iterations": 10}}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return evaluate(planted(), ZOO, FAST)


class Memoriser(Recommender):
    """Recommends exactly the cells it was fitted on (every other item is ineligible)."""

    name: ClassVar[str] = "memoriser"

    def fit(self, user_items: sp.csr_matrix) -> Self:
        self.matrix = sp.csr_matrix(user_items, dtype=np.float32)
        self.n_items = self.matrix.shape[1]
        self.fitted = True
        return self

    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        scores = self.matrix[user_ids].toarray()
        scores[scores == 0] = -np.inf
        return scores

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        pass


@pytest.fixture
def memoriser(monkeypatch):
    monkeypatch.setitem(zoo.ALGORITHMS, Memoriser.name, Memoriser)


def test_item_knn_and_als_beat_popularity(report):
    results = report["results"]
    assert results["item_knn"]["ndcg@10"] > results["popularity"]["ndcg@10"] + 0.05
    assert results["als"]["ndcg@10"] > results["popularity"]["ndcg@10"] + 0.05
    for label in ("item_knn", "als"):
        comparison = results[label]["vs_popularity"]["ndcg@10"]
        assert comparison["mean_difference"] > 0
        assert comparison["ci"][0] > 0
        assert comparison["p_value"] < 0.05


def test_json_shape(report):
    assert set(report) == {"protocol", "results"}
    # A matrix alone has no play times: "auto" measured on a random split, and says so.
    assert report["protocol"] == {
        **FAST.to_dict(),
        "split": "random",
        "split_asked": "auto",
        "split_reason": "no play times were given: random",
        "split_params": {"test_fraction": 0.2},
    }
    assert report["protocol"]["ks"] == [10, 20]
    assert set(report["results"]) == set(ZOO)
    ranking = {f"{m}@{k}" for m in ("precision", "recall", "f1", "map", "ndcg") for k in (10, 20)}
    for label, entry in report["results"].items():
        expected = ranking | {"coverage", "novelty", "popularity_bias", "ci"}
        expected |= {"fit_seconds", "score_seconds", "metrics_seconds", "params"}
        assert expected <= set(entry), label
        assert ranking <= set(entry["ci"])
        assert all(len(interval) == 2 for interval in entry["ci"].values())
        assert ("vs_popularity" in entry) == (label != "popularity")
        assert 0 <= entry["coverage"] <= 1 and entry["novelty"] > 0
    assert set(report["results"]["als"]["vs_popularity"]["ndcg@10"]) == {
        "mean_difference",
        "ci",
        "p_value",
    }
    assert json.loads(json.dumps(report)) == report  # JSON-ready as it is


def test_items_heard_in_training_are_never_hits(memoriser):
    matrix = planted()
    split = random_holdout(matrix, 0.2, seed=0)
    # Leaky on purpose (fitted on everything, nothing excluded): the memoriser finds the
    # held-out items, so the case does expose a leak.
    leaky = Split(matrix, split.test, "leaky")
    unexcluded = Protocol(exclude_seen=False, bootstrap=10)
    assert (
        evaluate_split(leaky, {"memoriser": {}}, unexcluded)["memoriser"].metrics["ndcg@10"] > 0.3
    )
    # Honest: fitted on train only; its training items are all it can recommend, and they
    # never count, excluded or not.
    for protocol in (FAST, unexcluded):
        result = evaluate_split(split, {"memoriser": {}}, protocol)["memoriser"]
        assert result.metrics["ndcg@10"] == 0 and result.metrics["precision@20"] == 0
        if protocol.exclude_seen:
            assert (result.recommended == -1).all()


@pytest.mark.parametrize("weighting", ["log", "bm25"])
def test_seen_items_are_excluded_from_rankings(weighting):
    matrix = planted().tolil()
    matrix[:, 0] = 5  # every listener played item 0: bm25 drops its cells from the weights
    split = random_holdout(matrix.tocsr(), 0.2, seed=1)
    protocol = Protocol(weighting=weighting, bootstrap=10)
    results = evaluate_split(split, {"popularity": {}, "item_knn": {}}, protocol)
    for result in results.values():
        top = result.recommended
        assert (top >= 0).all()
        heard = np.asarray(split.train[result.users[:, None], top].todense())
        assert not heard.any()
        assert all(len(set(row)) == len(row) for row in top.tolist())


def test_kfold_gives_mean_and_std():
    protocol = Protocol(split="kfold", folds=3, bootstrap=50)
    report = evaluate(planted(), {"popularity": {}, "item_knn": {}}, protocol)
    entry = report["results"]["item_knn"]
    assert len(entry["folds"]) == 3
    assert entry["ndcg@10"] == pytest.approx(np.mean([fold["ndcg@10"] for fold in entry["folds"]]))
    assert entry["std"]["ndcg@10"] == pytest.approx(
        np.std([fold["ndcg@10"] for fold in entry["folds"]])
    )
    assert entry["std"]["ndcg@10"] > 0
    assert entry["ci"]["ndcg@10"][0] <= entry["ndcg@10"] <= entry["ci"]["ndcg@10"][1]
    assert entry["vs_popularity"]["ndcg@10"]["mean_difference"] > 0


def timed_plays(matrix: sp.csr_matrix, seed: int = 3) -> Interactions:
    """Each cell's play count as that many single plays at random times in [1, 1000)."""
    coo = matrix.tocoo()
    counts = coo.data.astype(np.int64)
    rows, cols = np.repeat(coo.row, counts), np.repeat(coo.col, counts)
    times = np.random.default_rng(seed).uniform(1, 1000, size=len(rows))
    return Interactions(rows, cols, np.ones(len(rows), dtype=np.float32), times)


def test_a_temporal_split_trains_on_the_plays_before_its_cutoff_only():
    matrix = planted()
    plays = timed_plays(matrix)
    protocol = Protocol(split="temporal", bootstrap=10)

    split = protocol_module.make_splits(matrix, protocol, plays=plays)[0]

    cutoff = split.params["cutoff"]
    earlier = plays.times < cutoff
    # Training holds exactly the plays before the cut-off, counted per cell ...
    before = sp.csr_matrix(
        (plays.values[earlier], (plays.rows[earlier], plays.columns[earlier])), shape=matrix.shape
    )
    np.testing.assert_array_equal(split.train.toarray(), before.toarray())
    # ... though many cells were played on both sides of it (the cell-level leak's food).
    later = sp.csr_matrix(
        (plays.values[~earlier], (plays.rows[~earlier], plays.columns[~earlier])),
        shape=matrix.shape,
    )
    assert (split.train != 0).multiply(later != 0).nnz > 1_000
    assert split.train.sum() < matrix.sum()
    # The test holds only items new to the listener after the cut-off.
    assert not (split.test != 0).multiply(before != 0).nnz
    assert (split.test != 0).multiply(later != 0).nnz == split.test.nnz > 0
    report = evaluate(matrix, {"popularity": {}, "item_knn": {}}, protocol, plays=plays)
    assert report["protocol"]["split"] == "temporal"
    assert report["protocol"]["split_params"]["cutoff"] == cutoff
    assert report["results"]["item_knn"]["ndcg@10"] > report["results"]["popularity"]["ndcg@10"]


def test_auto_takes_the_temporal_split_when_every_play_has_a_time_and_random_otherwise():
    matrix = planted()
    plays = timed_plays(matrix)
    fast = Protocol(bootstrap=10)
    algorithms = {"popularity": {}}

    timed = evaluate(matrix, algorithms, fast, plays=plays)["protocol"]
    plays.times[[0, 5, 9]] = np.nan
    untimed = evaluate(matrix, algorithms, fast, plays=plays)["protocol"]

    assert (timed["split"], timed["split_asked"]) == ("temporal", "auto")
    assert timed["split_reason"] == f"all {len(plays):,} listens have a time: temporal"
    assert "cutoff" in timed["split_params"]
    assert (untimed["split"], untimed["split_asked"]) == ("random", "auto")
    assert untimed["split_reason"] == f"3 of {len(plays):,} listens have no time: random"
    for split in ("temporal", "last_n"):
        with pytest.raises(ValueError, match=f"3 of {len(plays):,} listens have none"):
            evaluate(matrix, algorithms, Protocol(split=split, bootstrap=10), plays=plays)


def test_last_n_holds_out_each_listeners_latest_items_through_the_protocol():
    matrix = planted()
    plays = timed_plays(matrix)

    split = protocol_module.make_splits(matrix, Protocol(split="last_n", last_n=2), plays=plays)[0]
    report = evaluate(matrix, {"popularity": {}}, Protocol(split="last_n", last_n=2), plays=plays)

    assert split.name == "last_n" and split.params == {"n": 2}
    assert np.array_equal(np.diff(split.test.indptr), np.full(matrix.shape[0], 2))
    latest = (
        pd.DataFrame({"row": plays.rows, "item": plays.columns, "time": plays.times})
        .groupby(["row", "item"])["time"]
        .max()
    )
    for row in range(0, matrix.shape[0], 37):
        newest = latest.loc[row].sort_values().index[-2:]
        assert set(split.test[row].indices) == set(newest)
    assert report["protocol"]["split"] == "last_n" and report["protocol"]["last_n"] == 2
    with pytest.raises(ValueError, match="last_n must be at least 1"):
        Protocol(split="last_n", last_n=0)


def test_a_time_based_split_counts_only_the_skips_before_its_cutoff():
    # Item 2 is the most played new item (listeners 0-2), item 3 the runner-up (3-4);
    # listener 5 heard item 0 and then, after the cut-off, item 3: their test item.
    cells = [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (0, 2), (1, 2), (2, 2)]
    cells += [(3, 3), (4, 3), (5, 3)]
    rows, cols = (np.array(column) for column in zip(*cells, strict=True))
    values = np.array([1, 1, 1, 1, 1, 1, 5, 5, 5, 1, 1, 1], dtype=np.float32)
    times = np.array([*range(1, 12), 100], dtype=np.float64)
    plays = Interactions(rows, cols, values, times)
    matrix = plays.matrix((6, 4))
    protocol = Protocol(split="temporal", temporal_quantile=0.95, ks=(1,), skip_penalty=1.0)

    def precision(skip_time: float) -> float:
        """Listener 5's precision@1 when listeners 0-2 skipped item 2 at `skip_time`."""
        skips = Interactions(
            np.repeat([0, 1, 2], 9), np.full(27, 2), np.ones(27), np.full(27, skip_time)
        )
        result = evaluate(
            matrix,
            {"popularity": {}},
            replace(protocol, bootstrap=10),
            skip_events=skips,
            plays=plays,
            skips=skips.matrix((6, 4)),
        )
        return result["results"]["popularity"]["precision@1"]

    assert precision(skip_time=50.0) == 1.0  # skipped before: item 2 falls behind item 3
    assert precision(skip_time=200.0) == 0.0  # skipped after the cut-off: not yet known


def test_bootstrap_ci_contains_the_mean(rng):
    values = rng.random(500)
    low, high = bootstrap_ci(values, rng, n=500)
    assert low < values.mean() < high
    assert high - low < 0.1
    assert bootstrap_ci(np.array([]), rng) == (0.0, 0.0)
    assert bootstrap_ci(np.full(20, 0.3), rng, n=100) == pytest.approx((0.3, 0.3))


def test_paired_difference(rng):
    a = rng.random(400)
    same = paired_difference(a, a, rng, n=300)
    assert same["mean_difference"] == 0
    assert same["ci"] == (0.0, 0.0)
    assert same["p_value"] == pytest.approx(1.0)
    better = paired_difference(a + 0.05 + rng.normal(0, 0.01, 400), a, rng, n=300)
    assert better["mean_difference"] == pytest.approx(0.05, abs=0.01)
    assert better["ci"][0] > 0 and better["p_value"] < 0.01
    with pytest.raises(ValueError, match="aligned"):
        paired_difference(a, a[:10], rng)


def test_rating_targets_come_from_training_counts_only():
    train = sp.csr_matrix(np.array([[1, 2, 3, 4, 0, 0], [5, 0, 0, 0, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 0, 0, 10, 0], [0, 1, 0, 0, 0, 0]], dtype=np.float32))
    targets = ratings_from_train(train, test).toarray()
    assert targets[0, 4] == 5  # above every training count
    assert targets[1, 1] == 3  # below the one count of 5: mid-rank 1/2 of 1 -> ceil(2.5)
    # A training count, mapped as if held out, gets the rating it has in training.
    ours = ratings_from_train(train, train)
    assert (ours != play_counts_to_ratings(train)).nnz == 0
    # A listener with no training counts cannot be rated.
    assert ratings_from_train(sp.csr_matrix((1, 3)), sp.csr_matrix(np.ones((1, 3)))).nnz == 0


def test_rating_model_reports_mae_and_rmse():
    split = random_holdout(planted(n_users=120), 0.2, seed=0)
    result = evaluate_split(split, {"rating": {"epochs": 5}}, FAST)["rating"]
    assert 0 < result.metrics["mae"] <= result.metrics["rmse"] < 4


def test_labels_run_one_algorithm_under_several_settings():
    report = evaluate(
        planted(n_users=120), {"item_knn": {}, "item_knn:bm25": {"similarity": "bm25"}}
    )
    assert report["results"]["item_knn:bm25"]["params"]["similarity"] == "bm25"
    assert report["results"]["item_knn"]["params"]["similarity"] == "cosine"


def test_tune_never_reads_the_test_split(monkeypatch):
    matrix = planted()
    split = random_holdout(matrix, 0.2, seed=0)
    seen: list[Split] = []
    real = protocol_module.evaluate_split

    def spy(inner: Split, *args: Any, **kwargs: Any):
        seen.append(inner)
        return real(inner, *args, **kwargs)

    monkeypatch.setattr(protocol_module, "evaluate_split", spy)
    space = {"k_neighbours": [2, 50], "similarity": ["cosine", "bm25"]}
    best, trials = tune(split.train, "item_knn", space, FAST)
    assert len(seen) == len(trials) == 4
    for inner in seen:
        touched = (inner.train != 0) + (inner.test != 0)
        assert touched.multiply(split.test != 0).nnz == 0  # no test cell, anywhere
        assert (touched > (split.train != 0)).nnz == 0  # only training cells
    assert best in [trial["params"] for trial in trials]
    assert max(trial["ndcg@10"] for trial in trials) == next(
        trial["ndcg@10"] for trial in trials if trial["params"] == best
    )
    # Corrupting the test split in place (every held-out count blown up) changes nothing:
    # the choice is made on train alone.
    corrupted = split.test.copy()
    corrupted.data[:] = 1e6
    split.test = corrupted
    assert tune(split.train, "item_knn", space, FAST)[0] == best


def test_tune_samples_big_grids_and_checks_the_metric():
    train = random_holdout(planted(n_users=120), 0.2, seed=0).train
    space = {"k_neighbours": [5, 10, 20, 50], "similarity": ["cosine", "tfidf"]}
    _, trials = tune(train, "item_knn", space, FAST, metric="precision@5", max_trials=3)
    assert len(trials) == 3 and all("precision@5" in trial for trial in trials)
    with pytest.raises(ValueError, match="ranking metric"):
        tune(train, "item_knn", space, FAST, metric="coverage")


def test_skips_weigh_against_the_training_cells_by_the_protocols_skip_penalty():
    from recommender.evaluation.protocol import evaluate_split
    from recommender.evaluation.splits import Split

    # Item 0 is played by listeners 0-3 and item 1 by 0-2; listeners 0-3 skipped item 0.
    train = sp.csr_matrix(np.array([[5, 1, 0], [5, 1, 0], [5, 1, 0], [5, 0, 0], [0, 0, 0]]))
    test = sp.csr_matrix(np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0]]))
    skips = sp.csr_matrix(np.array([[9, 0, 0], [9, 0, 0], [9, 0, 0], [9, 0, 0], [0, 0, 0]]))
    split = Split(train, test, "hand-made")

    def first_pick(protocol):
        result = evaluate_split(split, {"popularity": {}}, protocol, skips=skips)["popularity"]
        return int(result.recommended[0, 0])

    assert first_pick(Protocol(ks=(1,), skip_penalty=0.0)) == 0  # skips ignored
    assert first_pick(Protocol(ks=(1,), skip_penalty=1.0)) == 1  # item 0 skipped away
