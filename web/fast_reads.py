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

With Redis the path is one round trip on one client per process (Django's cache API builds
a new Redis client object for every call, which costs more than the round trip itself): a
Lua script reads the entry (a hash: account, set, expiry, bytes), checks its set and expiry
and counts the request with the rate limiter's own Lua, under the account's key — a key
the script builds from the entry, so it assumes one Redis, not a cluster. In local memory
the same steps run through the cache API.
"""

import logging
import re
import time

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
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
log = logging.getLogger(__name__)

# KEYS: the entry. ARGV: limit, period, seconds into the window, this window, the previous
# window, the rate keys' prefix up to the account id, the active set, now. False when the
# entry cannot answer (missing, another set, expired: nothing counted, DRF answers and
# counts); else {allowed, this window's count, the previous one's, account, bytes}.
_READY_SCRIPT = (
    ratelimit.LUA_LIMIT
    + """
local entry = redis.call('HMGET', KEYS[1], 'user', 'set', 'expiry', 'body')
local user = entry[1]
if not user or entry[2] ~= ARGV[7] then return false end
if entry[3] ~= '' and tonumber(entry[3]) <= tonumber(ARGV[8]) then return false end
local base = ARGV[6] .. user .. ':' .. ARGV[2] .. ':'
local counted = limit_hit(base .. ARGV[4], base .. ARGV[5], tonumber(ARGV[1]),
                          tonumber(ARGV[2]), tonumber(ARGV[3]))
return {counted[1], counted[2], counted[3], user, entry[4]}
"""
)
_script = None
_client: redis.Redis | None = None


def page_key(digest: str, level: str) -> str:
    return f"auth:first-page:{digest}:{level}"


def remember_page(token: AuthToken, level: str, set_id: int, body: bytes) -> None:
    """Keep what DRF rendered for this token's first page of `set_id` — unless the token
    was revoked meanwhile: a revocation between DRF's check and this write would otherwise
    leave a page for a dead token (the revocation's own delete then came first)."""
    _write_page(token, level, set_id, body)
    if not AuthToken.objects.filter(digest=token.digest).exists():
        forget_pages([token.digest])


def _write_page(token: AuthToken, level: str, set_id: int, body: bytes) -> None:
    expiry = token.expiry.timestamp() if token.expiry else None
    client = _redis()
    if client is None:
        entry = (set_id, token.user_id, expiry, body)
        attempt("set", page_key(token.digest, level), entry, TOKEN_SECONDS)
        return
    key = cache.make_key(page_key(token.digest, level))
    fields = {"user": token.user_id, "set": set_id, "expiry": expiry or "", "body": body}
    try:
        pipe = client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, TOKEN_SECONDS)
        pipe.execute()
    except redis.RedisError:
        log.warning("ready page not kept: the cache is unavailable", exc_info=True)


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
    cache). A queryset delete (sign out everywhere) sends this for every token too. Again
    once the change commits: a page written meanwhile by a request that still saw the token
    (remember_page's own check ran before the commit) goes then."""
    if isinstance(instance, AuthToken):
        digests = [instance.digest]
    else:
        digests = list(
            AuthToken.objects.filter(user_id=instance.pk).values_list("digest", flat=True)
        )
    forget_pages(digests)
    transaction.on_commit(lambda: forget_pages(digests))


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
        global _script
        _client, _script = redis.Redis.from_url(settings.REDIS_URL), None
    return _client


def _ready_redis(client: redis.Redis, digest: str, level: str):
    """(decision or None, bytes) from the one round trip, or None to let DRF answer."""
    global _script
    if _script is None:
        _script = client.register_script(_READY_SCRIPT)
    limit, period = ratelimit.rate_for(authenticated=True)
    now = time.time()
    window, elapsed = ratelimit.window_of(now, period)
    # The script ends the counter's name as ratelimit.counter_key(f"user:{id}", ...) does;
    # Django's default key function puts its prefix and version before the name.
    prefix = cache.make_key("ratelimit:user:")
    try:
        found = _script(
            keys=[cache.make_key(page_key(digest, level))],
            args=[limit, period, elapsed, window, window - 1, prefix, _active_set_id() or "", now],
            client=client,
        )
    except redis.RedisError:
        return None  # DRF's path copes with the cache being down
    if not found:
        return None
    allowed, current, previous, _, body = found
    return ratelimit.decide(allowed, int(current), int(previous), limit, period, elapsed), body


def _ready_local(request: HttpRequest, digest: str, level: str):
    """The same steps through the cache API (the embedded default's local memory)."""
    found = attempt("get", page_key(digest, level))
    if found is None:
        return None
    set_id, user_id, expiry, body = found
    if set_id != _active_set_id():
        return None  # from a set no longer active: DRF renders the new one
    if expiry is not None and expiry <= time.time():
        return None  # expired: knox refuses it (and deletes it) on DRF's path
    limit, period = ratelimit.rate_for(authenticated=True)
    return ratelimit.hit(ratelimit.client_key(request, user_id), limit, period), body


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
    digest = hash_token(shaped.group(1))
    client = _redis()
    ready = (
        _ready_local(request, digest, level)
        if client is None
        else _ready_redis(client, digest, level)
    )
    if ready is None:
        return None
    decision, body = ready
    if decision is not None and not decision.allowed:
        return ratelimit.throttled_response(decision)
    response = HttpResponse(body, content_type="application/json")
    response["Vary"] = "Accept"  # as DRF's own answer says
    if decision is not None:
        for name, value in decision.headers().items():
            response[name] = value
    return response
