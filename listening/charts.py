"""Charts: the songs and artists with the most listeners, overall and recently.

Computed in SQL over the listens and cached (an hour by default; the hourly schedule
recomputes them), so a page or an API call never waits for the aggregate.
"""

from datetime import timedelta
from typing import Any

from django.db.models import Count, Max, Sum

from catalog.models import Artist, CatalogStatus, Song
from listening.models import Listen
from musicsite.safe_cache import attempt

CHARTS_KEY = "listening:charts"
CHARTS_SECONDS = 3600
CHART_LENGTH = 20
RECENT_DAYS = 30


def _top(level: str, since=None) -> list[dict[str, Any]]:
    """Only public songs and artists chart: the few pending or hidden ones are left out by an
    anti-join on their ids, which costs far less than joining every listen to its item."""
    field = f"{level}_id"
    model = Song if level == "song" else Artist
    unlisted = model.objects.exclude(status=CatalogStatus.PUBLIC).values("pk")
    listens = Listen.objects.filter(**{f"{field}__isnull": False}).exclude(
        **{f"{field}__in": unlisted}
    )
    if since is not None:
        listens = listens.filter(played_at__gte=since)
    rows = (
        listens.values(field)
        .annotate(listeners=Count("listener_id", distinct=True), plays=Sum("play_count"))
        .order_by("-listeners", "-plays", field)[:CHART_LENGTH]
    )
    return [
        {"id": row[field], "listeners": row["listeners"], "plays": row["plays"]} for row in rows
    ]


def charts_compute() -> dict[str, Any]:
    """Top songs and artists overall and in the last RECENT_DAYS before the newest listen."""
    newest = Listen.objects.aggregate(newest=Max("played_at"))["newest"]
    since = newest - timedelta(days=RECENT_DAYS) if newest else None
    value = {
        "recent_since": since.isoformat() if since else None,
        "songs": {"overall": _top("song"), "recent": _top("song", since) if since else []},
        "artists": {"overall": _top("artist"), "recent": _top("artist", since) if since else []},
    }
    attempt("set", CHARTS_KEY, value, CHARTS_SECONDS)
    return value


def charts() -> dict[str, Any]:
    """The cached charts, computed on a miss."""
    cached = attempt("get", CHARTS_KEY)
    return cached if cached is not None else charts_compute()
