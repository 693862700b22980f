"""One builder: publishing and a refresh give a listener the same lists from the same data."""

import pytest

from catalog.models import Song
from listening.models import Feedback, FeedbackKind, Listen, Listener
from recommender import publishing, refresh, serving
from recommender.listener_lists import MIN_HISTORY
from recommender.models import ListenerRecommendations
from recommender.training import model_run_create, model_run_train
from tests.listening_data import import_generated

FIELDS = ("level", "item_ids", "scores", "reasons", "is_fallback")


def lists_of(set_id: int, listener_id: int) -> dict[str, tuple]:
    rows = ListenerRecommendations.objects.filter(
        recommendation_set_id=set_id, listener_id=listener_id
    ).values_list(*FIELDS)
    return {row[0]: row[1:] for row in rows}


@pytest.fixture
def listeners(db, tmp_path) -> dict[str, Listener]:
    """A regular listener, one who refused a song, a newcomer with fewer than MIN_HISTORY
    songs, and a new account with nothing but a loved artist."""
    import_generated(tmp_path)
    regular, refuser = Listener.objects.order_by("pk")[:2]
    songs = list(Song.objects.order_by("pk")[: MIN_HISTORY - 1])
    newcomer = Listener.objects.create(source="site", display_name="new")
    for song in songs:
        Listen.objects.create(listener=newcomer, song=song, artist_id=song.artist_id)
    lover = Listener.objects.create(source="site", display_name="lover")
    Feedback.objects.create(listener=lover, artist_id=songs[0].artist_id, kind=FeedbackKind.LOVE)
    heard = Listen.objects.filter(listener=refuser).values_list("song_id", flat=True)
    unheard = Song.objects.exclude(pk__in=heard).order_by("pk").first()
    Feedback.objects.create(listener=refuser, song=unheard, kind=FeedbackKind.NOT_FOR_ME)
    return {"regular": regular, "refuser": refuser, "newcomer": newcomer, "lover": lover}


@pytest.mark.parametrize(
    ("algorithm", "params"),
    [("item_knn", {}), ("als", {"factors": 8, "iterations": 3}), ("ease", {})],
)
def test_refresh_and_publish_give_the_same_lists(listeners, algorithm, params):
    run = model_run_create(algorithm=algorithm, params=params, level="song", seed=1)
    model_run_train(run_id=run.pk)
    published = publishing.publish(run_id=run.pk, top_n=10)
    before = {name: lists_of(published.pk, one.pk) for name, one in listeners.items()}

    for one in listeners.values():
        assert refresh.refresh_listener(one.pk)

    after = {name: lists_of(published.pk, one.pk) for name, one in listeners.items()}
    assert after == before
    assert set(before["regular"]) == {"song", "artist"}
    assert before["newcomer"]["song"][3] and before["newcomer"]["artist"][3]  # fallback
    assert not before["lover"]["song"][3]  # the love folds in like plays
    assert not before["regular"]["song"][3]


def test_refresh_and_publish_agree_at_artist_level(listeners):
    run = model_run_create(algorithm="item_knn", level="artist", seed=1)
    model_run_train(run_id=run.pk)
    published = publishing.publish(run_id=run.pk, top_n=5)
    before = {name: lists_of(published.pk, one.pk) for name, one in listeners.items()}

    for one in listeners.values():
        refresh.refresh_listener(one.pk)

    assert {name: lists_of(published.pk, one.pk) for name, one in listeners.items()} == before
    assert set(before["regular"]) == {"artist", "song"}  # songs made from the artists


def test_a_listener_the_model_knows_nothing_of_gets_the_charts_on_both_paths(listeners):
    from tests.factories import SongFactory

    run = model_run_create(algorithm="item_knn", level="song", seed=1)
    model_run_train(run_id=run.pk)
    published = publishing.publish(run_id=run.pk, top_n=10)
    empty = Listener.objects.create(source="site", display_name="nothing yet")
    unknown = SongFactory()  # arrived after training: the model has no column for it
    stranger = Listener.objects.create(source="site", display_name="only new songs")
    Listen.objects.create(listener=stranger, song=unknown, artist_id=unknown.artist_id)

    assert refresh.refresh_listener(empty.pk)
    # Nothing to fold in: no row, as publishing writes none; readers show the set's charts.
    assert lists_of(published.pk, empty.pk) == {}
    assert serving.listener_list(empty.pk, "song")["fallback"]
    assert refresh.refresh_listener(stranger.pk)  # its seeds have no neighbours stored
    songs = lists_of(published.pk, stranger.pk)["song"]
    assert songs[3] and songs[0] == [item for item, _ in published.charts["song"]]

    # A publication's catch-up refolds such a listener like any other, and the rest too.
    again = publishing.publish(run_id=run.pk, top_n=10)
    assert lists_of(again.pk, stranger.pk) == lists_of(published.pk, stranger.pk)
