import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from musicsite.celery import app as celery_app

READY_KEY = "readyz:probe"
BROKER_TIMEOUT = 0.5


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering; says nothing about its services."""
    return JsonResponse({"status": "ok"})


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _cache() -> str:
    cache.set(READY_KEY, "ok", 10)
    if cache.get(READY_KEY) != "ok":
        raise RuntimeError("the cache did not keep a value")
    return type(cache).__name__


def _broker() -> str:
    if not settings.REDIS_URL:
        return "in-process (tasks run eagerly)"
    # One try, bounded: a probe answers within a load balancer's timeout (often 1 s), and
    # a broker that does not answer at once is reported down, not waited for.
    with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT) as broker:
        broker.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
    return "redis"


CHECKS: dict[str, Callable[[], str]] = {"database": _database, "cache": _cache, "broker": _broker}
# Without these a process cannot serve at all. Without the others it serves degraded
# (docs/operations.md): pages and the API read the database when the cache is down, and
# listens are stored with their refreshes kept for later when the broker is down. So a
# Redis outage must not take every web node out of the load balancer at once.
REQUIRED = ("database",)


def readyz(request: HttpRequest) -> JsonResponse:
    """Can this process serve? Each service checked, with its answer or its error.
    503 ("unavailable") only when a required service (the database) is down; a down
    cache or broker is reported as "degraded" with a 200, since the site still serves."""
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            results[name] = {"ok": True, "detail": check()}
        except Exception as error:  # the point is to report any failure, whatever it is
            results[name] = {"ok": False, "detail": f"{type(error).__name__}: {error}"}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    if not all(results[name]["ok"] for name in REQUIRED):
        status, code = "unavailable", 503
    elif not all(result["ok"] for result in results.values()):
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    return JsonResponse({"status": status, "checks": results}, status=code)
