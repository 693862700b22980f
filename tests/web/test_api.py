"""The REST API end to end: auth, the listener's suggestions, listens, feedback, catalogue."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from catalog.models import Artist, Song
from listening.models import Feedback, ImportBatch, Listen, Listener
from musicsite.jobs import JobStatus
from tests.factories import SongFactory, UserFactory
from tests.listening_data import import_generated, publish_trained
from tests.web.api_accounts import PASSWORD, api_account


@pytest.fixture
def catalogue(db, tmp_path):
    import_generated(tmp_path)
    cache.clear()


def account(name: str) -> tuple[APIClient, Listener]:
    """A signed-in client whose listener has played five songs."""
    return api_account(name, Song.objects.order_by("?")[:5])


def publish() -> int:
    return publish_trained("item_knn", top_n=30)


def suggestions(client: APIClient, **params) -> dict:
    response = client.get(reverse("api-v1:my-recommendations"), params)
    assert response.status_code == 200, response.content
    return response.json()


# -- auth and permissions -----------------------------------------------------------------------


def test_a_token_is_exchanged_for_a_username_and_password(catalogue):
    UserFactory(username="ann", password=PASSWORD)
    url = reverse("api-v1:token")
    good = APIClient().post(url, {"username": "ann", "password": PASSWORD}, format="json")
    assert good.status_code == 200 and len(good.json()["token"]) == 64
    bad = APIClient().post(url, {"username": "ann", "password": "wrong"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid" and "details" in bad.json()["error"]


@pytest.mark.parametrize("name", ["my-recommendations", "my-listens", "my-feedback"])
def test_anonymous_clients_get_401_with_the_error_body(catalogue, name):
    response = APIClient().get(reverse(f"api-v1:{name}"))
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_session_signs_in_too(catalogue):
    user = UserFactory(username="sam", password=PASSWORD)
    client = APIClient()
    client.force_login(user)
    assert client.get(reverse("api-v1:my-listens")).status_code == 200


# -- suggestions --------------------------------------------------------------------------------


def test_suggestions_come_with_details_reasons_and_pages(catalogue):
    client, listener = account("ann")
    assert client.get(reverse("api-v1:my-recommendations")).status_code == 404
    set_id = publish()

    first = suggestions(client, page_size=10)

    assert first["set"] == set_id and first["model"] == "item_knn" and not first["fallback"]
    assert first["count"] == 30 and len(first["results"]) == 10 and first["next"]
    heard = set(Listen.objects.filter(listener=listener).values_list("song_id", flat=True))
    for rank, entry in enumerate(first["results"], start=1):
        assert entry["rank"] == rank
        assert entry["song"]["id"] not in heard
        assert entry["song"]["artist"]["name"]
        assert entry["reason"] is None or entry["reason"]["song"]["id"] in heard
    assert any(entry["reason"] for entry in first["results"])
    second = client.get(first["next"]).json()
    assert [e["rank"] for e in second["results"]] == list(range(11, 21))
    artists = suggestions(client, level="artist")
    assert artists["level"] == "artist" and artists["results"][0]["artist"]["name"]
    bad = client.get(reverse("api-v1:my-recommendations"), {"level": "album"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["level"]


def test_each_listener_reads_only_their_own_list(catalogue):
    ann, ann_listener = account("ann")
    bob, _ = account("bob")
    publish()
    assert suggestions(ann)["results"] != suggestions(bob)["results"]
    ann_history = {e["id"] for e in ann.get(reverse("api-v1:my-listens")).json()["results"]}
    assert ann_history == set(
        Listen.objects.filter(listener=ann_listener).values_list("pk", flat=True)
    )


def test_reading_a_list_takes_a_bounded_number_of_queries(
    catalogue, django_assert_max_num_queries, django_assert_num_queries
):
    client, _ = account("ann")
    publish()
    cache.clear()
    # token, listener, set, row, songs (+ reasons), and the listener's own listens and loves
    # of the reasons (to tell each reason's kind: played, loved, picked)
    with django_assert_max_num_queries(8):
        suggestions(client, page_size=30)
    # then only the token (knox: the token, and the account's tokens, whose expired ones it
    # deletes) and the listener
    with django_assert_num_queries(3):
        suggestions(client, page_size=30)


# -- listens ------------------------------------------------------------------------------------


def test_posted_listens_are_stored_once_and_refresh_the_list(
    catalogue, django_capture_on_commit_callbacks
):
    client, listener = account("ann")
    publish()
    before = suggestions(client, page_size=30)
    top = before["results"][0]["song"]
    url = reverse("api-v1:my-listens")
    body = {
        "listens": [
            {"song": top["id"], "client_id": "phone-1", "played_at": "2026-11-01T10:00:00Z"},
            {"artist": "Nobody Known", "title": "A New Song", "client_id": "phone-2"},
        ]
    }

    with django_capture_on_commit_callbacks(execute=True) as refreshes:
        first = client.post(url, body, format="json")
        again = client.post(url, body, format="json")

    assert first.status_code == 201 and first.json()["recorded"] == 2
    assert len(refreshes) == 1  # nothing new the second time: no refresh
    assert again.status_code == 201
    assert again.json()["recorded"] == 0 and again.json()["duplicates"] == [0, 1]
    assert Listen.objects.filter(listener=listener).count() == 7
    created = Song.objects.get(title="A New Song")
    assert created.artist.name == "Nobody Known"
    after = suggestions(client, page_size=30)
    assert after["refreshed_at"] is not None
    assert top["id"] not in [entry["song"]["id"] for entry in after["results"]]
    history = client.get(url, {"page_size": 2}).json()
    assert history["count"] == 7 and history["results"][0]["song"]["title"] == "A New Song"


def test_a_submission_is_one_import_batch_with_its_counts_and_its_listens(db):
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    first, second = SongFactory.create_batch(2)
    url = reverse("api-v1:my-listens")
    earlier = {"song": first.pk, "client_id": "a", "played_at": "2026-11-01T10:00:00Z"}
    client.post(url, {"listens": [earlier]}, format="json")
    body = {
        "listens": [
            earlier,  # recorded by the first submission
            {"song": second.pk, "played_at": "2026-11-02T10:00:00Z"},
            {"song": second.pk, "played_at": "2026-11-02T10:00:00Z"},  # the same again
            {"artist": "Nina Simone", "title": "Sinnerman", "played_at": "2026-11-03T10:00:00Z"},
        ]
    }

    response = client.post(url, body, format="json")
    retried = client.post(url, body, format="json")

    assert response.json()["recorded"] == 2 and response.json()["duplicates"] == [0, 2]
    assert ImportBatch.objects.count() == 2  # one per submission that recorded listens
    batch = ImportBatch.objects.latest("id")
    assert (batch.source_name, batch.format, batch.status, batch.created_by) == (
        "api",
        "api",
        JobStatus.SUCCEEDED,
        user,
    )
    assert (batch.rows_read, batch.rows_loaded, batch.rows_rejected) == (4, 2, 0)
    counted = {name: rule["rows"] for name, rule in batch.report["rules"].items() if rule["rows"]}
    assert counted == {"already_imported": 1, "duplicate_scrobble": 1}
    assert batch.report["rules"]["duplicate_scrobble"]["examples"][0]["line"] == 3
    assert set(batch.listens.values_list("pk", flat=True)) == set(response.json()["listen_ids"])
    assert retried.json()["recorded"] == 0 and ImportBatch.objects.count() == 2


def test_the_sites_i_listened_button_records_a_listen_without_a_batch(db):
    user = UserFactory()
    song = SongFactory()
    client = APIClient()
    client.force_login(user)

    client.post(reverse("song-listened", args=[song.pk]))

    assert Listen.objects.get(song=song).batch is None
    assert not ImportBatch.objects.exists()


def test_an_invalid_item_is_reported_by_index_and_nothing_is_stored(catalogue):
    client, listener = account("ann")
    song = Song.objects.first()
    body = {
        "listens": [
            {"song": song.pk},
            {"song": 10**30},
            {"artist": "x"},
            {"song": song.pk, "played_at": "yesterday-ish"},
            {"song": song.pk, "play_count": 0, "mood": "happy"},
        ]
    }
    response = client.post(reverse("api-v1:my-listens"), body, format="json")
    assert response.status_code == 400
    errors = response.json()["error"]["details"]["listens"]
    assert {(e["index"], e["field"]) for e in errors} >= {
        (1, "song"),
        (2, "title"),
        (3, "played_at"),
        (4, "play_count"),
        (4, "mood"),
    }
    # Well-formed, but naming no song: refused by the service, in the same shape.
    unknown = {"listens": [{"song": song.pk}, {"song": 10**9}]}
    response = client.post(reverse("api-v1:my-listens"), unknown, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["listens"] == [
        {"index": 1, "field": "song", "message": "no such song"}
    ]
    assert Listen.objects.filter(listener=listener).count() == 5
    too_many = {"listens": [{"song": song.pk}] * 1001}
    refused = client.post(reverse("api-v1:my-listens"), too_many, format="json")
    assert refused.status_code == 400 and "no more than 1000" in str(refused.json())


# -- feedback -----------------------------------------------------------------------------------


def test_not_for_me_removes_a_song_at_once_and_at_the_next_publication(catalogue):
    client, _ = account("ann")
    publish()
    refused = suggestions(client)["results"][0]["song"]["id"]
    response = client.post(
        reverse("api-v1:my-feedback"), {"kind": "not_for_me", "song": refused}, format="json"
    )
    assert response.status_code == 201 and response.json()["song"] == refused
    assert refused not in [e["song"]["id"] for e in suggestions(client, page_size=50)["results"]]
    publish()
    assert refused not in [e["song"]["id"] for e in suggestions(client, page_size=50)["results"]]
    listed = client.get(reverse("api-v1:my-feedback")).json()["results"]
    assert [(f["kind"], f["song"]) for f in listed] == [("not_for_me", refused)]


def test_not_for_me_on_an_artist_removes_the_artist_and_their_songs(catalogue):
    client, _ = account("ann")
    publish()
    artist = suggestions(client, level="artist")["results"][0]["artist"]["id"]
    client.post(
        reverse("api-v1:my-feedback"), {"kind": "not_for_me", "artist": artist}, format="json"
    )
    assert artist not in [e["artist"]["id"] for e in suggestions(client, level="artist")["results"]]
    songs = suggestions(client, page_size=50)["results"]
    assert artist not in [e["song"]["artist"]["id"] for e in songs]


def test_feedback_needs_exactly_one_target_and_a_known_kind(catalogue):
    client, listener = account("ann")
    song, artist = Song.objects.first(), Artist.objects.first()
    url = reverse("api-v1:my-feedback")
    both = client.post(url, {"kind": "love", "song": song.pk, "artist": artist.pk}, format="json")
    neither = client.post(url, {"kind": "love"}, format="json")
    odd = client.post(url, {"kind": "meh", "song": song.pk}, format="json")
    past = client.post(
        url, {"kind": "love", "song": song.pk, "expires_at": "2000-01-01T00:00:00Z"}, format="json"
    )
    assert [r.status_code for r in (both, neither, odd, past)] == [400, 400, 400, 400]
    loved = client.post(url, {"kind": "love", "song": song.pk}, format="json")
    assert loved.status_code == 201
    client.post(url, {"kind": "not_for_me", "song": song.pk}, format="json")
    assert Feedback.objects.get(listener=listener, song=song).kind == "not_for_me"


# -- catalogue ----------------------------------------------------------------------------------


def test_songs_search_filter_detail_and_similar(catalogue):
    song = Song.objects.select_related("artist").first()
    client = APIClient()
    found = client.get(reverse("api-v1:song-list"), {"search": song.title.upper()}).json()
    assert song.pk in [s["id"] for s in found["results"]]
    by_artist = client.get(reverse("api-v1:song-list"), {"artist": song.artist_id}).json()
    assert {s["artist"]["id"] for s in by_artist["results"]} == {song.artist_id}
    detail = client.get(reverse("api-v1:song-detail", args=[song.pk])).json()
    assert detail["title"] == song.title and detail["artist"]["name"] == song.artist.name
    missing = client.get(reverse("api-v1:song-detail", args=[10**9]))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get(reverse("api-v1:song-similar", args=[song.pk])).json() == {
        "set": None,
        "results": [],
    }
    set_id = publish()
    similar = client.get(reverse("api-v1:song-similar", args=[song.pk])).json()
    assert similar["set"] == set_id and len(similar["results"]) > 0
    assert song.pk not in [s["id"] for s in similar["results"]]
    artist_similar = client.get(reverse("api-v1:artist-similar", args=[song.artist_id])).json()
    assert artist_similar["results"] and artist_similar["results"][0]["name"]


def test_charts_list_top_songs_and_artists_with_details(catalogue, django_assert_max_num_queries):
    client = APIClient()
    charts = client.get(reverse("api-v1:charts")).json()
    overall = charts["songs"]["overall"]
    assert len(overall) == 20 and overall[0]["song"]["title"]
    assert [row["listeners"] for row in overall] == sorted(
        (row["listeners"] for row in overall), reverse=True
    )
    assert charts["artists"]["recent"] and charts["recent_since"]
    with django_assert_max_num_queries(2):  # cached aggregate: songs and artists only
        client.get(reverse("api-v1:charts"))


def test_anonymous_clients_are_throttled_with_the_error_body(catalogue, settings):
    rates = {"anon": "2/minute", "user": "1000/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    client = APIClient()
    codes = [client.get(reverse("api-v1:charts")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get(reverse("api-v1:charts")).json()["error"]["code"] == "throttled"


def test_the_openapi_schema_and_docs_are_served(catalogue):
    client = APIClient()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/me/recommendations/", "/api/v1/me/listens/", "/api/v1/auth/token/"} <= set(
        paths
    )
    assert "401" in paths["/api/v1/me/recommendations/"]["get"]["responses"]
    assert client.get("/api/docs/").status_code == 200


# -- the cached first page (fast_reads) ---------------------------------------------------------


def test_the_first_page_is_served_ready_made_with_no_query(
    catalogue, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client, _ = account("ann")
    publish()
    url = reverse("api-v1:my-recommendations")
    first = client.get(url)
    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.status_code == 200 and again.content == first.content

    # A refresh drops the ready page: the next read shows the new list.
    top = first.json()["results"][0]["song"]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("api-v1:my-listens"), {"listens": [{"song": top}]}, format="json")
    fresh = client.get(url).json()
    assert fresh["refreshed_at"] and top not in [e["song"]["id"] for e in fresh["results"]]

    # A new publication moves readers to the new set.
    newer = publish()
    assert client.get(url).json()["set"] == newer


def test_a_deleted_token_or_an_inactive_account_is_not_served_from_the_cache(catalogue):
    client, listener = account("ann")
    publish()
    url = reverse("api-v1:my-recommendations")
    assert client.get(url).status_code == 200 and client.get(url).status_code == 200
    AuthToken.objects.filter(user=listener.user).delete()
    assert client.get(url).status_code == 401

    other, other_listener = account("bob")
    assert other.get(url).status_code == 200 and other.get(url).status_code == 200
    user = other_listener.user
    user.is_active = False
    user.save()
    assert other.get(url).status_code == 401


def test_the_ready_page_is_throttled_like_the_rest(catalogue, settings):
    rates = {"anon": "100/minute", "user": "3/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    client, _ = account("ann")
    publish()
    url = reverse("api-v1:my-recommendations")
    codes = [client.get(url).status_code for _ in range(4)]  # DRF, then the ready page
    assert codes == [200, 200, 200, 429]
    refused = client.get(url)
    assert refused.json()["error"]["code"] == "throttled" and int(refused["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("name", "signed_in"),
    [("api-v1:song-list", False), ("api-v1:artist-list", False), ("api-v1:my-listens", True)],
)
def test_lists_take_the_same_queries_for_one_row_as_for_a_page(
    catalogue, django_assert_num_queries, name, signed_in
):
    client, _ = account("ann") if signed_in else (APIClient(), None)
    url = reverse(name)
    with CaptureQueriesContext(connection) as one:
        client.get(url, {"page_size": 1})
    with django_assert_num_queries(len(one)):  # no query per row
        response = client.get(url, {"page_size": 50})
    assert len(response.json()["results"]) > 1


def test_not_for_me_holds_only_until_it_expires(catalogue):
    client, listener = account("ann")
    publish()
    refused = suggestions(client)["results"][0]["song"]["id"]
    later = (timezone.now() + timedelta(days=1)).isoformat()
    client.post(
        reverse("api-v1:my-feedback"),
        {"kind": "not_for_me", "song": refused, "expires_at": later},
        format="json",
    )
    publish()
    assert refused not in [e["song"]["id"] for e in suggestions(client, page_size=50)["results"]]
    Feedback.objects.filter(listener=listener).update(expires_at=timezone.now())
    publish()
    assert refused in [e["song"]["id"] for e in suggestions(client, page_size=50)["results"]]


def test_odd_input_is_answered_not_crashed_on(catalogue):
    client = APIClient()
    nul = client.get(reverse("api-v1:artist-list"), {"search": "a\x00b"})
    assert nul.status_code == 400 and "search" in nul.json()["error"]["details"]
    garbled = client.post(
        reverse("api-v1:token"), b"--x\r\n\xf1--x--", content_type="multipart/form-data; boundary=x"
    )
    assert garbled.status_code in (400, 415) and "error" in garbled.json()
    signed_in, _ = account("ann")
    nul_name = signed_in.post(
        reverse("api-v1:my-listens"),
        {"listens": [{"artist": "A\x00B", "title": "t", "client_id": "c\x00"}]},
        format="json",
    )
    fields = {e["field"] for e in nul_name.json()["error"]["details"]["listens"]}
    assert nul_name.status_code == 400 and fields == {"artist", "client_id"}
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "415" in schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]
