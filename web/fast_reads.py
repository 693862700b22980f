"""The hot path of GET /api/v1/me/recommendations/: the ready first page, in one round trip.

A mobile client asks for its first page of suggestions far more often than for anything
else, and the publication has already rendered it (web/ready_pages.py, keyed by set,
listener and level). What the request brings is a token; what names the page is the
listener. So each token's digest (knox's SHA-512 of it, the value its table stores: no raw
token ever names a key) maps to its account, listener and expiry, kept when the token is
made and whenever DRF authenticates it here, and deleted at once when the token is
(signing out, signing out everywhere, a password change, knox's expiry clean-up) or the
account changes (deactivated, deleted). With Redis one Lua script does it all: the token's
entry, its expiry, the active set's id (a key the switch writes), the page, and the count
by the one rate limiter (web/ratelimit.py, by account, its own Lua) — keys the script
builds from what it reads, so it assumes one Redis, not a cluster. In local memory the same
steps run through the cache API. Anything else — no token, a token not shaped as knox makes
them, a session, query parameters other than `level`, a miss anywhere, the cache down —
falls through to the DRF view, which authenticates against the database, answers, and keeps
the token's entry and the page for the next time.
"""

import logging
import re
import time

import redis
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.http import HttpRequest, HttpResponse
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.utils.urls import replace_query_param

from listening.models import Listener
from musicsite.safe_cache import attempt
from recommender import serving
from recommender.events import active_set_changed, lists_changed, lists_written
from recommender.models import RecommendationSet, SetStatus
from web import ratelimit, ready_pages, tasks
from web.api.authentication import TOKEN_PATTERN
from web.api.formats import SafeJSONRenderer

TOKEN_SECONDS = 30 * 24 * 3600  # the entry of a token that never expires
ACTIVE_SET_SECONDS = 60  # the active set's key: a write lost in an outage lasts this long
ACTIVE_SET_MEMO_SECONDS = 2.0
ACTIVE_SET_KEY = "ready:active-set"
LEVELS = ready_pages.LEVELS
# Any other header is left to DRF to refuse, and never hashed into a key.
TOKEN_SHAPE = re.compile(rf"Token ({TOKEN_PATTERN})")
_active_memo: dict[str, float | int | None] = {"until": 0.0, "id": None}
log = logging.getLogger(__name__)

# KEYS: the token's entry, the active set's id. ARGV: limit, period, seconds into the
# window, this window, the previous window, the rate keys' prefix up to the account id,
# the pages' prefix up to the set id, the level, now. False when it cannot answer (no
# entry, expired, no active set, no page: nothing counted, DRF answers and counts); else
# {allowed, this window's count, the previous one's, the stored page}.
_READY_SCRIPT = (
    ratelimit.LUA_LIMIT
    + """
local token = redis.call('HMGET', KEYS[1], 'user', 'listener', 'expiry')
local user = token[1]
if not user then return false end
if token[3] ~= '' and tonumber(token[3]) <= tonumber(ARGV[9]) then return false end
local set = redis.call('GET', KEYS[2])
if not set then return false end
local page = redis.call('GET', ARGV[7] .. set .. ':' .. token[2] .. ':' .. ARGV[8])
if not page then return false end
local base = ARGV[6] .. user .. ':' .. ARGV[2] .. ':'
local counted = limit_hit(base .. ARGV[4], base .. ARGV[5], tonumber(ARGV[1]),
                          tonumber(ARGV[2]), tonumber(ARGV[3]))
return {counted[1], counted[2], counted[3], page}
"""
)
_script: dict[int, object] = {}  # id(client) -> its registered script


def token_key(digest: str) -> str:
    return f"auth:token:{digest}"


def remember_token(token: AuthToken, listener_id: int) -> None:
    """Keep the token's account, listener and expiry for the fast path — unless the token
    was revoked meanwhile: a revocation between DRF's check and this write would otherwise
    leave an entry for a dead token (the revocation's own delete then came first)."""
    tokens_remember([(token.digest, token.user_id, token.expiry, listener_id)])
    if not AuthToken.objects.filter(digest=token.digest).exists():
        forget_tokens([token.digest])


def tokens_remember(entries) -> None:
    """Keep (digest, user id, expiry, listener id) entries, in one round trip. An entry
    lives as long as its token (TOKEN_SECONDS for one that never expires), so a signed-in
    listener's first read after any publication finds it; about a hundred bytes each
    (benchmarks/results/serve.md). Tokens made in bulk send no post_save: their maker
    calls this (benchmarks/serve.py)."""
    now = time.time()
    rows = []
    for digest, user_id, expiry, listener_id in entries:
        stamp = expiry.timestamp() if expiry else None
        seconds = TOKEN_SECONDS if stamp is None else max(1, int(stamp - now))
        rows.append((token_key(digest), user_id, listener_id, stamp, seconds))
    client = ready_pages.redis_client()
    if client is None:
        for key, user_id, listener_id, stamp, seconds in rows:
            attempt("set", key, (user_id, listener_id, stamp), seconds)
        return
    try:
        pipe = client.pipeline(transaction=True)
        for key, user_id, listener_id, stamp, seconds in rows:
            key = cache.make_key(key)
            pipe.delete(key)
            pipe.hset(
                key, mapping={"user": user_id, "listener": listener_id, "expiry": stamp or ""}
            )
            pipe.expire(key, seconds)
        pipe.execute()
    except redis.RedisError:
        log.warning("token entries not kept: the cache is unavailable", exc_info=True)


def forget_tokens(digests) -> None:
    keys = [token_key(digest) for digest in digests]
    if keys:
        attempt("delete_many", keys)


def forget_tokens_of(sender, instance, **kwargs) -> None:
    """Signal receiver: a deleted token, or a changed or deleted account, loses its entry
    at once (a revoked token or an inactive user must not read through the cache). A
    queryset delete (sign out everywhere) sends this for every token too. Again once the
    change commits: an entry written meanwhile by a request that still saw the token
    (remember_token's own check ran before the commit) goes then. A sign-in's save of
    last_login alone changes nothing the entry holds."""
    if kwargs.get("update_fields") == frozenset({"last_login"}):
        return
    if isinstance(instance, AuthToken):
        digests = [instance.digest]
    else:
        digests = list(
            AuthToken.objects.filter(user_id=instance.pk).values_list("digest", flat=True)
        )
    forget_tokens(digests)
    transaction.on_commit(lambda: forget_tokens(digests))


def remember_new_token(sender, instance: AuthToken, created: bool, **kwargs) -> None:
    """Signal receiver: a new token (a sign-in) reads its first page fast from the start."""
    if not created:
        return
    listener_id = Listener.objects.for_user(instance.user).pk
    transaction.on_commit(lambda: remember_token(instance, listener_id))


def remember_read(token: AuthToken, listener_id: int, level: str, value: dict) -> None:
    """DRF answered a token's first page: keep the token's entry and the page (rendered as
    the publication renders it) for the next read, and the active set's id if it lapsed."""
    remember_token(token, listener_id)
    try:
        key = ready_pages.page_key(value["set"], listener_id, level)
        ready_pages.pages_store({key: ready_pages.rendered(value)})
    except redis.RedisError:
        log.warning("ready page not kept: the cache is unavailable", exc_info=True)
    remember_active_set(only_if_missing=True)


def remember_active_set(*, only_if_missing: bool = False) -> None:
    """Write the active set's id where the read script finds it (Redis only); on a miss
    only if it lapsed, so a read that raced a switch cannot undo the switch's own write."""
    client = ready_pages.redis_client()
    if client is None:
        return
    found = RecommendationSet.objects.filter(status=SetStatus.ACTIVE).values_list("pk", flat=True)
    set_id = found.first()
    key = cache.make_key(ACTIVE_SET_KEY)
    try:
        if set_id is None:
            client.delete(key)
        else:
            client.set(key, set_id, ex=ACTIVE_SET_SECONDS, nx=only_if_missing)
    except redis.RedisError:
        log.warning("active set not noted for the fast path", exc_info=True)


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


def on_active_set_changed(sender=None, **kwargs) -> None:
    """The switch is saved when this is sent: readers move to the new set now (this
    process's memo, and the key every process's read script looks up)."""
    _active_memo["until"] = 0.0
    _active_set_id()
    remember_active_set()


def connect() -> None:
    """Ready pages are rendered when lists are written or changed; token entries go when
    the token or the account does (called once, from WebConfig.ready)."""
    user = get_user_model()
    lists_written.connect(ready_pages.on_lists_written, dispatch_uid="ready-pages-written")
    lists_changed.connect(ready_pages.on_lists_changed, dispatch_uid="ready-pages-changed")
    active_set_changed.connect(ready_pages.on_active_set_changed, dispatch_uid="ready-pages-set")
    active_set_changed.connect(tasks.on_active_set_changed, dispatch_uid="ready-pages-missing")
    active_set_changed.connect(on_active_set_changed, dispatch_uid="fast-reads-set")
    post_save.connect(remember_new_token, sender=AuthToken, dispatch_uid="fast-reads-new-token")
    post_delete.connect(forget_tokens_of, sender=AuthToken, dispatch_uid="fast-reads-token")
    post_save.connect(forget_tokens_of, sender=user, dispatch_uid="fast-reads-user")
    pre_delete.connect(forget_tokens_of, sender=user, dispatch_uid="fast-reads-gone")


def _ready_redis(client: redis.Redis, digest: str, level: str):
    """(decision or None, stored page) from the one round trip, or None to let DRF answer."""
    script = _script.get(id(client))
    if script is None:
        _script.clear()
        script = _script[id(client)] = client.register_script(_READY_SCRIPT)
    limit, period = ratelimit.rate_for(authenticated=True)
    now = time.time()
    window, elapsed = ratelimit.window_of(now, period)
    # The script ends the counter's name as ratelimit.counter_key(f"user:{id}", ...) does,
    # and the page's as ready_pages.page_key; Django's default key function puts its
    # prefix and version before the name.
    try:
        found = script(
            keys=[cache.make_key(token_key(digest)), cache.make_key(ACTIVE_SET_KEY)],
            args=[
                limit,
                period,
                elapsed,
                window,
                window - 1,
                cache.make_key("ratelimit:user:"),
                cache.make_key("ready:page:"),
                level,
                now,
            ],
            client=client,
        )
    except redis.RedisError:
        return None  # DRF's path copes with the cache being down
    if not found:
        return None
    allowed, current, previous, page = found
    return ratelimit.decide(allowed, int(current), int(previous), limit, period, elapsed), page


def _ready_local(request: HttpRequest, digest: str, level: str):
    """The same steps through the cache API (the embedded default's local memory)."""
    entry = attempt("get", token_key(digest))
    if entry is None:
        return None
    user_id, listener_id, expiry = entry
    if expiry is not None and expiry <= time.time():
        return None  # expired: knox refuses it (and deletes it) on DRF's path
    set_id = _active_set_id()
    page = (
        None if set_id is None else attempt("get", ready_pages.page_key(set_id, listener_id, level))
    )
    if page is None:
        return None
    limit, period = ratelimit.rate_for(authenticated=True)
    return ratelimit.hit(ratelimit.client_key(request, user_id), limit, period), page


def next_link(request: HttpRequest) -> bytes:
    """The second page's link as DRF's paginator writes it, JSON-encoded."""
    return SafeJSONRenderer().render(replace_query_param(request.build_absolute_uri(), "page", 2))


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
    client = ready_pages.redis_client()
    ready = (
        _ready_local(request, digest, level)
        if client is None
        else _ready_redis(client, digest, level)
    )
    if ready is None:
        return None
    decision, page = ready
    if decision is not None and not decision.allowed:
        return ratelimit.throttled_response(decision)
    body = ready_pages.with_next(page, lambda: next_link(request))
    response = HttpResponse(body, content_type="application/json")
    response["Vary"] = "Accept"  # as DRF's own answer says
    if decision is not None:
        for name, value in decision.headers().items():
            response[name] = value
    return response
