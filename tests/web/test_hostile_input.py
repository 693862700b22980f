"""Hostile input, table by table: every API endpoint (with a token and with a session),
every page form and staff action, sent what a hostile or broken client sends.

Never a 5xx; on /api/ always the one JSON error body (web/api/errors.py); and the database
unchanged: the rows of listens, feedback, songs, artists and import batches are counted
before and after every request. Each table is checked whole, and a failure lists every
request that broke a rule, not just the first.
"""

import json
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from catalog.models import Artist, Song
from listening.models import Feedback, FeedbackKind, ImportBatch, Listen
from tests.factories import (
    FeedbackFactory,
    ImportBatchFactory,
    SongFactory,
    StaffFactory,
    UserFactory,
)
from tests.web.api_accounts import api_account

TOO_BIG = 2**64  # past any 64-bit column
# Ids as JSON values: too large, signed, zero, not whole, not numbers, other digits.
IDS = [TOO_BIG, 2**63, -1, 0, 1.5, 1e30, "abc", "²", "١٢", "9" * 5000, True, None, [], {}]
# Ids as path and query-string text.
ID_TEXTS = [str(TOO_BIG), str(2**63), "-1", "0", "1.5", "1e3", "abc", "²", "١٢", "9" * 5000]
# Strings: lone surrogate, NUL, bidi override and isolate, 10 KB, and values that are not text.
STRINGS = ["\ud800x", "a\x00b", "\u202eevil", "\u2066x\u2069", "x" * 10_000, 12, [], {}, None]
# Query-string text (a lone surrogate arrives as its UTF-8 bytes, percent-encoded).
QUERY_TEXTS = ["%ED%A0%80x", "a%00b", "%E2%80%AEevil", "x" * 10_000, "%FF%FE"]
# Times: year -1, 0001 (also with an offset that leaves the calendar), 9999 past it,
# 10000, impossible days, naive, before the import window, not a time at all.
TIMES = [
    "-0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59Z",
    "10000-01-01T00:00:00Z",
    "2026-02-30T12:00:00Z",
    "2026-13-01T12:00:00Z",
    "2020-06-01T12:00:00",
    "1900-01-01T00:00:00Z",
    "yesterday",
    1_700_000_000,
    None,
]
DEEP = "[" * 5000 + "]" * 5000
# Bodies that are not what an endpoint takes: not JSON, the wrong JSON type, deep.
BODIES = [
    "{",
    "not json",
    "[]",
    '"text"',
    "1",
    "null",
    '{"a": NaN}',
    DEEP,
    "\xff".encode("latin-1"),
]


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Listen, Feedback, Song, Artist, ImportBatch)
    }


@pytest.fixture
def world(db, settings):
    """Two songs, a listener (token and session) with listens and a love, a staff member,
    an import batch. DEBUG on, as in the demo the probe attacked: its query logging is one
    more place a value the database cannot hold used to fail."""
    settings.DEBUG = True
    songs = SongFactory.create_batch(2)
    token_client, listener = api_account("ann", songs)
    session_client = Client()
    session_client.force_login(listener.user)
    FeedbackFactory(listener=listener, song=songs[0], kind=FeedbackKind.LOVE)
    ImportBatchFactory()
    staff = Client()
    staff.force_login(StaffFactory())
    return {
        "song": songs[0].pk,
        "artist": songs[0].artist_id,
        "token": token_client,
        "session": session_client,
        "staff": staff,
        "anonymous": Client(),
    }


class Judge:
    """Sends requests and collects each one that breaks a rule."""

    def __init__(self):
        self.broken: list[str] = []

    def send(self, client, method: str, path: str, body=None, content_type=None) -> None:
        before = counts()
        if body is not None and not isinstance(body, str | bytes):
            body = json.dumps(body)
        if content_type is None:
            content_type = "application/json"
        kwargs = {"content_type": content_type} if body is not None else {}
        response = client.generic(method, path, body or "", **kwargs)
        label = f"{method} {path[:120]} {str(body)[:80]!r}: {response.status_code}"
        if response.status_code >= 500:
            self.broken.append(f"{label} server error")
        if path.startswith("/api/") and response.status_code >= 400:
            try:
                error = response.json()["error"]
                assert error["status"] == response.status_code
                assert error["code"] and error["message"]
            except (ValueError, KeyError, TypeError, AssertionError):
                self.broken.append(f"{label} not the error body: {response.content[:120]!r}")
        if counts() != before:
            self.broken.append(f"{label} changed the database: {before} -> {counts()}")

    def verdict(self) -> None:
        assert not self.broken, "\n".join(self.broken)


def listen_items(world) -> list:
    song = world["song"]
    items = [{"song": value} for value in IDS]
    items += [{"artist": value, "title": "t"} for value in STRINGS]
    items += [{"artist": "a", "title": value} for value in STRINGS]
    items += [{"song": song, "played_at": value} for value in TIMES if value is not None]
    items += [{"song": song, "play_count": value} for value in [0, -1, 10**6, 1.5, "2", True]]
    items += [{"song": song, "client_id": value} for value in STRINGS if value is not None]
    items += [{"song": song, "mood": "x"}, {"song": song, "artist": "a", "title": "t"}, 1, "x", []]
    return items


def listen_bodies(world) -> list:
    bodies = [{"listens": [item]} for item in listen_items(world)]
    bodies += [{"listens": value} for value in [[], "x", 1, {}, None, [[[]]]]]
    bodies += [{"listens": [{"song": world["song"], "client_id": "a"}] * 2}]
    bodies += [{"listens": [{"song": world["song"]}] * 1001}, {}, {"\ud800": 1}]
    return [*bodies, *BODIES]


def feedback_bodies(world) -> list:
    song = world["song"]
    bodies = [{"kind": "love", "song": value} for value in IDS]
    bodies += [{"kind": "love", "artist": value} for value in IDS]
    bodies += [{"kind": value, "song": song} for value in STRINGS]
    bodies += [{"kind": "love", "song": song, "expires_at": value} for value in TIMES if value]
    bodies += [{"kind": "love", "song": song, "artist": world["artist"]}, {"kind": "love"}]
    return [*bodies, *BODIES]


@pytest.mark.parametrize("auth", ["token", "session"])
def test_the_api_answers_hostile_bodies_with_a_4xx_in_the_error_body(world, auth):
    client, judge = world[auth], Judge()
    for body in listen_bodies(world):
        judge.send(client, "POST", reverse("api-v1:my-listens"), body)
    for body in feedback_bodies(world):
        judge.send(client, "POST", reverse("api-v1:my-feedback"), body)
    for value in STRINGS:
        judge.send(client, "POST", reverse("api-v1:token"), {"username": value, "password": value})
        judge.send(client, "POST", reverse("api-v1:token"), json.dumps(value))
    for body in BODIES:
        judge.send(client, "POST", reverse("api-v1:token"), body)
    judge.verdict()


@pytest.mark.parametrize("auth", ["token", "session", "anonymous"])
def test_the_api_answers_hostile_ids_and_queries_with_a_4xx_in_the_error_body(world, auth):
    client, judge = world[auth], Judge()
    for text in [*ID_TEXTS, "%ED%A0%80"]:
        path = quote(text, safe="%")
        for address in [
            f"/api/v1/songs/{path}/",
            f"/api/v1/songs/{path}/similar/",
            f"/api/v1/artists/{path}/",
            f"/api/v1/artists/{path}/similar/",
        ]:
            judge.send(client, "GET", address)
        for address in [
            f"/api/v1/me/feedback/songs/{path}/",
            f"/api/v1/me/feedback/artists/{path}/",
        ]:
            judge.send(client, "DELETE", address)
    lists = ["songs", "artists", "me/listens", "me/feedback", "me/recommendations", "charts"]
    for value in [*ID_TEXTS, *QUERY_TEXTS]:
        for name in lists:
            for parameter in ["artist", "search", "page", "page_size", "level"]:
                judge.send(client, "GET", f"/api/v1/{name}/?{parameter}={quote(value, safe='%')}")
    judge.verdict()


@pytest.mark.parametrize("auth", ["token", "session"])
def test_the_api_answers_wrong_methods_media_types_and_sizes_in_the_error_body(world, auth):
    client, judge = world[auth], Judge()
    paths = [
        "/api/v1/songs/",
        f"/api/v1/songs/{world['song']}/",
        "/api/v1/me/listens/",
        "/api/v1/me/feedback/",
        "/api/v1/me/recommendations/",
        "/api/v1/charts/",
        "/api/v1/me/",
        "/api/v1/nothing/here/",
    ]
    for path in paths:
        for method in ["PUT", "PATCH", "DELETE", "POST", "OPTIONS"]:
            judge.send(client, method, path)
    body = {"listens": [{"song": world["song"]}]}
    for content_type in ["text/plain", "application/xml", "multipart/form-data; boundary=x", ""]:
        judge.send(client, "POST", "/api/v1/me/listens/", body, content_type=content_type)
    judge.send(
        client,
        "POST",
        "/api/v1/me/feedback/",
        "kind=love&song=1",
        "application/x-www-form-urlencoded",
    )
    oversize = " " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    for path in ["/api/v1/me/listens/", "/api/v1/auth/token/", "/api/v1/nothing/"]:
        judge.send(client, "POST", path, oversize)
    judge.verdict()


def test_an_oversize_body_gets_413_in_the_error_body_on_the_api_and_a_page_elsewhere(world):
    oversize = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    api = world["token"].post("/api/v1/me/listens/", oversize, content_type="application/json")
    assert api.status_code == 413
    assert "larger than" in api.json()["error"]["message"]
    page = world["session"].post(
        reverse("feedback"), oversize, content_type="application/x-www-form-urlencoded"
    )
    assert page.status_code == 413 and page["Content-Type"].startswith("text/plain")


def test_json_nested_5000_deep_is_a_400_saying_so(world):
    response = world["token"].post("/api/v1/me/listens/", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["error"]["message"]


def test_a_lone_surrogate_is_refused_naming_its_field_and_the_answer_still_encodes(world):
    body = '{"listens": [{"artist": "\\ud800x", "title": "t"}]}'
    response = world["token"].post("/api/v1/me/listens/", body, content_type="application/json")
    assert response.status_code == 400
    errors = response.json()["error"]["details"]["listens"]
    assert [(e["index"], e["field"]) for e in errors] == [(0, "artist")]
    echoed = world["token"].post(
        "/api/v1/me/feedback/", '{"kind": "\\ud800", "song": 1}', content_type="application/json"
    )
    assert echoed.status_code == 400 and echoed.json()["error"]["details"]["kind"]


def test_a_naive_time_and_one_outside_the_import_window_are_refused_with_why(world, settings):
    settings.LISTENING_EARLIEST_PLAY = "2010-01-01"  # the importer's setting: the API follows
    url = "/api/v1/me/listens/"
    naive = world["token"].post(
        url,
        {"listens": [{"song": world["song"], "played_at": "2020-06-01T12:00:00"}]},
        format="json",
    )
    assert naive.status_code == 400
    assert "time zone" in naive.json()["error"]["details"]["listens"][0]["message"]
    early = world["token"].post(
        url,
        {"listens": [{"song": world["song"], "played_at": "2005-06-01T12:00:00Z"}]},
        format="json",
    )
    message = early.json()["error"]["details"]["listens"][0]["message"]
    assert early.status_code == 400 and "2010-01-01" in message
    kept = world["token"].post(
        url,
        {"listens": [{"song": world["song"], "played_at": "2011-06-01T12:00:00Z"}]},
        format="json",
    )
    assert kept.status_code == 201


def test_a_token_request_needs_no_csrf_token_and_a_session_one_gets_a_json_403(world):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory())
    for method in ["DELETE", "PUT", "PATCH", "POST"]:
        for path in ["/api/v1/me/listens/", f"/api/v1/me/feedback/songs/{TOO_BIG}/"]:
            answer = strict.generic(method, path, "{}", content_type="application/json")
            assert answer.status_code == 403, (method, path)
            assert "CSRF" in answer.json()["error"]["message"]
            token = world["token"].generic(method, path, "{}", content_type="application/json")
            assert token.status_code in (400, 404, 405), (method, path)
            assert token.json()["error"]["status"] == token.status_code
        # No endpoint there: the same JSON 404 to both, never Django's HTML CSRF page.
        for client in (strict, world["token"]):
            missing = client.generic(method, "/api/v1/me/x/", "{}", content_type="application/json")
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    undo = world["token"].delete(f"/api/v1/me/feedback/songs/{world['song']}/")
    assert undo.status_code == 204


def page_requests(world) -> list[tuple]:
    song, artist = world["song"], world["artist"]
    requests = []
    for text in ID_TEXTS:
        digits = text.isascii() and text.isdigit()
        if digits:
            requests += [
                ("session", "POST", f"/songs/{text}/listened/", {}),
                ("session", "GET", f"/songs/{text}/", None),
                ("session", "GET", f"/artists/{text}/", None),
                ("staff", "GET", f"/staff/evaluations/{text}/", None),
                ("staff", "GET", f"/staff/exploration/{text}/", None),
            ]
        requests += [
            ("session", "POST", "/feedback/", {"kind": "love", "song": text}),
            ("session", "POST", "/feedback/", {"kind": "undo", "artist": text}),
            ("session", "POST", "/welcome/", {"artist": [text, str(artist)]}),
            ("session", "POST", "/welcome/", {"artist": text, "search": "1", "q": "a"}),
            ("staff", "POST", "/staff/operations/act/", {"action": "publish", "run": text}),
        ]
    for value in ["a\x00b", "x" * 10_000, "\u202e"]:
        requests += [
            ("session", "POST", "/feedback/", {"kind": value, "song": str(song)}),
            ("session", "POST", "/feedback/", {"kind": "love", "song": value}),
            ("staff", "POST", "/staff/operations/act/", {"action": value}),
            ("anonymous", "POST", "/accounts/login/", {"username": value, "password": value}),
            ("anonymous", "POST", "/accounts/signup/", {"username": value, "password1": value}),
        ]
    evaluation = {"algorithms": ["popularity"], "level": "song", "split": "auto", "ks": "10"}
    for name, values in {
        "ks": [f"10,{TOO_BIG}", "10," + "9" * 5000, "0", "-1", "²", "1e3", "a\x00", ","],
        "metric": [f"ndcg@{TOO_BIG}", "ndcg@²", "\x00", "x" * 10_000],
        "last_n": [str(TOO_BIG), "-1", "²", "1.5"],
        "algorithms": ["\x00", "nope"],
        "level": ["\x00", "x" * 10_000],
    }.items():
        for value in values:
            requests.append(
                ("staff", "POST", "/staff/evaluations/new/", {**evaluation, name: value})
            )
    requests += [
        ("session", "POST", "/feedback/", {"kind": "love"}),
        ("session", "POST", "/feedback/", {"kind": "love", "song": str(song), "artist": "1"}),
        ("session", "POST", "/welcome/", {"artist": ["1", "2", "3"] * 40}),
        ("staff", "POST", "/staff/operations/act/", {"action": "publish"}),
        ("staff", "POST", "/staff/operations/act/", {"action": "publish", "run": "abc"}),
        ("staff", "POST", "/staff/operations/act/", {}),
    ]
    for value in [*QUERY_TEXTS, *ID_TEXTS]:
        for address in [
            "/search/?q=",
            "/search/?q=a&page=",
            "/me/listening/?page=",
            "/welcome/?q=",
        ]:
            requests.append(("session", "GET", address + quote(value, safe="%"), None))
        requests.append(("session", "GET", "/welcome/?artist=" + quote(value, safe="%"), None))
        requests.append(
            ("staff", "GET", "/staff/evaluations/?page=" + quote(value, safe="%"), None)
        )
    return requests


def test_pages_and_staff_actions_answer_hostile_forms_with_a_4xx_or_a_message(world):
    judge = Judge()
    for who, method, path, data in page_requests(world):
        client = world[who]
        if data is None:
            judge.send(client, method, path)
        else:
            before = counts()
            response = client.post(path, data)
            label = f"{method} {path} {str(data)[:80]!r}: {response.status_code}"
            if response.status_code >= 500:
                judge.broken.append(f"{label} server error")
            if counts() != before:
                judge.broken.append(f"{label} changed the database")
    judge.verdict()


def test_a_staff_action_on_a_missing_run_says_so_in_words(world):
    for run, expected in [(str(TOO_BIG), "no finished training run"), ("abc", "no finished")]:
        response = world["staff"].post(
            "/staff/operations/act/", {"action": "publish", "run": run}, follow=True
        )
        page = response.content.decode()
        assert response.status_code == 200 and expected in page.lower()
        assert "invalid literal" not in page


def test_a_unicode_digit_as_a_song_on_the_feedback_form_is_a_message(world):
    response = world["session"].post("/feedback/", {"kind": "love", "song": "²"}, follow=True)
    assert response.status_code == 200
    assert "song: Enter a whole number." in response.content.decode()


def test_a_browser_asking_for_html_gets_an_answer_that_encodes_a_lone_surrogate(world):
    body = '{"kind": "\\ud800", "song": 1}'
    response = world["token"].post(
        "/api/v1/me/feedback/", body, content_type="application/json", HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 400
    response.content.decode()  # encoded: no UnicodeEncodeError on the way out


def test_past_the_rate_limit_the_api_answers_429_in_the_error_body(world, settings):
    rates = {"anon": "1/minute", "user": "1/minute"}  # read by web/ratelimit.py per request
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    client = Client(REMOTE_ADDR="10.9.0.1")  # not the address the fixture signed in from
    assert client.get("/api/v1/charts/").status_code == 200
    limited = client.get("/api/v1/charts/")
    assert limited.status_code == 429
    assert limited.json()["error"]["status"] == 429 and limited["Retry-After"]


def test_wrong_method_media_type_and_address_get_405_415_404_in_the_error_body(world):
    client = world["token"]
    answers = {
        405: client.delete("/api/v1/me/listens/"),
        415: client.post("/api/v1/me/listens/", "listens=1", content_type="text/plain"),
        404: client.put("/api/v1/me/nothing/", "{}", content_type="application/json"),
    }
    for expected, response in answers.items():
        assert response.status_code == expected
        assert response.json()["error"]["status"] == expected
