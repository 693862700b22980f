from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from recommender.data import (
    build_matrix,
    listen_events,
    newest_listen_id,
    newest_skip_id,
    skip_events,
)
from tests.factories import (
    ArtistFactory,
    ListenerFactory,
    ListenFactory,
    SkipFactory,
    SongFactory,
)

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def listening(db):
    """ada: song a1 x2 (timed) + a2 (count 5); bob: a1 (count 3) + artist-level B (7);
    a bot with plays; ada skipped b1."""
    artist_a, artist_b = ArtistFactory(), ArtistFactory()
    a1, a2 = SongFactory(artist=artist_a), SongFactory(artist=artist_a)
    b1 = SongFactory(artist=artist_b)
    ada, bob = ListenerFactory(), ListenerFactory()
    bot = ListenerFactory(is_flagged=True)
    ListenFactory(listener=ada, song=a1, played_at=WHEN)
    ListenFactory(listener=ada, song=a1, played_at=WHEN.replace(hour=5))
    ListenFactory(listener=ada, song=a2, played_at=None, play_count=5)
    ListenFactory(listener=bob, song=a1, played_at=None, play_count=3)
    ListenFactory(listener=bob, song=None, artist=artist_b, played_at=None, play_count=7)
    ListenFactory(listener=bot, song=b1, played_at=None, play_count=900)
    SkipFactory(listener=ada, song=b1)
    SkipFactory(listener=ada, song=a2)
    return {
        "ada": ada,
        "bob": bob,
        "bot": bot,
        "a1": a1,
        "a2": a2,
        "b1": b1,
        "A": artist_a,
        "B": artist_b,
    }


def test_the_song_matrix_sums_plays_per_listener_and_song(listening):
    m = build_matrix("song")

    assert m.listener_ids.tolist() == sorted([listening["ada"].pk, listening["bob"].pk])
    assert m.item_ids.tolist() == sorted([listening["a1"].pk, listening["a2"].pk])
    dense = m.plays.toarray()
    ada, bob = m.rows_of(np.array([listening["ada"].pk, listening["bob"].pk]))
    a1, a2 = m.columns_of(np.array([listening["a1"].pk, listening["a2"].pk]))
    assert dense[ada, a1] == 2 and dense[ada, a2] == 5 and dense[bob, a1] == 3
    assert dense[bob, a2] == 0
    assert m.plays.dtype == np.float32
    # ada's skip of a2 counts; her skip of b1 (a song nobody unflagged played) has no column.
    assert m.skips.toarray()[ada, a2] == 1 and m.skips.sum() == 1


def test_the_artist_matrix_joins_song_plays_and_artist_level_counts(listening):
    m = build_matrix("artist")

    assert m.item_ids.tolist() == sorted([listening["A"].pk, listening["B"].pk])
    dense = m.plays.toarray()
    ada, bob = m.rows_of(np.array([listening["ada"].pk, listening["bob"].pk]))
    artist_a, artist_b = m.columns_of(np.array([listening["A"].pk, listening["B"].pk]))
    assert dense[ada, artist_a] == 7 and dense[bob, artist_a] == 3 and dense[bob, artist_b] == 7
    assert m.skips.toarray()[ada, artist_b] == 1  # b1's artist
    assert m.skips.toarray()[ada, artist_a] == 1  # a2's artist


def test_bots_are_left_out_and_unknown_ids_map_to_minus_one(listening):
    m = build_matrix("song")

    assert m.rows_of(np.array([listening["bot"].pk]))[0] == -1
    assert m.columns_of(np.array([listening["b1"].pk]))[0] == -1


def test_an_empty_database_gives_an_empty_matrix(db):
    m = build_matrix("song")
    assert m.shape == (0, 0)


def test_a_level_must_be_song_or_artist(db):
    with pytest.raises(ValueError, match="level"):
        build_matrix("album")


def test_recent_plays_weigh_more_with_a_half_life(db):
    ada = ListenerFactory()
    old, new, counted = SongFactory(), SongFactory(), SongFactory()
    ListenFactory(listener=ada, song=old, played_at=datetime(2024, 1, 1, tzinfo=UTC))
    ListenFactory(listener=ada, song=new, played_at=datetime(2024, 1, 31, tzinfo=UTC))
    ListenFactory(listener=ada, song=counted, played_at=None, play_count=4)

    m = build_matrix("song", half_life_days=30)

    old_col, new_col, counted_col = m.columns_of(np.array([old.pk, new.pk, counted.pk]))
    row = m.plays.toarray()[0]
    assert row[new_col] == pytest.approx(1.0)  # the newest play
    assert row[old_col] == pytest.approx(0.5)  # one half-life older
    assert row[counted_col] == pytest.approx(4.0)  # no time: full weight


def test_time_decayed_popularity_prefers_recent_hits(db):
    from recommender.training import model_run_create, model_run_load, model_run_train

    listeners = ListenerFactory.create_batch(3)
    classic, hit = SongFactory(), SongFactory()
    for listener in listeners:  # the classic: three plays, years ago
        ListenFactory(listener=listener, song=classic, played_at=datetime(2020, 1, 1, tzinfo=UTC))
    ListenFactory(listener=listeners[0], song=hit, played_at=datetime(2024, 6, 1, tzinfo=UTC))
    ListenFactory(listener=listeners[1], song=hit, played_at=datetime(2024, 6, 2, tzinfo=UTC))
    newcomer = ListenerFactory()
    ListenFactory(listener=newcomer, song=SongFactory(), played_at=datetime(2024, 6, 3, tzinfo=UTC))

    ranked = {}
    for half_life in (None, 90):
        weighting = {"scheme": "raw"} | ({"half_life_days": half_life} if half_life else {})
        run = model_run_train(
            run_id=model_run_create(algorithm="popularity", weighting=weighting).pk
        )
        model, _, listener_ids, item_ids = model_run_load(run)
        row = np.searchsorted(listener_ids, newcomer.pk)
        items, _ = model.recommend(np.array([row]), build_matrix("song").plays[[row]], k=2)
        ranked[half_life] = item_ids[items[0]].tolist()

    assert ranked[None] == [classic.pk, hit.pk]
    assert ranked[90] == [hit.pk, classic.pk]


def test_a_snapshot_pins_the_skips_as_well_as_the_listens(listening):
    from listening.services import data_snapshot_create
    from recommender.training import snapshot_matrix

    snapshot = data_snapshot_create()
    ada, a2 = listening["ada"], listening["a2"]
    SkipFactory(listener=ada, song=a2)  # after the snapshot: a later matrix, not its
    ListenFactory(listener=ada, song=a2, played_at=WHEN)

    pinned = snapshot_matrix(snapshot, "song", {})
    now = build_matrix("song")
    row, column = pinned.rows_of([ada.pk])[0], pinned.columns_of([a2.pk])[0]
    assert pinned.skips[row, column] == 1 and now.skips[row, column] == 2
    assert pinned.plays[row, column] == 5 and now.plays[row, column] == 6


def test_the_evaluations_play_and_skip_rows_are_the_matrixs_one_by_one_with_their_times(
    listening,
):
    ada, a1, a2 = listening["ada"], listening["a1"], listening["a2"]
    pinned = build_matrix("song", last_listen_id=newest_listen_id(), last_skip_id=newest_skip_id())
    skipped_at = datetime(2024, 3, 1, tzinfo=UTC)
    SkipFactory(listener=ada, song=a1, skipped_at=skipped_at)  # after the pin, and then:
    ListenFactory(listener=ada, song=a1, played_at=WHEN.replace(hour=9))

    plays, skips = listen_events(pinned), skip_events(pinned)
    now = build_matrix("song")
    later_skips = skip_events(now)

    assert len(plays) == 4  # ada's two timed plays and count, bob's count; not the bot's
    np.testing.assert_array_equal(plays.matrix(pinned.shape).toarray(), pinned.plays.toarray())
    row, a1_column = pinned.rows_of([ada.pk])[0], pinned.columns_of([a1.pk])[0]
    ada_a1 = (plays.rows == row) & (plays.columns == a1_column)
    assert sorted(plays.times[ada_a1]) == [WHEN.timestamp(), WHEN.replace(hour=5).timestamp()]
    assert plays.untimed == 2  # the aggregated counts have no time
    assert len(skips) == 1 and skips.columns[0] == pinned.columns_of([a2.pk])[0]
    np.testing.assert_array_equal(skips.matrix(pinned.shape).toarray(), pinned.skips.toarray())
    np.testing.assert_array_equal(later_skips.matrix(now.shape).toarray(), now.skips.toarray())
    assert skipped_at.timestamp() in later_skips.times
    assert len(listen_events(now)) == 5


def test_the_play_rows_are_weighted_by_the_half_life_as_the_matrix_is(db):
    ada, song = ListenerFactory(), SongFactory()
    for days in (0, 10, 40):
        ListenFactory(listener=ada, song=song, played_at=WHEN + timedelta(days=days))
    matrix = build_matrix("song", half_life_days=10)

    plays = listen_events(matrix, half_life_days=10)

    # Ages 40, 30 and 0 days back from the newest play: 0.5 ** 4, 0.5 ** 3 and 1.
    assert sorted(plays.values.tolist()) == pytest.approx([1 / 16, 1 / 8, 1])
    assert plays.values.sum() == pytest.approx(matrix.plays.sum())
