"""A signed-in API client for a listener with some plays, for the API's tests."""

from django.urls import reverse
from rest_framework.test import APIClient

from listening.models import Listen, Listener
from tests.factories import UserFactory

PASSWORD = "a long enough password"


def api_account(name: str, songs, *, session: bool = False) -> tuple[APIClient, Listener]:
    """A client signed in by token (and by session too, for pages, with `session`) whose
    listener has played each of `songs` four times."""
    user = UserFactory(username=name, password=PASSWORD)
    listener = Listener.objects.for_user(user)
    Listen.objects.bulk_create(
        Listen(listener=listener, song=song, artist_id=song.artist_id, play_count=4)
        for song in songs
    )
    client = APIClient()
    if session:
        client.force_login(user)
    token = client.post(
        reverse("api-v1:token"), {"username": name, "password": PASSWORD}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client, listener
