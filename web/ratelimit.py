"""The one rate limiter every API request is counted by: DRF's throttle (web/api/throttles.py)
and the ready first page (web/fast_reads.py) both call `hit`, so past the limit every
endpoint, every page and the fast path answer alike (`throttled_response`, RateLimit-*
headers and Retry-After).

The algorithm is a sliding window counter: a count per fixed window, and a request is
allowed while `previous window's count * the share of it still inside the sliding window +
this window's count` stays under the limit. Unlike a fixed window it does not let twice the
rate through across a window boundary (a burst at 0:59 still weighs at 1:01), and unlike a
log of every request it keeps two integers per client. A refused request is not counted, so
a client that keeps asking is let in again as its old requests slide out.

With Redis the check is one atomic round trip (a Lua script, run by its SHA); in local
memory (the embedded default, one process) the same arithmetic runs under a lock. The key
is the caller's user id when authenticated, else the client address: never a header value,
so what a client sends cannot name a key. When the cache is down `hit` returns None and the
caller lets the request through (logged), as the site answers from the database then too.
"""

import json
import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled

log = logging.getLogger(__name__)

# The limiter in Lua, shared by the scripts that count (here, and the ready page's in
# fast_reads): {allowed (0/1), this window's count after the request, the previous one's}.
LUA_LIMIT = """
local function limit_hit(current_key, previous_key, limit, period, elapsed)
  local current = tonumber(redis.call('GET', current_key) or '0')
  local previous = tonumber(redis.call('GET', previous_key) or '0')
  if previous * (period - elapsed) / period + current + 1 > limit then
    return {0, current, previous}
  end
  current = redis.call('INCR', current_key)
  redis.call('EXPIRE', current_key, period * 2)
  return {1, current, previous}
end
"""
# KEYS: this window's counter, the previous one's. ARGV: limit, period, seconds into it.
_SCRIPT = (
    LUA_LIMIT
    + """
return limit_hit(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
"""
)

_lock = threading.Lock()
_client: dict[str, object] = {}  # url -> (client, script): one per process


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until this window's count no longer weighs fully
    retry_after: int  # seconds until a refused request would be let in (0 when allowed)

    def headers(self) -> dict[str, str]:
        """The draft IETF RateLimit fields, and Retry-After when refused."""
        fields = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            fields["Retry-After"] = str(self.retry_after)
        return fields


def parse_rate(rate: str) -> tuple[int, int]:
    """'120/minute' -> (120, 60), as DRF's throttle rates are written."""
    count, unit = rate.split("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit[0]]


def rate_for(*, authenticated: bool) -> tuple[int, int]:
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    return parse_rate(rates["user" if authenticated else "anon"])


def client_key(request: HttpRequest, user_id: int | None) -> str:
    """Who is counted: the account, else the address the connection came from (a proxy in
    front sets REMOTE_ADDR through its WSGI server, not through a header we would trust)."""
    if user_id is not None:
        return f"user:{user_id}"
    return f"addr:{request.META.get('REMOTE_ADDR', '')}"


def window_of(now: float, period: int) -> tuple[int, float]:
    """(the fixed window `now` falls in, seconds into it)."""
    window = int(now // period)
    return window, now - window * period


def counter_key(key: str, period: int, window: int) -> str:
    return f"ratelimit:{key}:{period}:{window}"


def decide(allowed, current, previous, limit, period, elapsed) -> Decision:
    """The decision, its remaining count and its waits, from what the counters said."""
    weight = (period - elapsed) / period
    used = previous * weight + current
    remaining = max(0, math.floor(limit - used))
    retry_after = 0
    if not allowed:
        # This window alone is full: wait for the next one, where the previous count
        # shrinks as the window slides; otherwise until enough of the previous slides out.
        if current + 1 > limit:
            retry_after = period - elapsed + period * (current + 1 - limit) / current
        else:
            retry_after = period * (previous + current + 1 - limit) / previous - elapsed
    return Decision(
        allowed=bool(allowed),
        limit=limit,
        remaining=remaining,
        reset=max(1, math.ceil(period - elapsed)),
        retry_after=max(1, math.ceil(retry_after)) if not allowed else 0,
    )


def _redis():
    url = settings.REDIS_URL
    if url not in _client:
        connection = redis.Redis.from_url(url)
        _client.clear()
        _client[url] = (connection, connection.register_script(_SCRIPT))
    return _client[url]  # type: ignore[return-value]


def hit(key: str, limit: int, period: int, *, now: float | None = None) -> Decision | None:
    """Count one request for `key` against `limit` per `period` seconds, unless that would
    pass the limit; None when the cache cannot be reached (let it through)."""
    now = time.time() if now is None else now
    window, elapsed = window_of(now, period)
    current_key = counter_key(key, period, window)
    previous_key = counter_key(key, period, window - 1)
    if settings.REDIS_URL:
        try:
            _, script = _redis()
            allowed, current, previous = script(  # under the cache's prefix, as the rest
                keys=[cache.make_key(current_key), cache.make_key(previous_key)],
                args=[limit, period, elapsed],
            )
        except redis.RedisError:
            log.warning("rate limit not checked: the cache is unavailable", exc_info=True)
            return None
        return decide(allowed, int(current), int(previous), limit, period, elapsed)
    with _lock:  # the local-memory cache lives in this process: a lock makes it atomic
        try:
            current = cache.get(current_key, 0)
            previous = cache.get(previous_key, 0)
            allowed = previous * (period - elapsed) / period + current + 1 <= limit
            if allowed:
                current += 1
                cache.set(current_key, current, period * 2)
        except Exception:
            log.warning("rate limit not checked: the cache is unavailable", exc_info=True)
            return None
    return decide(allowed, current, previous, limit, period, elapsed)


def throttled_message(wait: int) -> str:
    """DRF's own words for a throttled request, so both paths say the same."""
    return str(Throttled(wait=wait).detail)


def throttled_response(decision: Decision) -> HttpResponse:
    """The 429 the fast path answers, byte for byte what DRF's path answers through the
    API's error handler (web/api/errors.py's one error shape), with the same headers."""
    error = {
        "status": 429,
        "code": Throttled.default_code,
        "message": throttled_message(decision.retry_after),
    }
    response = HttpResponse(
        json.dumps({"error": error}), status=429, content_type="application/json"
    )
    for name, value in decision.headers().items():
        response[name] = value
    return response
