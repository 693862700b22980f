"""Publishing an artist-level run: every listener gets song lists made from their artist
lists, of each artist's most-listened songs, on the bulk path and in a refresh alike."""

from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from django.db.models import Count

from listening.models import Feedback, FeedbackKind, Listen, Listener
from recommender import publishing, refresh
from recommender.listener_lists import SONGS_PER_ARTIST, ArtistSongs, songs_from_artists
from recommender.models import ArtistTopSongs, ListenerRecommendations
from recommender.suggestions import Suggestions
from recommender.training import model_run_create, model_run_train
from tests.factories import ArtistFactory, ListenerFactory, ListenFactory
from tests.listening_data import import_generated


@pytest.fixture
def listening(db, tmp_path):
    import_generated(tmp_path)


def published_artist_level(top_n: int = 10):
    run = model_run_create(algorithm="item_knn", level="artist", seed=1)
    model_run_train(run_id=run.pk)
    return publishing.publish(run_id=run.pk, top_n=top_n)


def rows(set_id: int, level: str) -> dict[int, ListenerRecommendations]:
    return {
        row.listener_id: row
        for row in ListenerRecommendations.objects.filter(recommendation_set_id=set_id, level=level)
    }


def test_every_listener_with_artists_gets_unheard_songs_of_those_artists(listening):
    published = published_artist_level()

    artists, songs = rows(published.pk, "artist"), rows(published.pk, "song")
    assert len(artists) >= 0.9 * Listener.objects.count()
    assert set(songs) == set(artists)
    artist_of = dict(Listen.objects.filter(song__isnull=False).values_list("song_id", "artist_id"))
    for listener_id, row in songs.items():
        heard = set(
            Listen.objects.filter(listener_id=listener_id).values_list("song_id", flat=True)
        )
        played_artists = set(
            Listen.objects.filter(listener_id=listener_id).values_list("artist_id", flat=True)
        )
        by = [artist_of[song] for song in row.item_ids]
        assert 0 < len(row.item_ids) <= 10 and not heard & set(row.item_ids)
        assert set(by) <= set(artists[listener_id].item_ids)
        assert max(Counter(by).values()) <= SONGS_PER_ARTIST
        assert set(row.reasons) <= played_artists | set(by)
    # The songs come from each artist's most-listened ones, kept with the set.
    top = ArtistTopSongs.objects.filter(recommendation_set=published).first()
    counts = dict(
        Listen.objects.filter(song_id__in=top.song_ids)
        .values("song_id")
        .annotate(listeners=Count("listener_id", distinct=True))
        .values_list("song_id", "listeners")
    )
    listeners = [counts[song] for song in top.song_ids]
    assert listeners == sorted(listeners, reverse=True)
    assert len(published.charts["song"]) == 10


def test_a_refresh_keeps_song_lists_without_refused_or_newly_heard_songs(listening):
    published = published_artist_level()
    listener_id, row = next(iter(rows(published.pk, "song").items()))
    refused, played = row.item_ids[0], row.item_ids[1]
    Feedback.objects.create(listener_id=listener_id, song_id=refused, kind=FeedbackKind.NOT_FOR_ME)
    artist = Listen.objects.filter(song_id=played).values_list("artist_id", flat=True).first()
    Listen.objects.create(listener_id=listener_id, song_id=played, artist_id=artist)

    assert refresh.refresh_listener(listener_id)

    after = rows(published.pk, "song")[listener_id]
    assert after.refreshed_at is not None and after.item_ids
    assert refused not in after.item_ids and played not in after.item_ids


def test_songs_are_dealt_a_round_at_a_time_and_never_blocked_ones():
    # Two listeners; artists 0 and 1 listed (0 first); artist 0's songs 0, 1, 2, 3; 1's: 4, 5.
    artists = Suggestions(
        np.array([[0, 1], [1, -1]]),
        np.array([[0.9, 0.5], [0.7, np.nan]], np.float32),
        np.array([[-1, 2], [-1, -1]]),
        np.array([False, True]),
    )
    best = np.array([[0, 1, 2, 3], [4, 5, -1, -1], [-1, -1, -1, -1]])
    blocked = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 4])), shape=(2, 6))

    lists = songs_from_artists(artists, ArtistSongs(best, blocked), 6)

    assert lists.items.tolist() == [[0, 4, 2, 5, 3, -1], [5, -1, -1, -1, -1, -1]]
    assert lists.reasons.tolist()[0][:5] == [0, 2, 0, 2, 0]  # own artist, else the reason
    assert lists.fallback.tolist() == [False, True]


def test_listens_that_name_artists_only_publish_and_refresh_artist_lists(db):
    """HetRec's listens name an artist and no song: the set serves artists, and no songs."""
    artists = [ArtistFactory() for _ in range(6)]
    listeners = [ListenerFactory() for _ in range(8)]
    for number, listener in enumerate(listeners):
        for artist in (artists[number % 6], artists[(number + 1) % 6], artists[(number + 2) % 6]):
            ListenFactory(listener=listener, song=None, artist=artist, played_at=None)
    published = published_artist_level(top_n=3)

    assert len(rows(published.pk, "artist")) == len(listeners)
    assert rows(published.pk, "song") == {}
    ListenFactory(listener=listeners[0], song=None, artist=artists[4], played_at=None)
    assert refresh.refresh_listener(listeners[0].pk)
    assert artists[4].pk not in rows(published.pk, "artist")[listeners[0].pk].item_ids
