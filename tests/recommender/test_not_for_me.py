"""Not-for-me counts against an item: training drops the cell, and so does a fold-in."""

import numpy as np
import pytest

from listening.feedback import feedback_give
from listening.models import FeedbackKind
from recommender import publishing, refresh, serving
from recommender.data import build_matrix, listen_events
from recommender.evaluations import without_refused
from recommender.training import model_run_create, model_run_train, weigh
from tests.factories import ArtistFactory, ListenerFactory, ListenFactory, SongFactory


@pytest.fixture
def two_circles(db):
    """Five listeners play a and c together, five play b and d; ada played a twenty times
    and b once. Her heavy plays of a would make c her first suggestion."""
    artist_a, artist_b = ArtistFactory(), ArtistFactory()
    songs = {name: SongFactory(artist=artist_a if name in "ac" else artist_b) for name in "abcd"}
    for pair in ("ac", "bd"):
        for _ in range(5):
            listener = ListenerFactory()
            for name in pair:
                ListenFactory(listener=listener, song=songs[name], played_at=None, play_count=3)
    ada = ListenerFactory()
    ListenFactory(listener=ada, song=songs["a"], played_at=None, play_count=20)
    ListenFactory(listener=ada, song=songs["b"], played_at=None, play_count=1)
    return {"ada": ada, "artist_a": artist_a, **{name: song.pk for name, song in songs.items()}}


def refuse(listener, **target):
    feedback_give(listener, kind=FeedbackKind.NOT_FOR_ME, refresh=False, **target)


def test_training_drops_a_refused_song_whatever_its_plays(two_circles):
    refuse(two_circles["ada"], song_id=two_circles["a"])
    matrix = build_matrix("song")
    row = matrix.rows_of(np.array([two_circles["ada"].pk]))[0]
    a, b = matrix.columns_of(np.array([two_circles["a"], two_circles["b"]]))

    assert matrix.plays[row, a] == 20  # the plays are kept; their weight is not
    weighted = weigh(matrix, {"scheme": "log", "skip_penalty": 0.0})
    assert weighted[row, a] == 0 and weighted[row, b] > 0
    assert weighted.nnz == matrix.plays.nnz - 1


def test_at_song_level_a_refused_artist_stands_for_its_songs(two_circles):
    refuse(two_circles["ada"], artist_id=two_circles["artist_a"].pk)
    matrix = build_matrix("song")
    row = matrix.rows_of(np.array([two_circles["ada"].pk]))[0]
    a, c = matrix.columns_of(np.array([two_circles["a"], two_circles["c"]]))

    assert matrix.refused[row, a] == 1 and matrix.refused[row, c] == 1
    assert matrix.refused.sum() == 2
    artists = build_matrix("artist")
    assert artists.refused.sum() == 1


def test_a_refused_song_no_longer_shapes_the_listeners_published_list(two_circles):
    refuse(two_circles["ada"], song_id=two_circles["a"])
    run = model_run_create(algorithm="item_knn", params={"k_neighbours": 10})
    model_run_train(run_id=run.pk)
    publishing.publish(run_id=run.pk, top_n=2)

    items = serving.listener_list(two_circles["ada"].pk, "song")["items"]
    assert items[0] == two_circles["d"]  # from b, her one play she did not refuse


def test_a_refresh_after_not_for_me_refolds_without_the_song(two_circles):
    run = model_run_create(algorithm="item_knn", params={"k_neighbours": 10})
    model_run_train(run_id=run.pk)
    publishing.publish(run_id=run.pk, top_n=2)
    ada = two_circles["ada"]
    assert serving.listener_list(ada.pk, "song")["items"][0] == two_circles["c"]

    refuse(ada, song_id=two_circles["a"])
    assert refresh.refresh_listener(ada.pk)
    assert serving.listener_list(ada.pk, "song")["items"][0] == two_circles["d"]


def test_an_evaluation_neither_trains_on_nor_scores_a_refused_song(two_circles):
    refuse(two_circles["ada"], song_id=two_circles["a"])
    matrix = build_matrix("song")
    row = matrix.rows_of(np.array([two_circles["ada"].pk]))[0]
    a = matrix.columns_of(np.array([two_circles["a"]]))[0]

    plays, events = without_refused(matrix, listen_events(matrix))
    assert plays[row, a] == 0 and plays.nnz == matrix.plays.nnz - 1
    assert not ((events.rows == row) & (events.columns == a)).any()
    assert len(events) == len(listen_events(matrix)) - 1
