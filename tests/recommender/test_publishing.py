"""Publishing a run: every listener's lists in a new set, switched on at once, rolled back."""

import threading

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from catalog.models import Song
from listening.feedback import feedback_give
from listening.listen_submission import ListenItem, listens_record
from listening.models import Feedback, FeedbackKind, Listen, Listener
from recommender import publish_prepare, publishing, refresh, serving, tasks
from recommender.evaluations import evaluation_create, evaluation_run, protocol_weighted
from recommender.models import (
    Evaluation,
    ListenerRecommendations,
    ModelRun,
    RecommendationSet,
    SetStatus,
    SimilarItems,
)
from recommender.training import DEFAULT_WEIGHTING, model_run_create, model_run_train
from tests.factories import StaffFactory
from tests.listening_data import import_generated


@pytest.fixture
def listening(db, tmp_path):
    import_generated(tmp_path)


def trained(algorithm: str = "item_knn", level: str = "song", **params) -> int:
    run = model_run_create(algorithm=algorithm, params=params, level=level, seed=1)
    model_run_train(run_id=run.pk)
    return run.pk


def row(set_id: int, listener_id: int, level: str) -> ListenerRecommendations:
    return ListenerRecommendations.objects.get(
        recommendation_set_id=set_id, listener_id=listener_id, level=level
    )


@pytest.mark.parametrize("algorithm", ["item_knn", "als", "blend"])
def test_every_listener_gets_unheard_songs_and_artists_with_reasons(listening, algorithm):
    params = {"factors": 8, "iterations": 3} if algorithm == "als" else {}
    if algorithm == "blend":
        params = {"components": [{"algorithm": "ease"}, {"algorithm": "rp3beta"}]}
    published = publishing.publish(run_id=trained(algorithm, **params), top_n=10)

    assert published.status == SetStatus.ACTIVE
    listeners = Listener.objects.count()
    assert published.listeners_count == listeners
    songs = ListenerRecommendations.objects.filter(recommendation_set=published, level="song")
    assert songs.count() == listeners
    for suggestion in songs:
        heard = set(
            Listen.objects.filter(listener_id=suggestion.listener_id).values_list(
                "song_id", flat=True
            )
        )
        assert 0 < len(suggestion.item_ids) <= 10
        assert not heard & set(suggestion.item_ids)
        assert suggestion.scores == sorted(suggestion.scores, reverse=True)
        given = [reason for reason in suggestion.reasons if reason is not None]
        assert given and set(given) <= heard
    artists = ListenerRecommendations.objects.filter(recommendation_set=published, level="artist")
    # Small data: a listener may have heard every artist the song lists lead to.
    assert artists.count() >= 0.9 * listeners
    for suggestion in artists:
        heard = set(
            Listen.objects.filter(listener_id=suggestion.listener_id).values_list(
                "artist_id", flat=True
            )
        )
        assert not heard & set(suggestion.item_ids)
        assert len(set(suggestion.item_ids)) == len(suggestion.item_ids)
    assert SimilarItems.objects.filter(recommendation_set=published, level="song").count() > 100
    assert SimilarItems.objects.filter(recommendation_set=published, level="artist").exists()
    assert len(published.charts["song"]) == 10 and len(published.charts["artist"]) == 10
    assert set(published.timings) >= {"rank_seconds", "write_seconds"}


def test_not_for_me_and_new_listens_are_honoured_at_publication(listening):
    run_id = trained()
    listener = Listener.objects.order_by("pk").first()
    first = publishing.publish(run_id=run_id, top_n=10)
    refused = row(first.pk, listener.pk, "song").item_ids[0]
    Feedback.objects.create(listener=listener, song_id=refused, kind=FeedbackKind.NOT_FOR_ME)
    played = row(first.pk, listener.pk, "song").item_ids[1]
    song = Song.objects.get(pk=played)
    Listen.objects.create(listener=listener, song=song, artist_id=song.artist_id, play_count=3)

    second = publishing.publish(run_id=run_id, top_n=10)

    items = row(second.pk, listener.pk, "song").item_ids
    assert refused not in items and played not in items


def test_publication_switches_sets_atomically_and_rolls_back(listening):
    run_id = trained()
    first = publishing.publish(run_id=run_id, top_n=5)
    second = publishing.publish(run_id=run_id, top_n=8)

    first.refresh_from_db()
    assert (first.status, second.status) == (SetStatus.RETIRED, SetStatus.ACTIVE)
    assert serving.active_set().id == second.pk
    listener = Listener.objects.order_by("pk").first()
    assert len(serving.listener_list(listener.pk, "song")["items"]) == 8

    back = publishing.rollback()
    assert back.pk == first.pk and back.status == SetStatus.ACTIVE
    assert serving.active_set().id == first.pk
    assert len(serving.listener_list(listener.pk, "song")["items"]) == 5
    assert RecommendationSet.objects.filter(status=SetStatus.ACTIVE).count() == 1


def test_old_sets_are_pruned_beyond_the_ones_kept(listening, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "SETS_TO_KEEP": 1}
    run_id = trained()
    sets = [publishing.publish(run_id=run_id, top_n=3).pk for _ in range(3)]
    assert list(RecommendationSet.objects.order_by("pk").values_list("pk", flat=True)) == sets[1:]
    assert not ListenerRecommendations.objects.filter(recommendation_set_id=sets[0]).exists()


def test_a_failed_publication_leaves_the_active_set_and_no_rows(listening, monkeypatch):
    run_id = trained()
    active = publishing.publish(run_id=run_id, top_n=3)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(publish_prepare, "write_similar", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        publishing.publish(run_id=run_id, top_n=3)

    failed = RecommendationSet.objects.exclude(pk=active.pk).get()
    assert failed.status == SetStatus.FAILED and "disk full" in failed.error
    assert not ListenerRecommendations.objects.filter(recommendation_set=failed).exists()
    active.refresh_from_db()
    assert active.status == SetStatus.ACTIVE


def test_listeners_with_little_history_get_a_marked_fallback(listening):
    song = Song.objects.order_by("pk").first()
    newcomer = Listener.objects.create(source="site", display_name="new")
    Listen.objects.create(listener=newcomer, song=song, artist_id=song.artist_id, play_count=1)
    published = publishing.publish(run_id=trained(), top_n=5)

    fallback = row(published.pk, newcomer.pk, "song")
    assert fallback.is_fallback and len(fallback.item_ids) == 5
    assert song.pk not in fallback.item_ids
    assert set(fallback.reasons) <= {song.pk, None}
    nobody = Listener.objects.create(source="site", display_name="empty")
    charts = serving.listener_list(nobody.pk, "song")
    assert charts["fallback"] and charts["items"] == [item for item, _ in published.charts["song"]]


def test_only_a_trained_run_publishes(listening):
    run = model_run_create(algorithm="popularity")
    with pytest.raises(publishing.PublishError, match="only a trained run"):
        publishing.publish(run_id=run.pk)
    assert not RecommendationSet.objects.exists()


def test_the_command_and_the_task_publish(listening):
    run_id = trained()
    call_command("publish", str(run_id), "--top-n", "4")
    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE).top_n == 4
    set_id = tasks.recommendation_set_publish.delay(run_id, 6).get()
    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE).pk == set_id
    with pytest.raises(CommandError, match="RUN_ID or --best"):
        call_command("publish")
    with pytest.raises(CommandError, match="no finished evaluation"):
        call_command("publish", "--best")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_reader_during_publication_sees_a_whole_old_or_new_list(tmp_path):
    import_generated(tmp_path)
    run_id = trained()
    publishing.publish(run_id=run_id, top_n=5)
    listener = Listener.objects.order_by("pk").first()
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT jsonb_array_length(r.item_ids)"
                        " FROM recommender_listenerrecommendations r"
                        " JOIN recommender_recommendationset s"
                        " ON s.id = r.recommendation_set_id"
                        " WHERE s.status = 'active' AND r.listener_id = %s AND r.level = 'song'",
                        [listener.pk],
                    )
                    seen.extend(length for (length,) in cursor.fetchall())
        finally:
            connection.close()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        publishing.publish(run_id=run_id, top_n=9)
    finally:
        stop.set()
        reader.join()
    assert seen and set(seen) <= {5, 9}
    assert np.isin([5, 9], seen).any()


def test_staff_publish_a_run_and_roll_back_from_the_admin(
    client, listening, django_capture_on_commit_callbacks
):
    client.force_login(StaffFactory())
    run_id = trained()
    first = publishing.publish(run_id=run_id, top_n=3)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:recommender_modelrun_changelist"),
            {"action": "publish", "_selected_action": [run_id]},
            follow=True,
        )
    assert "Publishing run" in response.content.decode()
    second = RecommendationSet.objects.get(status=SetStatus.ACTIVE)
    assert second.pk != first.pk

    response = client.post(
        reverse("admin:recommender_recommendationset_changelist"),
        {"action": "roll_back", "_selected_action": [second.pk]},
        follow=True,
    )
    assert f"Set {first.pk}" in response.content.decode()
    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE).pk == first.pk
    page = client.get(reverse("admin:recommender_recommendationset_change", args=[first.pk]))
    assert page.status_code == 200


def evaluated(params: dict) -> Evaluation:
    """A finished evaluation of item-kNN with `params`, weighing plays as runs are trained."""
    evaluation = evaluation_create(
        algorithm_params={"item_knn": params},
        protocol=protocol_weighted(DEFAULT_WEIGHTING, ks=(10,), bootstrap=50),
    )
    return evaluation_run(evaluation_id=evaluation.pk)


def test_best_publishes_the_run_with_the_parameters_the_evaluation_chose(listening):
    chosen = trained("item_knn", k_neighbours=10)
    trained("item_knn", k_neighbours=30)  # newer, of the same algorithm, not what was chosen
    trained("popularity")
    evaluation = evaluated({"k_neighbours": 10})

    call_command("publish", "--best", "--top-n", "3")

    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE).run_id == chosen
    assert ModelRun.objects.get(pk=chosen).metrics == evaluation.run_metrics("item_knn")


def test_best_trains_what_the_evaluation_chose_when_no_run_has_it(listening):
    trained("item_knn", k_neighbours=30)
    evaluation = evaluated({"k_neighbours": 15})

    call_command("publish", "--best", "--top-n", "3")

    run = RecommendationSet.objects.get(status=SetStatus.ACTIVE).run
    assert (run.algorithm, run.params, run.snapshot_id) == (
        "item_knn",
        {"k_neighbours": 15},
        evaluation.snapshot_id,
    )
    assert run.metrics["evaluation"] == evaluation.pk and run.metrics["values"]["ndcg@10"] >= 0


def test_what_listeners_do_during_a_publication_counts_in_the_new_set(listening):
    run_id = trained()
    first = publishing.publish(run_id=run_id, top_n=10)
    listener, refuser = Listener.objects.order_by("pk")[:2]
    top = row(first.pk, listener.pk, "song").item_ids[:3]
    refused = row(first.pk, refuser.pk, "song").item_ids[0]
    newcomer = Listener.objects.create(source="site", display_name="new")
    artist = Song.objects.order_by("pk").first().artist_id

    def meanwhile(step: str, fraction: float) -> None:
        # Held at this step, after the publication read its data. The refreshes these
        # ask for are never run here (the test's transaction does not commit).
        if step == "ranking the listeners":
            listens_record(listener, [ListenItem(song_id=song, play_count=20) for song in top])
            feedback_give(newcomer, kind=FeedbackKind.LOVE, artist_id=artist)
            feedback_give(refuser, kind=FeedbackKind.NOT_FOR_ME, song_id=refused)

    published = publishing.publish(run_id=run_id, top_n=10, on_progress=meanwhile)

    assert Listen.objects.filter(listener=listener, song_id__in=top, play_count=20).count() == 3
    songs = row(published.pk, listener.pk, "song")
    assert songs.refreshed_at is not None and not set(top) & set(songs.item_ids)
    assert refused not in row(published.pk, refuser.pk, "song").item_ids
    assert not row(published.pk, newcomer.pk, "song").is_fallback
    assert published.timings["caught_up_listeners"] == 3
    # What the catch-up wrote is what a refresh of each of them gives now.
    fields = ("listener_id", "level", "item_ids", "scores", "reasons", "is_fallback")
    caught = ListenerRecommendations.objects.filter(
        recommendation_set=published, listener__in=[listener, refuser, newcomer]
    ).order_by("listener_id", "level")
    before = list(caught.values_list(*fields))
    for one in (listener, refuser, newcomer):
        refresh.refresh_listener(one.pk)
    assert list(caught.values_list(*fields)) == before
    assert len(before) == 6  # song and artist lists for each


@pytest.mark.django_db(transaction=True)
def test_a_refresh_run_during_a_publication_is_not_lost_when_it_activates(tmp_path):
    # Committed for real: the listen's refresh runs (eagerly, or on a worker) while the
    # publication is held, and lands in the set active then, the old one.
    import_generated(tmp_path)
    run_id = trained()
    first = publishing.publish(run_id=run_id, top_n=10)
    listener = Listener.objects.order_by("pk").first()
    top = row(first.pk, listener.pk, "song").item_ids[:3]

    def meanwhile(step: str, fraction: float) -> None:
        if step == "ranking the listeners":
            listens_record(listener, [ListenItem(song_id=song, play_count=20) for song in top])

    published = publishing.publish(run_id=run_id, top_n=10, on_progress=meanwhile)

    assert not set(top) & set(row(first.pk, listener.pk, "song").item_ids)  # the old set
    assert not set(top) & set(row(published.pk, listener.pk, "song").item_ids)
    assert not set(top) & set(serving.listener_list(listener.pk, "song")["items"])
