"""Reasons tell the truth: a new listener's suggestions name only the artists they picked
("because you picked X"), what they picked, loved or played is never offered back, and a
listener with history sees reasons naming only their own listens and loves."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from catalog.models import Artist, Song
from listening.feedback import feedback_give
from listening.models import Feedback, FeedbackKind, FeedbackOrigin, Listen, Listener
from recommender import publishing
from recommender.refresh import refresh_listener
from recommender.training import model_run_create, model_run_train
from tests.factories import UserFactory
from tests.listening_data import import_generated, publish_trained

PASSWORD = "a long enough password"


@pytest.fixture
def catalogue(db, tmp_path):
    import_generated(tmp_path)
    cache.clear()


def publish_artist_level() -> int:
    run = model_run_create(algorithm="item_knn", level="artist", seed=1)
    model_run_train(run_id=run.pk)
    return publishing.publish(run_id=run.pk, top_n=10).pk


def onboarded(picks: list[int]) -> tuple[Client, Listener]:
    """A new account that picked these artists on the welcome page, and nothing else."""
    user = UserFactory(password=PASSWORD)
    client = Client()
    client.force_login(user)
    response = client.post(reverse("onboarding"), {"artist": picks})
    assert response.status_code == 302
    return client, Listener.objects.for_user(user)


def most_played_artists(n: int) -> list[int]:
    """Popular artists: the ones most likely to come back as suggestions if not blocked."""
    from django.db.models import Count

    return list(
        Listen.objects.values("artist_id")
        .annotate(listeners=Count("listener_id", distinct=True))
        .order_by("-listeners", "artist_id")
        .values_list("artist_id", flat=True)[:n]
    )


def recommendations(client: Client, level: str) -> dict:
    cache.clear()
    return client.get(reverse("api-v1:my-recommendations"), {"level": level}).json()


def assert_only_picks_are_named(client: Client, picks: list[int]) -> None:
    songs = recommendations(client, "song")
    artists = recommendations(client, "artist")
    assert songs["results"], "the picks gave no suggestions at all"
    for entry in songs["results"] + artists["results"]:
        reason = entry["reason"]
        assert reason is None or reason["kind"] in {"picked", "might_like"}, reason
        if reason and reason["kind"] == "picked":
            assert "song" not in reason and reason["artist"]["id"] in picks
    named = [entry["reason"] for entry in songs["results"] if entry["reason"]]
    assert named, "no suggestion says why"
    suggested = {entry["artist"]["id"] for entry in artists["results"]}
    assert not suggested & set(picks)


def test_onboarding_reasons_name_only_the_picked_artists_as_picks_and_never_suggest_them(
    catalogue,
):
    publish_trained("item_knn")
    picks = most_played_artists(3)
    client, listener = onboarded(picks)

    assert Feedback.objects.filter(listener=listener, origin=FeedbackOrigin.PICKED).count() == 3
    assert_only_picks_are_named(client, picks)
    page = client.get(reverse("home")).content.decode()
    assert "because you picked" in page and "because you played" not in page
    artists_section = page.split("Artists you may like", 1)[-1].split("</section>", 1)[0]
    for artist in Artist.objects.filter(pk__in=picks):
        assert reverse("artist", args=[artist.pk]) not in artists_section

    refresh_listener(listener.pk)  # a refresh, then a new publication: the same truths
    assert_only_picks_are_named(client, picks)
    publish_trained("item_knn")
    assert_only_picks_are_named(client, picks)


def test_an_artist_level_set_never_suggests_a_picked_artist_nor_names_it_as_played(catalogue):
    publish_artist_level()
    picks = most_played_artists(3)
    client, listener = onboarded(picks)

    assert_only_picks_are_named(client, picks)
    refresh_listener(listener.pk)
    assert_only_picks_are_named(client, picks)
    publish_artist_level()
    assert_only_picks_are_named(client, picks)


def test_a_listener_with_listens_and_loves_gets_reasons_naming_only_their_own_items(catalogue):
    listener = Listener.objects.filter(user__isnull=True).order_by("pk").first()
    user = UserFactory(password=PASSWORD)
    listener.user = user
    listener.save()
    played = set(Listen.objects.filter(listener=listener).values_list("song_id", flat=True))
    unplayed = Song.objects.exclude(pk__in=played).order_by("pk")
    loved = list(unplayed.values_list("pk", flat=True)[:2])
    for song in loved:
        feedback_give(listener, kind=FeedbackKind.LOVE, song_id=song, refresh=False)
    publish_trained("item_knn")
    client = Client()
    client.force_login(user)

    songs = recommendations(client, "song")
    kinds = set()
    for entry in songs["results"]:
        assert entry["song"]["id"] not in played | set(loved)
        reason = entry["reason"]
        if reason is None:
            continue
        kinds.add(reason["kind"])
        if reason["kind"] == "played":
            assert reason["song"]["id"] in played
        else:
            assert reason["kind"] == "loved" and reason["song"]["id"] in loved
    assert "played" in kinds


def test_the_charts_a_listener_without_a_list_gets_leave_out_their_picked_artists(catalogue):
    publish_trained("item_knn")
    picks = most_played_artists(3)  # the top of the artist chart
    user = UserFactory(password=PASSWORD)
    listener = Listener.objects.for_user(user)
    for artist in picks:  # picked after the publication, no refresh yet: no row of theirs
        feedback_give(
            listener,
            kind=FeedbackKind.LOVE,
            artist_id=artist,
            origin=FeedbackOrigin.PICKED,
            refresh=False,
        )
    client = Client()
    client.force_login(user)

    artists = recommendations(client, "artist")
    assert artists["fallback"] and artists["results"]
    listed = [entry["artist"]["id"] for entry in artists["results"]]
    assert not set(listed) & set(picks)
    assert [entry["rank"] for entry in artists["results"]] == list(range(1, len(listed) + 1))
