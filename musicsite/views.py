import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from .celery import app as celery_app

READY_KEY = "readyz:probe"
BROKER_TIMEOUT = 2.0


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
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
    return "redis"


CHECKS: dict[str, Callable[[], str]] = {"database": _database, "cache": _cache, "broker": _broker}


def readyz(request: HttpRequest) -> JsonResponse:
    """Can this process serve? Each service checked, with its answer or its error; 503 when
    any is down (a load balancer stops sending requests here)."""
    results, ready = {}, True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            results[name] = {"ok": True, "detail": check()}
        except Exception as error:  # the point is to report any failure, whatever it is
            ready = False
            results[name] = {"ok": False, "detail": f"{type(error).__name__}: {error}"}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
