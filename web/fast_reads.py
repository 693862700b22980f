"""The hot path of GET /api/v1/me/recommendations/: ready-made bytes from the cache.

A mobile client asks for its first page of suggestions far more often than for anything
else, so that one request is answered with no database query and no DRF machinery. When
DRF has answered a token's first-page request, the rendered bytes are kept under the token
(with the set they came from); the next identical request with that token is counted
against the rate limit and answered from them. The entry is deleted when the listener's
list is refreshed, when the token is deleted, and when the account changes (deactivated,
deleted); it names its set, so a publication moves every reader on; and it expires after
TOKEN_SECONDS whatever happens. Anything else — no token, a session, query parameters
other than `level`, a cache miss, the cache down — falls through to the DRF view, which
authenticates against the database and answers as before.

With Redis the path is one round trip (the page and the rate count in one pipeline) on one
client per process: Django's cache API builds a new Redis client object for every call,
which costs more than the round trip itself.
"""

import json
import pickle
import time

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save, pre_delete
from django.http import HttpRequest, HttpResponse
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from musicsite.safe_cache import attempt
from recommender import serving
from recommender.events import active_set_changed, lists_changed

TOKEN_SECONDS = 300
ACTIVE_SET_MEMO_SECONDS = 2.0
LEVELS = ("song", "artist")
_active_memo: dict[str, float | int | None] = {"until": 0.0, "id": None}
_client: redis.Redis | None = None


def page_key(token: str, level: str) -> str:
    return f"auth:first-page:{token}:{level}"


def remember_page(token: str, level: str, set_id: int, body: bytes) -> None:
    """Keep what DRF rendered for this token's first page of `set_id`."""
    attempt("set", page_key(token, level), (set_id, body), TOKEN_SECONDS)


def forget_pages(tokens) -> None:
    attempt("delete_many", [page_key(token, level) for token in tokens for level in LEVELS])


def forget_pages_of_listener(sender=None, *, listener_id: int, **kwargs) -> None:
    """The listener's list changed: their account's ready pages go."""
    forget_pages(Token.objects.filter(user__listener__id=listener_id).values_list("key", flat=True))


def forget_tokens_of(sender, instance, **kwargs) -> None:
    """Signal receiver: a deleted token, or a changed or deleted account, loses its ready
    pages at once (an inactive user must not keep reading through the cache)."""
    if isinstance(instance, Token):
        forget_pages([instance.key])
    else:
        forget_pages(Token.objects.filter(user_id=instance.pk).values_list("key", flat=True))


def is_first_page(query: dict) -> str | None:
    """The level when the request asks for the first page at the default size, else None."""
    if set(query) - {"level"}:
        return None
    level = query.get("level", "song")
    return level if level in LEVELS else None


def _active_set_id() -> int | None:
    """The active set's id, memoised in the process for a moment (a switch is seen within
    ACTIVE_SET_MEMO_SECONDS; the previous set stays whole meanwhile)."""
    now = time.monotonic()
    if now >= _active_memo["until"]:
        current = serving.active_set()
        _active_memo["id"] = current.id if current else None
        _active_memo["until"] = now + ACTIVE_SET_MEMO_SECONDS
    return _active_memo["id"]  # type: ignore[return-value]


def forget_active_set_memo(sender=None, **kwargs) -> None:
    _active_memo["until"] = 0.0


def connect() -> None:
    """Ready pages go when what they show changes: the listener's list, the active set,
    the token or the account (called once, from WebConfig.ready)."""
    user = get_user_model()
    lists_changed.connect(forget_pages_of_listener, dispatch_uid="fast-reads-lists")
    active_set_changed.connect(forget_active_set_memo, dispatch_uid="fast-reads-set")
    post_delete.connect(forget_tokens_of, sender=Token, dispatch_uid="fast-reads-token")
    post_save.connect(forget_tokens_of, sender=user, dispatch_uid="fast-reads-user")
    pre_delete.connect(forget_tokens_of, sender=user, dispatch_uid="fast-reads-gone")


def _redis() -> redis.Redis | None:
    """One Redis client per process when Redis is configured, else None."""
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def _rate() -> tuple[int, int]:
    """(requests allowed, per seconds) at the API's user rate."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user"]
    return SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type, return-value]


def _read(token: str, level: str, period: int) -> tuple[tuple[int, bytes] | None, int] | None:
    """((set id, page bytes) or None, requests in this rate window) for the token; None
    when the cache fails. Counting a token counts its user: an account has one token."""
    window = cache.make_key(f"throttle:fast:{token}:{int(time.time() // period)}")
    client = _redis()
    if client is None:  # the cache API (the embedded default's local memory)
        started = attempt("add", window, 1, period, default=True)
        count = 1 if started else attempt("incr", window, default=1)
        return attempt("get", page_key(token, level)), count
    try:
        pipe = client.pipeline(transaction=False)
        pipe.get(cache.make_key(page_key(token, level)))
        pipe.incr(window)
        pipe.expire(window, period)
        page, count, _ = pipe.execute()
    except redis.RedisError:
        return None  # DRF's path copes with the cache being down
    return (pickle.loads(page) if page is not None else None), count  # Django's pickling


def _throttled(wait: int) -> HttpResponse:
    error = {
        "status": 429,
        "code": "throttled",
        "message": f"Request was throttled. Expected available in {wait} seconds.",
    }
    response = HttpResponse(
        json.dumps({"error": error}), status=429, content_type="application/json"
    )
    response["Retry-After"] = str(wait)
    return response


def fast_response(request: HttpRequest) -> HttpResponse | None:
    """The ready first page for a token request, or None to let DRF answer."""
    if request.method != "GET":
        return None
    header = request.headers.get("Authorization", "")
    if not header.startswith("Token "):
        return None
    level = is_first_page(request.GET.dict())
    if level is None:
        return None
    allowed, period = _rate()
    found = _read(header[6:].strip(), level, period)
    if found is None or found[0] is None:
        return None
    (set_id, body), count = found
    if set_id != _active_set_id():
        return None  # from a set no longer active: DRF renders the new one
    if count > allowed:
        return _throttled(int(period - time.time() % period) + 1)
    response = HttpResponse(body, content_type="application/json")
    response["Vary"] = "Accept"  # as DRF's own answer says
    return response
