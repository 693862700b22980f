"""Curation: what listeners add to the catalogue is theirs alone until enough others play
it or staff approve it; hidden stays hidden; merges leave no orphan; a daily limit."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import Artist, CatalogStatus, Song
from catalog.names import match_key
from listening.charts import charts_compute
from listening.models import Feedback, FeedbackKind, ImportBatch, Listen, Listener
from recommender.models import ListenerRecommendations
from tests.factories import ArtistFactory, SongFactory, StaffFactory, UserFactory

NEW = {"artist": "Moss Harbour", "title": "Lucky Forest"}


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.CATALOG_PUBLIC_AFTER_LISTENERS = 3
    cache.clear()


def signed_in(user=None) -> APIClient:
    client = APIClient()
    client.force_login(user or UserFactory())
    return client


def submit(client: APIClient, *items: dict, at: str = "2026-11-01T10:00:00Z"):
    listens = [{**item, "played_at": at} for item in items]
    return client.post(reverse("api-v1:my-listens"), {"listens": listens}, format="json")


def seen_by(client: APIClient, song: Song) -> dict[str, bool]:
    """Where `client` finds the song (and its artist): every public place that lists it."""
    artist = song.artist
    search = client.get(reverse("search"), {"q": "forest"}).content.decode()
    api_songs = client.get(reverse("api-v1:song-list"), {"search": "forest"}).json()["results"]
    by_artist = client.get(reverse("api-v1:song-list"), {"artist": artist.pk}).json()["results"]
    api_artists = client.get(reverse("api-v1:artist-list"), {"search": "harbour"}).json()
    every_song = client.get(reverse("api-v1:song-list"), {"page_size": 1000}).json()["results"]
    charted = {
        row["song"]["id"] for row in client.get(reverse("api-v1:charts")).json()["songs"]["overall"]
    }
    return {
        "search page": "Lucky Forest" in search and "Moss Harbour" in search,
        "song page": client.get(reverse("song", args=[song.pk])).status_code == 200,
        "artist page": client.get(reverse("artist", args=[artist.pk])).status_code == 200,
        "api search": song.pk in {row["id"] for row in api_songs},
        "api list": song.pk in {row["id"] for row in every_song},
        "api artist filter": song.pk in {row["id"] for row in by_artist},
        "api artist search": artist.pk in {row["id"] for row in api_artists["results"]},
        "api song": client.get(reverse("api-v1:song-detail", args=[song.pk])).status_code == 200,
        "api artist": client.get(reverse("api-v1:artist-detail", args=[artist.pk])).status_code
        == 200,
        "charts": song.pk in charted,
    }


def everywhere(value: bool, *, but: tuple[str, ...] = ()) -> dict[str, bool]:
    names = [
        "search page", "song page", "artist page", "api search", "api list",
        "api artist filter", "api artist search", "api song", "api artist", "charts",
    ]  # fmt: skip
    return {name: (not value if name in but else value) for name in names}


def test_a_submitted_new_song_is_its_submitters_alone_until_three_listeners_played_it(db):
    alice, bob, carol = signed_in(), signed_in(), signed_in()
    SongFactory(title="Another Forest")  # a public neighbour, so the lists are not empty

    assert submit(alice, NEW).status_code == 201
    song = Song.objects.get(title="Lucky Forest")
    assert (song.status, song.artist.status) == (CatalogStatus.PENDING, CatalogStatus.PENDING)
    charts_compute()

    # The submitter sees it in lists and pages; the charts are public items only.
    assert seen_by(alice, song) == everywhere(True, but=("charts",))
    assert seen_by(bob, song) == everywhere(False)
    assert seen_by(APIClient(), song) == everywhere(False)
    assert alice.get(reverse("api-v1:my-listens")).json()["results"][0]["song"]["id"] == song.pk

    assert submit(bob, NEW).status_code == 201  # the same names match the same pending rows
    song.refresh_from_db()
    assert (
        song.status == CatalogStatus.PENDING
        and Song.objects.filter(title="Lucky Forest").count() == 1
    )
    assert seen_by(bob, song) == everywhere(False)  # a listener, not its submitter

    assert submit(carol, NEW).status_code == 201  # the third distinct listener
    song.refresh_from_db()
    assert (song.status, song.artist.status) == (CatalogStatus.PUBLIC, CatalogStatus.PUBLIC)
    charts_compute()
    assert seen_by(APIClient(), song) == everywhere(True)


def test_one_listener_playing_it_many_times_does_not_make_it_public(db):
    alice = signed_in()
    for day in range(1, 6):
        submit(alice, NEW, at=f"2026-11-0{day}T10:00:00Z")
    assert Listen.objects.count() == 5
    assert Song.objects.get(title="Lucky Forest").status == CatalogStatus.PENDING


def test_a_pending_song_of_another_listener_is_no_song_to_a_submission_by_id(db):
    submit(signed_in(), NEW)
    song = Song.objects.get()
    response = submit(signed_in(), {"song": song.pk})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["listens"] == [
        {"index": 0, "field": "song", "message": "no such song"}
    ]


def admin_action(action: str, model: str, ids: list[int]):
    staff = Client()  # a form post, as the admin's page sends it
    staff.force_login(StaffFactory())
    url = reverse(f"admin:catalog_{model}_changelist")
    return staff.post(url, {"action": action, "index": 0, "_selected_action": ids}, follow=True)


def test_staff_approval_makes_a_pending_song_and_its_artist_public(db):
    submit(signed_in(), NEW)
    song = Song.objects.get()

    response = admin_action("approve", "song", [song.pk])

    assert response.status_code == 200 and "made public" in response.content.decode()
    song.refresh_from_db()
    assert (song.status, song.artist.status) == (CatalogStatus.PUBLIC, CatalogStatus.PUBLIC)
    assert seen_by(APIClient(), song)["search page"]


def test_a_hidden_artist_stays_hidden_with_its_songs_whoever_plays_them(db):
    alice = signed_in()
    submit(alice, NEW)
    song = Song.objects.get()
    admin_action("hide", "artist", [song.artist_id])

    for client in (signed_in(), signed_in(), signed_in()):
        assert submit(client, NEW).status_code == 201

    song.refresh_from_db()
    assert (song.status, song.artist.status) == (CatalogStatus.HIDDEN, CatalogStatus.HIDDEN)
    assert Song.objects.count() == 1  # matched, never re-created beside it
    assert seen_by(alice, song) == everywhere(False)  # its submitter's too
    assert seen_by(APIClient(), song) == everywhere(False)


def test_merging_songs_moves_listens_and_feedback_and_leaves_no_orphan(db):
    artist = ArtistFactory(name="Moss Harbour")
    keep, twin, triplet = (SongFactory(title="Lucky Forest", artist=artist) for _ in range(3))
    ann, ben = (Listener.objects.for_user(UserFactory()) for _ in range(2))
    # Aggregated play counts (no time): one row per listener and song, so they add up.
    Listen.objects.bulk_create(
        Listen(listener=listener, song=song, artist=artist, play_count=count)
        for listener in (ann, ben)
        for song, count in ((keep, 1), (twin, 2), (triplet, 4))
    )
    timed = Listen.objects.create(listener=ann, song=twin, artist=artist, played_at=timezone.now())
    # Ann loves two of the three (one love must remain); Ben said "not for me" to a twin.
    Feedback.objects.create(listener=ann, song=keep, kind=FeedbackKind.LOVE)
    Feedback.objects.create(listener=ann, song=twin, kind=FeedbackKind.LOVE)
    Feedback.objects.create(listener=ben, song=triplet, kind=FeedbackKind.NOT_FOR_ME)

    response = admin_action("merge", "song", [triplet.pk, keep.pk, twin.pk])

    assert "2 merged into" in response.content.decode()
    assert list(Song.objects.values_list("pk", flat=True)) == [keep.pk]
    counts = Listen.objects.filter(played_at__isnull=True).values_list(
        "listener_id", "song_id", "play_count"
    )
    assert set(counts) == {(ann.pk, keep.pk, 7), (ben.pk, keep.pk, 7)}
    assert Listen.objects.get(pk=timed.pk).song_id == keep.pk
    assert set(Feedback.objects.values_list("listener_id", "song_id", "kind")) == {
        (ann.pk, keep.pk, FeedbackKind.LOVE),
        (ben.pk, keep.pk, FeedbackKind.NOT_FOR_ME),
    }
    assert not Listen.objects.exclude(song_id__in=Song.objects.values("pk")).exists()


def test_merging_artists_moves_their_songs_listens_and_feedback(db):
    keep, twin = ArtistFactory(name="Moss Harbour"), ArtistFactory(name="Moss Harbor")
    song = SongFactory(artist=twin)
    listener = Listener.objects.for_user(UserFactory())
    Listen.objects.create(listener=listener, song=song, artist=twin)
    Feedback.objects.create(listener=listener, artist=twin, kind=FeedbackKind.LOVE)

    admin_action("merge", "artist", [keep.pk, twin.pk])

    assert list(Artist.objects.values_list("pk", flat=True)) == [keep.pk]
    song.refresh_from_db()
    assert song.artist_id == keep.pk
    assert Listen.objects.get().artist_id == keep.pk
    assert Feedback.objects.get().artist_id == keep.pk


def test_songs_of_different_artists_are_not_merged(db):
    one, other = SongFactory(), SongFactory()
    response = admin_action("merge", "song", [one.pk, other.pk])
    assert "Not merged: these songs have different artists" in response.content.decode()
    assert Song.objects.count() == 2


def test_past_the_daily_limit_the_item_is_refused_and_nothing_of_the_request_is_stored(
    db, settings
):
    settings.CATALOG_NEW_PER_DAY = 3
    client = signed_in()
    known = SongFactory(title="Known Song")
    assert submit(client, {"artist": "First", "title": "One"}).status_code == 201  # 2 entries
    before = (Song.objects.count(), Artist.objects.count(), Listen.objects.count())
    batches = ImportBatch.objects.count()

    response = submit(
        client,
        {"song": known.pk},
        {"artist": "First", "title": "Two"},  # a new song of a known artist: the 3rd entry
        {"artist": "Second", "title": "Three"},  # a new artist and song: past the limit
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["listens"] == [
        {
            "index": 2,
            "field": "title",
            "message": "more than 3 new artists and songs in 24 hours: try again later",
        }
    ]
    assert (Song.objects.count(), Artist.objects.count(), Listen.objects.count()) == before
    assert ImportBatch.objects.count() == batches
    # Another listener has a limit of their own.
    assert submit(signed_in(), {"artist": "Second", "title": "Three"}).status_code == 201


def test_invisible_format_characters_do_not_make_a_new_artist_or_song(db):
    # The API refuses bidi overrides in names outright; keys drop every invisible format
    # character, so an importer's "Ad\u202eele" and an app's zero-width space match.
    assert match_key("Ad\u202eele") == match_key("\u2066ADELE\u2069") == "adele"
    artist = ArtistFactory(name="Adele")
    SongFactory(title="Hello", artist=artist)
    response = submit(signed_in(), {"artist": "Ade\u200dle", "title": "Hel\u200blo"})
    assert response.status_code == 201
    assert (Artist.objects.count(), Song.objects.count()) == (1, 1)


def test_pending_songs_are_in_no_ones_suggestions_after_a_publish(db, tmp_path, settings):
    from tests.listening_data import import_generated, publish_trained

    settings.CATALOG_PUBLIC_AFTER_LISTENERS = 1000
    import_generated(tmp_path, listeners=30, songs=60, listens=1500)
    # The most played song of the site, were it public: twenty listeners play it ten times.
    clients = [signed_in(UserFactory()) for _ in range(20)]
    for client in clients:
        submit(client, {**NEW, "play_count": 10})
    song = Song.objects.get(title="Lucky Forest")
    assert song.status == CatalogStatus.PENDING

    pending_set = publish_trained("popularity", top_n=30)
    Song.objects.filter(pk=song.pk).update(status=CatalogStatus.PUBLIC)
    public_set = publish_trained("popularity", top_n=30)  # once public, it is suggested

    def suggested(set_id: int) -> int:
        lists = ListenerRecommendations.objects.filter(recommendation_set_id=set_id)
        assert lists.count() >= 30
        return sum(song.pk in row.item_ids for row in lists)

    assert suggested(pending_set) == 0
    assert suggested(public_set) > 0
