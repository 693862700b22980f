"""Hiding takes effect where suggestions and charts were computed before it: the served
list and the home page's cached charts leave a hidden row out at once; onboarding never
takes a pending or hidden artist as a pick (catalog/curation.py)."""

from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from catalog.curation import catalog_hide
from catalog.models import Artist, CatalogStatus, Song
from listening.charts import charts_compute
from listening.models import Feedback, Listen, Listener
from tests.factories import ArtistFactory, SongFactory, UserFactory
from tests.listening_data import import_generated, publish_trained
from tests.web.api_accounts import api_account


def test_a_song_hidden_after_publication_leaves_the_served_list_at_once(db, tmp_path):
    import_generated(tmp_path)
    client, _ = api_account("listener", list(Song.objects.order_by("pk")[:5]))
    publish_trained()
    url = reverse("api-v1:my-recommendations")
    listed = [row["song"]["id"] for row in client.get(url).json()["results"]]
    assert listed

    catalog_hide(song_ids=[listed[0]])
    cache.clear()  # the served page is kept until the list changes

    after = [row["song"]["id"] for row in client.get(url).json()["results"]]
    assert after == listed[1:]


def test_the_home_charts_leave_out_a_song_hidden_since_they_were_computed(db):
    song = SongFactory(title="Lucky Forest")
    listener = Listener.objects.create(display_name="ann")
    Listen.objects.create(listener=listener, song=song, artist=song.artist)
    charts_compute()
    assert "Lucky Forest" in Client().get(reverse("home")).content.decode()

    catalog_hide(song_ids=[song.pk])  # the cached charts still list it

    assert "Lucky Forest" not in Client().get(reverse("home")).content.decode()


def test_onboarding_takes_no_pending_or_hidden_artist_as_a_pick(db):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    public = ArtistFactory.create_batch(3)
    pending = ArtistFactory(status=CatalogStatus.PENDING, submitted_by=UserFactory())
    hidden = ArtistFactory(status=CatalogStatus.HIDDEN)
    picks = [artist.pk for artist in (*public, pending, hidden)]

    client.post(reverse("onboarding"), {"artist": picks})

    loved = set(Feedback.objects.values_list("artist_id", flat=True))
    assert loved <= {artist.pk for artist in public}
    assert not loved & {pending.pk, hidden.pk}
    assert Artist.objects.get(pk=hidden.pk).status == CatalogStatus.HIDDEN
