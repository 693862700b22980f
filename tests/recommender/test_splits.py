"""The splits: no leakage, reproducible with a seed, never training on the future."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.evaluation.splits import (
    LeakageError,
    Split,
    kfold,
    last_n_split,
    random_holdout,
    temporal_split,
    validation_split,
)


@pytest.fixture
def interactions(rng):
    """A matrix built to expose leaks: duplicated cells, an explicit zero, a single-item
    listener, an empty listener and heavy listeners."""
    n_users, n_items = 40, 25
    rows = rng.integers(0, n_users - 3, size=600)
    cols = rng.integers(0, n_items, size=600)
    rows = np.concatenate([rows, rows[:50], [n_users - 3, n_users - 2]])  # 50 duplicated cells
    cols = np.concatenate([cols, cols[:50], [4, 7]])
    values = np.ones(len(rows), dtype=np.float32)
    values[-1] = 0  # listener n_users - 2 has only an explicit zero: nothing played
    return sp.csr_matrix((values, (rows, cols)), shape=(n_users, n_items))


def played(matrix):
    """The set of (listener, item) cells with a non-zero value."""
    coo = sp.coo_matrix(matrix)
    keep = coo.data != 0
    return set(zip(coo.row[keep].tolist(), coo.col[keep].tolist(), strict=True))


def assert_a_partition(split, matrix):
    cells = played(matrix)
    assert played(split.train) | played(split.test) == cells
    assert not played(split.train) & played(split.test)
    # values move unchanged (duplicates summed)
    total = sp.csr_matrix(matrix)
    np.testing.assert_allclose((split.train + split.test).toarray(), total.toarray())


def test_check_catches_a_leaked_cell_and_a_shape_mismatch():
    train = sp.csr_matrix(np.array([[1, 0], [0, 1]], dtype=np.float32))
    with pytest.raises(LeakageError, match="in train and test"):
        Split(train, sp.csr_matrix(np.array([[0, 0], [0, 2]])), "bad").check()
    with pytest.raises(LeakageError, match="train is"):
        Split(train, sp.csr_matrix((3, 2)), "bad").check()


def test_random_holdout_partitions_cells_without_leakage(interactions):
    split = random_holdout(interactions, test_fraction=0.2, seed=0)
    split.check()
    assert_a_partition(split, interactions)
    assert split.train.shape == split.test.shape == interactions.shape


def test_random_holdout_holds_out_the_rounded_fraction_and_keeps_a_training_item(interactions):
    split = random_holdout(interactions, test_fraction=0.2, seed=3)
    counts = np.diff(sp.csr_matrix(played_matrix(interactions)).indptr)
    n_train = np.diff(split.train.indptr)
    n_test = np.diff(split.test.indptr)
    for count, kept, held in zip(counts, n_train, n_test, strict=True):
        if count >= 2:
            assert held == min(max(int(np.floor(0.2 * count + 0.5)), 1), count - 1)
            assert kept >= 1
        else:
            assert held == 0 and kept == count


def played_matrix(matrix):
    clean = sp.csr_matrix(matrix, copy=True)
    clean.sum_duplicates()
    clean.eliminate_zeros()
    return clean


def test_a_single_item_listener_stays_in_train():
    matrix = sp.csr_matrix(np.array([[3, 0, 0], [1, 1, 0]], dtype=np.float32))
    split = random_holdout(matrix, test_fraction=0.9, seed=0)
    assert split.train[0].nnz == 1 and split.test[0].nnz == 0
    assert split.train[1].nnz == 1 and split.test[1].nnz == 1


def test_the_same_seed_gives_the_same_split_and_another_seed_another(interactions):
    first = random_holdout(interactions, seed=7)
    again = random_holdout(interactions, seed=7)
    other = random_holdout(interactions, seed=8)
    assert played(first.test) == played(again.test)
    assert played(first.test) != played(other.test)
    assert [played(s.test) for s in kfold(interactions, 3, seed=1)] == [
        played(s.test) for s in kfold(interactions, 3, seed=1)
    ]


def test_split_params_are_json_ready(interactions):
    split = random_holdout(interactions, test_fraction=0.25, seed=2)
    assert json.loads(json.dumps(split.params)) == {"test_fraction": 0.25}
    assert (split.name, split.seed) == ("random", 2)


def test_validation_is_carved_out_of_train_only(interactions):
    split = random_holdout(interactions, seed=0)
    validation = validation_split(split.train, 0.2, seed=1)
    assert_a_partition(validation, split.train)
    assert not played(validation.train + validation.test) & played(split.test)
    assert validation.name == "validation"


def test_kfold_folds_partition_each_listeners_items(interactions):
    folds = kfold(interactions, k=4, seed=0)
    assert len(folds) == 4
    clean = played_matrix(interactions)
    counts = np.diff(clean.indptr)
    tested = [played(fold.test) for fold in folds]
    for fold in folds:
        assert_a_partition(fold, interactions)
        assert (np.diff(fold.train.indptr)[counts >= 1] >= 1).all()
    for a in range(4):
        for b in range(a + 1, 4):
            assert not tested[a] & tested[b]
    multi_item = {cell for cell in played(clean) if counts[cell[0]] >= 2}
    assert set().union(*tested) == multi_item


# -- temporal splits ----------------------------------------------------------------------


@pytest.fixture
def timed(rng):
    """Interactions with times 0..99: users, items, values, times."""
    n = 400
    users = rng.integers(0, 20, size=n)
    items = rng.integers(0, 15, size=n)
    times = rng.integers(0, 100, size=n).astype(np.float64)
    return users, items, np.ones(n, dtype=np.float32), times


def test_temporal_split_never_trains_on_the_future(timed):
    users, items, values, times = timed
    split = temporal_split(users, items, values, times, shape=(20, 15), quantile=0.8)
    cutoff = split.params["cutoff"]
    train_cells, test_cells = played(split.train), played(split.test)
    for user, item, time in zip(users, items, times, strict=True):
        if time < cutoff:
            assert (user, item) in train_cells
        if (user, item) in test_cells:
            assert time >= cutoff  # every play of a test cell is from the cut-off on
    trained_before = {(u, i) for u, i, t in zip(users, items, times, strict=True) if t < cutoff}
    assert train_cells == trained_before
    assert test_cells  # the fixture leaves new items after the cut-off


def test_temporal_test_holds_only_new_items_of_known_listeners():
    # user 0: item 0 at 1 and 9 (already heard), item 1 at 8 (new); user 1: only after.
    users = np.array([0, 0, 0, 1])
    items = np.array([0, 0, 1, 2])
    times = np.array([1.0, 9.0, 8.0, 7.0])
    split = temporal_split(users, items, np.ones(4), times, shape=(2, 3), cutoff=5.0)
    assert played(split.train) == {(0, 0)}
    assert split.train[0, 0] == 1  # only the play before the cut-off
    assert played(split.test) == {(0, 1)}
    assert split.params["cold_listeners_dropped"] == 1


def test_temporal_split_takes_datetimes():
    times = np.array(["2020-01-01", "2020-06-01", "2021-01-01"], dtype="datetime64[s]")
    split = temporal_split(
        np.array([0, 0, 0]),
        np.array([0, 1, 2]),
        np.ones(3),
        times,
        shape=(1, 3),
        cutoff=np.datetime64("2020-03-01"),
    )
    assert played(split.train) == {(0, 0)} and played(split.test) == {(0, 1), (0, 2)}
    assert json.dumps(split.params)


def test_temporal_split_wants_one_cutoff_and_every_time(timed):
    users, items, values, times = timed
    with pytest.raises(ValueError, match="exactly one"):
        temporal_split(users, items, values, times, shape=(20, 15))
    times = times.copy()
    times[0] = np.nan
    with pytest.raises(ValueError, match="time on every"):
        temporal_split(users, items, values, times, shape=(20, 15), cutoff=50.0)


def test_last_n_holds_out_each_listeners_latest_items_and_keeps_one():
    # user 0: item 0 last at 9, item 1 at 5, item 2 at 7 -> last 2 are items 0 and 2
    # user 1: a single item stays in train; user 2: two items, only the latest goes
    users = np.array([0, 0, 0, 0, 1, 2, 2])
    items = np.array([0, 1, 2, 0, 3, 4, 5])
    times = np.array([1.0, 5.0, 7.0, 9.0, 2.0, 3.0, 4.0])
    split = last_n_split(users, items, np.ones(7), times, shape=(3, 6), n=2)
    assert played(split.test) == {(0, 0), (0, 2), (2, 5)}
    assert played(split.train) == {(0, 1), (1, 3), (2, 4)}
    assert split.test[0, 0] == 2  # both plays of item 0 move together


def test_last_n_keeps_every_listener_a_training_item(timed):
    users, items, values, times = timed
    split = last_n_split(users, items, values, times, shape=(20, 15), n=3)
    has_history = np.bincount(users, minlength=20) > 0
    assert (np.diff(split.train.indptr)[has_history] >= 1).all()
    latest = {}
    for user, item, time in zip(users.tolist(), items.tolist(), times.tolist(), strict=True):
        latest[user, item] = max(time, latest.get((user, item), time))
    for user in range(20):
        held = [latest[cell] for cell in played(split.test) if cell[0] == user]
        kept = [latest[cell] for cell in played(split.train) if cell[0] == user]
        assert len(held) <= 3
        if held:
            assert min(held) >= max(kept)
