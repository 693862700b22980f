"""One rate limiter for every API request: DRF's endpoints and the ready first page count
together, answer alike past the limit, slide rather than reset at a window's edge, and never
name a cache key after what a client sent."""

import re

import pytest
import redis
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from catalog.models import Song
from tests.listening_data import import_generated, publish_trained
from tests.web.api_accounts import PASSWORD, api_account
from web import ratelimit

FIRST_PAGE = "/api/v1/me/recommendations/"
MESSAGE = re.compile(r"Request was throttled\. Expected available in \d+ seconds?\.")


@pytest.fixture
def published(db, tmp_path):
    import_generated(tmp_path, listeners=20, songs=80, listens=1500, seed=3)
    publish_trained("item_knn", top_n=30)


def at_rate(settings, user: str, anon: str = "1000/minute") -> None:
    rates = {"anon": anon, "user": user}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def test_past_the_limit_every_endpoint_and_the_fast_path_answer_429_alike(
    published, settings, django_assert_num_queries
):
    at_rate(settings, user="4/minute")
    client, _ = api_account("ann", Song.objects.order_by("pk")[:5])
    answered = [
        client.get(FIRST_PAGE),  # DRF renders it and keeps it ready
        client.get(FIRST_PAGE),  # the fast path
        client.get(FIRST_PAGE, {"page": 2}),
        client.get("/api/v1/me/listens/"),
    ]
    assert [r.status_code for r in answered] == [200, 200, 200, 200]
    assert [r["RateLimit-Remaining"] for r in answered] == ["3", "2", "1", "0"]
    assert {r["RateLimit-Limit"] for r in answered} == {"4"}

    with django_assert_num_queries(0):  # refused by the fast path itself
        fast = client.get(FIRST_PAGE)
    refused = [fast, client.get(FIRST_PAGE, {"page": 2}), client.get("/api/v1/me/listens/")]
    for response in refused:
        assert response.status_code == 429
        assert response["Content-Type"] == "application/json"
        error = response.json()["error"]
        assert set(error) == {"status", "code", "message"}
        assert error["status"] == 429 and error["code"] == "throttled"
        assert MESSAGE.fullmatch(error["message"]), error["message"]
        assert int(response["Retry-After"]) > 0
        assert response["RateLimit-Limit"] == "4" and response["RateLimit-Remaining"] == "0"
        assert int(response["RateLimit-Reset"]) > 0
        assert str(response["Retry-After"]) in error["message"]


def test_a_session_and_a_token_of_one_account_share_its_count(published, settings):
    at_rate(settings, user="2/minute")
    client, listener = api_account("bob", Song.objects.order_by("pk")[:5])
    browser = APIClient()
    browser.force_login(listener.user)
    assert client.get("/api/v1/me/listens/").status_code == 200
    assert browser.get("/api/v1/me/listens/").status_code == 200
    assert client.get(FIRST_PAGE).status_code == 429


def test_anonymous_callers_are_counted_by_address(db, settings):
    at_rate(settings, user="1000/minute", anon="2/minute")
    here, there = APIClient(REMOTE_ADDR="10.1.1.1"), APIClient(REMOTE_ADDR="10.1.1.2")
    assert [here.get("/api/v1/charts/").status_code for _ in range(3)] == [200, 200, 429]
    assert there.get("/api/v1/charts/").status_code == 200
    # A forwarded-for header names no one: the connection's address is what counts.
    forged = here.get("/api/v1/charts/", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert forged.status_code == 429


def test_the_window_slides_so_a_boundary_does_not_let_twice_the_rate_through(db):
    limit, period = 10, 60
    # All ten at the end of one window...
    late = [ratelimit.hit("user:1", limit, period, now=59.0 + n / 100) for n in range(limit)]
    assert all(d.allowed for d in late)
    # ...still weigh just after the boundary, where a fixed window would start at zero.
    after = ratelimit.hit("user:1", limit, period, now=61.0)
    assert not after.allowed and after.retry_after > 0
    # As the window slides past them, room comes back, one request at a time.
    assert ratelimit.hit("user:1", limit, period, now=61.0 + after.retry_after).allowed
    # Over any minute, no more than the limit (and a little for the estimate's rounding).
    allowed = [t for t in range(120, 600) if ratelimit.hit("user:2", limit, period, now=t).allowed]
    for start in range(120, 540):
        assert sum(start <= t < start + period for t in allowed) <= limit + 1


def test_a_refusal_says_when_a_retry_would_be_let_in(db):
    for n in range(5):
        ratelimit.hit("user:3", 5, 60, now=10.0 + n)
    refused = ratelimit.hit("user:3", 5, 60, now=20.0)
    # Past the next window's start (40 s), until the five slide enough out of it (12 s more).
    assert not refused.allowed and refused.retry_after == 52
    assert not ratelimit.hit("user:3", 5, 60, now=20.0 + refused.retry_after - 2).allowed
    assert ratelimit.hit("user:3", 5, 60, now=20.0 + refused.retry_after).allowed


@pytest.mark.parametrize(
    "header",
    [
        "Token " + "x" * 5000,
        "Token ../../etc/passwd",
        "Token a b",
        "Token " + "g" * 64,
        "Token " + "a" * 64,  # shaped as knox makes them, but no such token
        "Token",
        "Bearer abc",
        # What a server hands on for UTF-8 bytes (WSGI decodes headers as latin-1): a
        # right-to-left override, and bytes that are no UTF-8 at all.
        "Token " + "\u202eabc".encode().decode("latin-1"),
        "Token \xff\xfe" + "a" * 20,
    ],
)
def test_a_malformed_authorization_header_gets_401_and_names_no_key(db, header):
    before = _keys()
    response = APIClient().get(FIRST_PAGE, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401
    if before is not None:
        written = _keys() - before
        tail = header.split(" ", 1)[-1]
        assert not [key for key in written if tail and tail in key], written


def _keys() -> set[str] | None:
    """Every key in the cache's Redis database; None in local memory (no Redis)."""
    if not django_settings.REDIS_URL:
        return None
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    return {key.decode("utf-8", "replace") for key in client.scan_iter(count=1000)}


@pytest.mark.redis
def test_no_raw_token_names_any_redis_key(published, settings):
    at_rate(settings, user="3/minute", anon="50/minute")
    client, listener = api_account("cat", Song.objects.order_by("pk")[:5])
    raw = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    second = APIClient().post(
        "/api/v1/auth/token/", {"username": "cat", "password": PASSWORD}, format="json"
    )
    other = second.json()["token"]
    for _ in range(2):
        APIClient().post("/api/v1/auth/token/", {"username": "cat", "password": "wrong"})
    for _ in range(5):  # the DRF path, the fast path, then past the limit on both
        client.get(FIRST_PAGE)
        client.get(FIRST_PAGE, {"page": 2})
    APIClient().get(FIRST_PAGE, HTTP_AUTHORIZATION="Token " + "f" * 64)
    keys = _keys()
    assert any(":auth:token:" in key for key in keys)  # the fast path was exercised
    assert any(f"ratelimit:user:{listener.user_id}:" in key for key in keys)
    for token in (raw, other, "f" * 64):
        assert not [key for key in keys if token in key or token[:15] in key]
    digest = re.compile(r"[0-9a-f]{128}")
    for key in keys:
        if ":auth:token:" in key:
            assert digest.fullmatch(key.split(":auth:token:")[1])
