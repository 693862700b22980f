"""An artist-level publication serves songs too: the API's song list, the home page and the
ready first page show songs of the listener's recommended artists, and a refresh keeps them."""

import re

import pytest
from django.core.cache import cache
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import Song
from listening.models import Listen, Listener
from recommender import publishing
from recommender.training import model_run_create, model_run_train
from tests.listening_data import import_generated
from tests.web.api_accounts import PASSWORD, api_account


@pytest.fixture
def catalogue(db, tmp_path):
    import_generated(tmp_path)
    cache.clear()


def account(name: str) -> tuple[APIClient, Listener]:
    """A signed-in API client whose listener has played songs of three artists (enough
    history for the model's own list)."""
    artists = Song.objects.values_list("artist_id", flat=True).distinct().order_by("artist_id")
    return api_account(
        name, [Song.objects.filter(artist_id=a).first() for a in artists[:3]], session=True
    )


def publish_artist_level() -> int:
    run = model_run_create(algorithm="item_knn", level="artist", seed=1)
    model_run_train(run_id=run.pk)
    return publishing.publish(run_id=run.pk, top_n=10).pk


def listened(listener: Listener, field: str) -> set[int]:
    return set(Listen.objects.filter(listener=listener).values_list(field, flat=True))


def test_the_song_list_and_the_home_page_show_songs_of_the_recommended_artists(catalogue):
    client, listener = account("ann")
    set_id = publish_artist_level()

    url = reverse("api-v1:my-recommendations")
    songs = client.get(url, {"level": "song"}).json()
    artists = client.get(url, {"level": "artist"}).json()

    assert songs["set"] == set_id and not songs["fallback"]
    recommended = [entry["artist"]["id"] for entry in artists["results"]]
    assert songs["results"] and len(songs["results"]) <= 10
    heard_songs, heard_artists = listened(listener, "song_id"), listened(listener, "artist_id")
    for entry in songs["results"]:
        assert entry["song"]["id"] not in heard_songs
        assert entry["song"]["artist"]["id"] in recommended
        # Why: an artist the listener played, or the song's own recommended artist.
        assert entry["reason"]["artist"]["id"] in heard_artists | {entry["song"]["artist"]["id"]}
    # Round by round, one song of each artist before a second: the first ones all differ.
    firsts = [entry["song"]["artist"]["id"] for entry in songs["results"]][: len(recommended)]
    assert len(set(firsts)) == len(firsts)

    browser = Client()
    browser.login(request=HttpRequest(), username="ann", password=PASSWORD)  # for axes
    page = browser.get(reverse("home")).content.decode()
    assert "No suggestions are published yet" not in page
    shown = [int(song) for song in re.findall(r'data-song="(\d+)"', page)]
    assert shown == [entry["song"]["id"] for entry in songs["results"]]
    by = set(Song.objects.filter(pk__in=shown).values_list("artist_id", flat=True))
    assert by <= set(recommended) and not set(shown) & heard_songs
    assert "because you" in page


def test_after_a_listen_the_refreshed_song_list_still_holds_unheard_songs(
    catalogue, django_capture_on_commit_callbacks
):
    client, listener = account("ann")
    publish_artist_level()
    url = reverse("api-v1:my-recommendations")
    first = client.get(url).json()  # the first page, kept ready (fast_reads)
    top = first["results"][0]["song"]

    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(
            reverse("api-v1:my-listens"), {"listens": [{"song": top["id"]}]}, format="json"
        )

    assert posted.status_code == 201
    fresh = client.get(url).json()
    assert fresh["refreshed_at"] and fresh["results"]
    shown = {entry["song"]["id"] for entry in fresh["results"]}
    assert not shown & listened(listener, "song_id")
    # The artist just played is heard now: none of their songs is suggested.
    assert top["artist"]["id"] not in {entry["song"]["artist"]["id"] for entry in fresh["results"]}
