"""Near-real-time refresh: a listener's new listens change their suggestions within seconds."""

import time

import pytest
from django.core.cache import cache

from catalog.models import Song
from listening.feedback import feedback_give
from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from listening.listen_submission import ListenItem, listens_record
from listening.models import Listener
from recommender import publishing, refresh, serving
from recommender.models import ListenerRecommendations
from recommender.training import model_run_create, model_run_train
from tests.factories import UserFactory


def prepared(tmp_path) -> tuple[Listener, int]:
    path = tmp_path / "scrobbles.tsv"
    generate(path, "lastfm-1k", n_listeners=30, n_songs=120, n_listens=3000, seed=4)
    listen_import_run(batch_id=listen_import_create(path=path).pk)
    run = model_run_create(algorithm="als", params={"factors": 8, "iterations": 3})
    model_run_train(run_id=run.pk)
    published = publishing.publish(run_id=run.pk, top_n=10)
    cache.clear()
    return Listener.objects.order_by("pk").first(), published.pk


def song_row(set_id: int, listener: Listener) -> ListenerRecommendations:
    return ListenerRecommendations.objects.get(
        recommendation_set_id=set_id, listener=listener, level="song"
    )


def test_new_listens_refold_the_listener_in_process(
    db, tmp_path, django_capture_on_commit_callbacks
):
    listener, set_id = prepared(tmp_path)
    before = serving.listener_list(listener.pk, "song")
    top = before["items"][:3]

    with django_capture_on_commit_callbacks(execute=True):
        listens_record(listener, [ListenItem(song_id=song, play_count=20) for song in top])

    after = serving.listener_list(listener.pk, "song")  # the cached list was dropped
    assert after["refreshed_at"] is not None
    assert not set(top) & set(after["items"])
    assert after["items"] != before["items"]
    assert song_row(set_id, listener).refreshed_at is not None


def test_a_burst_of_listens_asks_for_one_refresh(db, tmp_path, django_capture_on_commit_callbacks):
    listener, _ = prepared(tmp_path)
    songs = list(Song.objects.values_list("pk", flat=True)[:5])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        for song in songs:
            listens_record(listener, [ListenItem(song_id=song)])
    assert len(queued) == 1


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.redis
def test_with_a_real_worker_the_new_list_is_readable_within_five_seconds(
    celery_worker_process, tmp_path
):
    listener, set_id = prepared(tmp_path)
    top = serving.listener_list(listener.pk, "song")["items"][:3]

    started = time.monotonic()
    listens_record(listener, [ListenItem(song_id=song, play_count=20) for song in top])
    while time.monotonic() - started < 5:
        row = song_row(set_id, listener)
        if row.refreshed_at is not None:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started

    assert row.refreshed_at is not None, celery_worker_process.log_path.read_text()[-3000:]
    assert elapsed < 5
    assert not set(top) & set(serving.listener_list(listener.pk, "song")["items"])


def test_loved_artists_give_a_new_account_personal_suggestions_at_once(db, tmp_path):
    prepared(tmp_path)
    newcomer = Listener.objects.for_user(UserFactory())
    charts = serving.listener_list(newcomer.pk, "song")
    assert charts["fallback"]
    artists = list(
        Song.objects.values_list("artist_id", flat=True).distinct().order_by("artist_id")[:3]
    )
    for artist in artists:
        feedback_give(newcomer, kind="love", artist_id=artist)

    assert refresh.refresh_listener(newcomer.pk)

    mine = serving.listener_list(newcomer.pk, "song")
    assert not mine["fallback"] and mine["items"] != charts["items"]
    loved_songs = set(Song.objects.filter(artist_id__in=artists).values_list("pk", flat=True))
    assert {reason for reason in mine["reasons"] if reason} <= loved_songs


def test_a_new_publication_keeps_the_lists_loves_gave(db, tmp_path):
    _, set_id = prepared(tmp_path)
    newcomer = Listener.objects.for_user(UserFactory())
    for artist in Song.objects.values_list("artist_id", flat=True).distinct()[:3]:
        feedback_give(newcomer, kind="love", artist_id=artist)
    run_id = ListenerRecommendations.objects.filter(recommendation_set_id=set_id).first()
    published = publishing.publish(run_id=run_id.recommendation_set.run_id, top_n=10)
    row = song_row(published.pk, newcomer)
    assert not row.is_fallback and len(row.item_ids) == 10
