"""Building listeners' lists from a model: exclusions, reasons, cold start, artists, similar."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import create
from recommender.suggestions import (
    Suggestions,
    charts,
    cold_start,
    neighbour_links,
    roll_up,
    similar,
    suggest,
)


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


def test_neighbour_links_weigh_each_similar_item_by_its_place():
    neighbours = np.array([[4, 2, -1], [-1, 3, 1]])
    links = neighbour_links(np.array([0, 5]), neighbours, 6).toarray()
    assert links[0].tolist() == [0, 0, 0.5, 0, 1, 0]
    assert links[5].tolist() == [0, 0.5, 0, 1, 0, 0]
    assert not links[1:5].any()


def test_cold_start_suggests_the_seeds_neighbours_then_the_charts():
    # Item 0's neighbours: 5 then 6; item 1's: 6 then 0. Item 9 has none.
    links = neighbour_links(np.array([0, 1]), np.array([[5, 6], [6, 0]]), 10)
    chart = (np.array([0, 7, 5, 8]), np.array([40.0, 30.0, 20.0, 10.0], np.float32))
    seeds = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [0, 1, 9])), shape=(2, 10))
    result = cold_start(seeds, links, 4, chart=chart)
    assert result.fallback.all()
    # 6 is linked from both seeds (1/2 + 1), 5 from one (1); never a seed; then the charts.
    assert result.items[0].tolist() == [6, 5, 7, 8]
    assert result.reasons[0].tolist() == [1, 0, -1, -1]
    assert result.scores[0, 0] == 1.5 and 0 < result.scores[0, 3] < result.scores[0, 2] < 1
    # Nothing is linked to item 9: the charts, scored by their listeners, no reason.
    assert result.items[1].tolist() == [0, 7, 5, 8]
    assert result.scores[1].tolist() == [40, 30, 20, 10]
    assert (result.reasons[1] == -1).all()


def test_cold_start_respects_exclusions():
    links = neighbour_links(np.array([0]), np.array([[5, 6]]), 10)
    seeds = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 10))
    excluded = sp.csr_matrix(([1.0, 1.0], ([0, 0], [5, 7])), shape=(1, 10))
    chart = (np.array([7, 0, 3]), np.array([3.0, 2.0, 1.0], np.float32))
    result = cold_start(seeds, links, 3, chart=chart, excluded=excluded)
    assert result.items[0].tolist() == [6, 3, -1]


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
