"""Love and not-for-me can be taken back: in the API (DELETE) and on the song and artist
pages (an Undo button where the feedback is shown); the suggestions refresh as after
giving it."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from catalog.models import Song
from listening.models import Feedback, FeedbackKind, Listener
from tests.factories import FeedbackFactory, SongFactory, UserFactory
from tests.listening_data import import_generated, publish_trained
from tests.web.api_accounts import api_account


@pytest.fixture
def catalogue(db, tmp_path):
    import_generated(tmp_path)
    cache.clear()


def song_ids(client) -> list[int]:
    response = client.get(reverse("api-v1:my-recommendations"), {"page_size": 100})
    assert response.status_code == 200, response.content
    return [entry["song"]["id"] for entry in response.json()["results"]]


def test_undoing_not_for_me_in_the_api_lets_the_song_be_suggested_again(
    catalogue, django_capture_on_commit_callbacks
):
    client, listener = api_account("ann", Song.objects.order_by("pk")[:5])
    publish_trained("item_knn", top_n=30)
    top = song_ids(client)[0]
    client.post(reverse("api-v1:my-feedback"), {"kind": "not_for_me", "song": top}, format="json")
    assert top not in song_ids(client)

    with django_capture_on_commit_callbacks(execute=True):
        undone = client.delete(reverse("api-v1:my-feedback-song", args=[top]))

    assert undone.status_code == 204
    assert not Feedback.objects.filter(listener=listener).exists()
    assert top in song_ids(client)  # refreshed, as after giving feedback


def test_undo_in_the_api_takes_back_only_the_listeners_own_word_and_says_when_there_is_none(db):
    song = SongFactory()
    client, listener = api_account("ann", [])
    other = FeedbackFactory(song=song, kind=FeedbackKind.LOVE)
    FeedbackFactory(listener=listener, artist=song.artist, song=None, kind=FeedbackKind.LOVE)

    missing = client.delete(reverse("api-v1:my-feedback-song", args=[song.pk]))
    artist = client.delete(reverse("api-v1:my-feedback-artist", args=[song.artist_id]))
    again = client.delete(reverse("api-v1:my-feedback-artist", args=[song.artist_id]))

    assert (
        missing.status_code == 404 and "no feedback on song" in missing.json()["error"]["message"]
    )
    assert artist.status_code == 204
    assert again.status_code == 404
    assert list(Feedback.objects.all()) == [other]
    anonymous = Client().delete(reverse("api-v1:my-feedback-song", args=[song.pk]))
    assert anonymous.status_code == 401


def test_the_song_page_shows_the_love_with_an_undo_button_that_takes_it_back(db):
    song = SongFactory()
    user = UserFactory()
    client = Client()
    client.force_login(user)
    client.post(reverse("feedback"), {"kind": "love", "song": song.pk})
    page = client.get(reverse("song", args=[song.pk])).content.decode()
    assert "You love this song." in page and ">Undo</button>" in page

    answer = client.post(
        reverse("feedback"),
        {"kind": "undo", "song": song.pk, "next": reverse("song", args=[song.pk])},
        follow=True,
    )

    page = answer.content.decode()
    assert "Taken back." in page and "You love this song." not in page
    assert not Feedback.objects.filter(listener=Listener.objects.for_user(user)).exists()


def test_the_artist_page_shows_not_for_me_with_an_undo_button(db):
    song = SongFactory()
    client = Client()
    user = UserFactory()
    client.force_login(user)
    listener = Listener.objects.for_user(user)
    FeedbackFactory(listener=listener, artist=song.artist, song=None, kind=FeedbackKind.NOT_FOR_ME)
    page = client.get(reverse("artist", args=[song.artist_id])).content.decode()
    assert "You said this artist is not for you." in page and ">Undo</button>" in page

    client.post(reverse("feedback"), {"kind": "undo", "artist": song.artist_id})
    nothing = client.post(
        reverse("feedback"), {"kind": "undo", "artist": song.artist_id}, follow=True
    )

    assert not Feedback.objects.filter(listener=listener).exists()
    assert "There was nothing to take back." in nothing.content.decode()
