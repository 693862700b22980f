"""The hot path of GET /api/v1/me/recommendations/: ready-made bytes from the cache.

A mobile client asks for its first page of suggestions far more often than for anything
else, so that one request is answered with no database query and no DRF machinery: the
token is looked up in the cache (token -> user and listener, written when DRF first
authenticated it, deleted when the token is deleted or the account changes), the request
is counted against the user's rate limit, and the first page is read as the bytes DRF
rendered for it (written on the first full request, deleted when the list is refreshed;
keyed by the active set, so a publication moves every reader on). Anything else — no
token, a session, query parameters other than `level`, a cache miss, the cache down —
falls through to the DRF view, which answers exactly as before.
"""

import json
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import SimpleRateThrottle

from musicsite.safe_cache import attempt

from . import serving

TOKEN_SECONDS = 300
ACTIVE_SET_MEMO_SECONDS = 2.0
_active_memo: dict[str, float | int | None] = {"until": 0.0, "id": None}


def token_key(token: str) -> str:
    return f"auth:token:{token}"


def remember_token(token: str, user_id: int, listener_id: int) -> None:
    attempt("set", token_key(token), (user_id, listener_id), TOKEN_SECONDS)


def forget_token(token: str) -> None:
    attempt("delete", token_key(token))


def page_key(set_id: int, listener_id: int, level: str) -> str:
    """The first page (default size) of a listener's list, as rendered JSON bytes."""
    return f"{serving.list_key(set_id, listener_id, level)}:first-page"


def is_first_page(query: dict) -> str | None:
    """The level when the request asks for the first page at the default size, else None."""
    if set(query) - {"level"}:
        return None
    level = query.get("level", "song")
    return level if level in ("song", "artist") else None


def _active_set_id() -> int | None:
    """The active set's id, memoised in the process for a moment (a switch is seen within
    ACTIVE_SET_MEMO_SECONDS; the previous set stays whole meanwhile)."""
    now = time.monotonic()
    if now >= _active_memo["until"]:
        current = serving.active_set()
        _active_memo["id"] = current.id if current else None
        _active_memo["until"] = now + ACTIVE_SET_MEMO_SECONDS
    return _active_memo["id"]  # type: ignore[return-value]


def forget_active_set_memo() -> None:
    _active_memo["until"] = 0.0


def _wait_if_throttled(user_id: int) -> int | None:
    """Seconds to wait when the user is over the API's user rate, else None: a fixed
    window counted in the cache (usually one round trip)."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user"]
    allowed, period = SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
    now = time.time()
    window = int(now // period)
    key = f"throttle:fast:{user_id}:{window}"
    try:
        count = cache.incr(key)
    except ValueError:  # a new window: start counting
        attempt("set", key, 1, period)
        return None
    except Exception:  # the cache is down: DRF's path decides
        return None
    return int((window + 1) * period - now) + 1 if count > allowed else None


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
    """The cached first page for a token request, or None to let DRF answer."""
    if request.method != "GET":
        return None
    header = request.headers.get("Authorization", "")
    if not header.startswith("Token "):
        return None
    level = is_first_page(request.GET.dict())
    if level is None:
        return None
    known = attempt("get", token_key(header[6:].strip()))
    if known is None:
        return None
    user_id, listener_id = known
    set_id = _active_set_id()
    if set_id is None:
        return None
    body = attempt("get", page_key(set_id, listener_id, level))
    if body is None:
        return None
    wait = _wait_if_throttled(user_id)
    if wait is not None:
        return _throttled(wait)
    return HttpResponse(body, content_type="application/json")


def forget_tokens_of(sender, instance, **kwargs) -> None:
    """Signal receiver: a deleted token, or a changed or deleted account, loses its cached
    sign-in at once (an inactive user must not keep reading through the cache)."""
    from rest_framework.authtoken.models import Token

    if isinstance(instance, Token):
        forget_token(instance.key)
        return
    for key in Token.objects.filter(user_id=instance.pk).values_list("key", flat=True):
        forget_token(key)
