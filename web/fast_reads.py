"""The hot path of GET /api/v1/me/recommendations/: ready-made bytes from the cache.

A mobile client asks for its first page of suggestions far more often than for anything
else, so that one request is answered with no database query and no DRF machinery. When
DRF has answered a token's first-page request, the rendered bytes are kept under the
token's digest (knox's SHA-512 of it, the value its table stores: no raw token ever names a
key) with the set they came from, the account and the token's expiry; the next identical
request with that token is counted by the one rate limiter (web/ratelimit.py, by account)
and answered from them. The entry is deleted when the listener's list is refreshed, when
the token is deleted (signing out, signing out everywhere, a password change, knox's
expiry clean-up), and when the account changes (deactivated, deleted); it is not used past
the token's expiry; it names its set, so a publication moves every reader on; and it
expires after TOKEN_SECONDS whatever happens. Anything else — no token, a token not shaped
as knox makes them, a session, query parameters other than `level`, a cache miss, the
cache down — falls through to the DRF view, which authenticates against the database and
answers as before.

With Redis the path is two round trips (the page, then the rate count) on one client per
process: Django's cache API builds a new Redis client object for every call, which costs
more than the round trip itself.
"""

import pickle
import re
import time

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save, pre_delete
from django.http import HttpRequest, HttpResponse
from knox.crypto import hash_token
from knox.models import AuthToken

from musicsite.safe_cache import attempt
from recommender import serving
from recommender.events import active_set_changed, lists_changed
from web import ratelimit
from web.api.authentication import TOKEN_PATTERN

TOKEN_SECONDS = 300
ACTIVE_SET_MEMO_SECONDS = 2.0
LEVELS = ("song", "artist")
# Any other header is left to DRF to refuse, and never hashed into a key.
TOKEN_SHAPE = re.compile(rf"Token ({TOKEN_PATTERN})")
_active_memo: dict[str, float | int | None] = {"until": 0.0, "id": None}
_client: redis.Redis | None = None


def page_key(digest: str, level: str) -> str:
    return f"auth:first-page:{digest}:{level}"


def remember_page(token: AuthToken, level: str, set_id: int, body: bytes) -> None:
    """Keep what DRF rendered for this token's first page of `set_id`."""
    expiry = token.expiry.timestamp() if token.expiry else None
    entry = (set_id, token.user_id, expiry, body)
    attempt("set", page_key(token.digest, level), entry, TOKEN_SECONDS)


def forget_pages(digests) -> None:
    keys = [page_key(digest, level) for digest in digests for level in LEVELS]
    if keys:
        attempt("delete_many", keys)


def forget_pages_of_listener(sender=None, *, listener_id: int, **kwargs) -> None:
    """The listener's list changed: their account's ready pages go."""
    forget_pages(
        AuthToken.objects.filter(user__listener__id=listener_id).values_list("digest", flat=True)
    )


def forget_tokens_of(sender, instance, **kwargs) -> None:
    """Signal receiver: a deleted token, or a changed or deleted account, loses its ready
    pages at once (a revoked token or an inactive user must not keep reading through the
    cache). A queryset delete (sign out everywhere) sends this for every token too."""
    if isinstance(instance, AuthToken):
        forget_pages([instance.digest])
    else:
        forget_pages(AuthToken.objects.filter(user_id=instance.pk).values_list("digest", flat=True))


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
    post_delete.connect(forget_tokens_of, sender=AuthToken, dispatch_uid="fast-reads-token")
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


def _read(digest: str, level: str) -> tuple | None:
    """(set id, user id, expiry timestamp or None, page bytes) kept for the token, or None
    (not kept, or the cache failing: DRF's path copes with both)."""
    client = _redis()
    if client is None:  # the cache API (the embedded default's local memory)
        return attempt("get", page_key(digest, level))
    try:
        page = client.get(cache.make_key(page_key(digest, level)))
    except redis.RedisError:
        return None
    return pickle.loads(page) if page is not None else None  # Django's pickling


def fast_response(request: HttpRequest) -> HttpResponse | None:
    """The ready first page for a token request, or None to let DRF answer."""
    if request.method != "GET":
        return None
    shaped = TOKEN_SHAPE.fullmatch(request.headers.get("Authorization", ""))
    if shaped is None:
        return None
    level = is_first_page(request.GET.dict())
    if level is None:
        return None
    found = _read(hash_token(shaped.group(1)), level)
    if found is None:
        return None
    set_id, user_id, expiry, body = found
    if set_id != _active_set_id():
        return None  # from a set no longer active: DRF renders the new one
    if expiry is not None and expiry <= time.time():
        return None  # expired: knox refuses it (and deletes it) on DRF's path
    limit, period = ratelimit.rate_for(authenticated=True)
    decision = ratelimit.hit(ratelimit.client_key(request, user_id), limit, period)
    if decision is not None and not decision.allowed:
        return ratelimit.throttled_response(decision)
    response = HttpResponse(body, content_type="application/json")
    response["Vary"] = "Accept"  # as DRF's own answer says
    if decision is not None:
        for name, value in decision.headers().items():
            response[name] = value
    return response
