from datetime import UTC, datetime

import pytest

from listening.services import data_snapshot_create
from tests.factories import ArtistFactory, ListenerFactory, ListenFactory, SongFactory


@pytest.mark.django_db
def test_a_snapshot_counts_what_a_model_would_see():
    ada, bob = ListenerFactory(), ListenerFactory()
    ListenerFactory()  # no listens: not in the snapshot
    song = SongFactory()
    newest = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    ListenFactory(listener=ada, song=song, played_at=datetime(2024, 1, 1, tzinfo=UTC))
    ListenFactory(listener=ada, song=song, played_at=newest)
    ListenFactory(listener=bob, song=song, played_at=None, play_count=40)
    last = ListenFactory(
        listener=bob, song=None, artist=ArtistFactory(), played_at=None, play_count=7
    )

    snapshot = data_snapshot_create()

    assert (snapshot.listens, snapshot.play_total) == (4, 49)
    assert (snapshot.listeners, snapshot.songs, snapshot.artists) == (2, 1, 2)
    assert snapshot.last_listen_id == last.pk
    assert snapshot.newest_played_at == newest


@pytest.mark.django_db
def test_a_snapshot_of_no_data_is_all_zeros():
    snapshot = data_snapshot_create()
    assert (snapshot.listens, snapshot.play_total, snapshot.listeners) == (0, 0, 0)
    assert snapshot.last_listen_id is None
