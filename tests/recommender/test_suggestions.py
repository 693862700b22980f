"""Building listeners' lists from a model: exclusions, reasons, cold start, artists, similar."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import create
from recommender.suggestions import Suggestions, charts, cold_start, roll_up, similar, suggest


@pytest.fixture(scope="module")
def plays() -> sp.csr_matrix:
    rng = np.random.default_rng(3)
    dense = (rng.random((50, 30)) < 0.25) * rng.integers(1, 9, size=(50, 30))
    dense[:, 0] += 1  # nobody is empty
    return sp.csr_matrix(np.log1p(dense).astype(np.float32))


def test_suggestions_never_hold_a_played_or_excluded_item_and_reasons_were_played(plays):
    model = create("item_knn", k_neighbours=10).fit(plays)
    excluded = sp.csr_matrix(([1.0, 1.0], ([0, 1], [5, 7])), shape=plays.shape)
    plain = suggest(model, plays, 5)
    result = suggest(model, plays, 5, excluded=excluded, batch_size=7)
    for row in range(plays.shape[0]):
        played = set(plays[row].indices)
        listed = [item for item in result.items[row] if item >= 0]
        assert not played & set(listed)
        assert not set(excluded[row].indices) & set(listed)
        assert {reason for reason in result.reasons[row] if reason >= 0} <= played
    # Excluding an item moves the rest up; rows without exclusions are unchanged.
    longer = suggest(model, plays, 7)
    assert result.items[0].tolist() == [item for item in longer.items[0] if item != 5][:5]
    assert result.items[1].tolist() == [item for item in longer.items[1] if item != 7][:5]
    np.testing.assert_array_equal(plain.items[2:], result.items[2:])
    assert not result.fallback.any()


def test_a_model_that_needs_known_listeners_leaves_unknown_rows_empty(plays):
    model = create("bpr", factors=8, iterations=20).fit(plays)
    known = np.arange(plays.shape[0])
    known[3] = -1
    result = suggest(model, plays, 4, known_rows=known)
    assert (result.items[3] == -1).all() and np.isnan(result.scores[3]).all()
    assert (result.items[4] >= 0).all()


def test_als_folds_every_row_in_so_new_listens_count(plays):
    model = create("als", factors=8, iterations=5).fit(plays)
    changed = plays.tolil()
    changed[0, :] = 0
    changed[0, [1, 2]] = 3.0
    result = suggest(model, sp.csr_matrix(changed), 5, known_rows=np.full(plays.shape[0], -1))
    assert not {1, 2} & set(result.items[0])
    expected, _ = model.recommend(np.array([0]), sp.csr_matrix(changed)[0], 5, recalculate=True)
    np.testing.assert_array_equal(result.items[0], expected[0])


def test_cold_start_suggests_what_listeners_sharing_a_seed_played():
    # Listeners 0-3 played item 0 and item 5; listener 4 played items 0 and 6; listener 5
    # played only item 9 (nobody else did). Newcomers: one with seed 0, one with seed 9.
    plays = sp.csr_matrix(
        ([1.0] * 11, ([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5], [0, 5, 0, 5, 0, 5, 0, 5, 0, 6, 9])),
        shape=(6, 10),
    )
    seeds = sp.csr_matrix(([1.0, 1.0], ([0, 1], [0, 9])), shape=(2, 10))
    result = cold_start(seeds, plays, 3)
    assert result.fallback.all()
    assert result.items[0].tolist() == [5, 6, -1]
    assert result.reasons[0].tolist() == [0, 0, -1]
    # Nobody else played item 9: the charts (most listeners first), no reason, never the seed.
    assert result.items[1].tolist() == [0, 5, 6]
    assert (result.reasons[1] == -1).all()


def test_cold_start_respects_exclusions():
    plays = sp.csr_matrix(([1.0] * 4, ([0, 0, 1, 1], [0, 5, 0, 6])), shape=(2, 10))
    seeds = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 10))
    excluded = sp.csr_matrix(([1.0], ([0], [5])), shape=(1, 10))
    assert cold_start(seeds, plays, 2, excluded=excluded).items[0].tolist() == [6, -1]


def test_charts_rank_by_listeners_then_plays():
    plays = sp.csr_matrix(np.array([[1, 9, 0], [1, 0, 2], [0, 0, 3]], dtype=np.float32))
    items, listeners = charts(plays, 3)
    assert items.tolist() == [2, 0, 1]
    assert listeners.tolist() == [2, 2, 1]


def test_roll_up_puts_each_artist_at_its_best_songs_place():
    songs = Suggestions.empty(1, 5)
    songs.items[0] = [10, 11, 12, 13, 14]
    songs.scores[0] = [5, 4, 3, 2, 1]
    songs.reasons[0] = [20, 21, -1, 22, 20]
    song_artist = np.full(30, -1)
    song_artist[[10, 11, 12, 13, 14]] = [1, 1, 2, 3, 4]
    song_artist[[20, 21, 22]] = [7, 8, 9]
    heard = sp.csr_matrix(([1.0], ([0], [3])), shape=(1, 10))
    artists, best_songs = roll_up(songs, song_artist, 3, heard_artists=heard)
    assert artists.items[0].tolist() == [1, 2, 4]
    assert artists.scores[0].tolist() == [5, 3, 1]
    assert artists.reasons[0].tolist() == [7, -1, 7]
    assert best_songs[0].tolist() == [10, 12, 14]


def test_similar_covers_every_item_in_blocks(plays, monkeypatch):
    import recommender.suggestions as module

    model = create("item_knn", k_neighbours=10).fit(plays)
    monkeypatch.setattr(module, "SCORE_BLOCK_CELLS", 4 * plays.shape[1])
    items, _ = similar(model, plays.shape[1], 3)
    expected, _ = model.similar_items(np.arange(plays.shape[1]), 3)
    np.testing.assert_array_equal(items, expected)
