"""Reading a listener's suggestions from the active set (refreshing them: `refresh.py`).

Reads go through the cache (Redis when configured): the active set's id for a few seconds,
and each listener's list, keyed by set, listener and level, until it is refreshed (its key
is deleted) or a new set is published (the key changes with the set id).
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from catalog.models import Song
from musicsite.safe_cache import attempt
from recommender import events
from recommender.models import (
    ListenerRecommendations,
    RecommendationSet,
    SetStatus,
    SimilarItems,
)

log = logging.getLogger(__name__)

ACTIVE_SET_KEY = "recommender:active-set"
ACTIVE_SET_SECONDS = 5
LIST_SECONDS = 24 * 3600


@dataclass
class ActiveSet:
    id: int
    run_id: int
    algorithm: str
    level: str
    top_n: int
    charts: dict[str, list]


def active_set() -> ActiveSet | None:
    """The active set (cached for a few seconds; `forget_active_set` on a switch)."""
    cached = attempt("get", ACTIVE_SET_KEY)
    if cached is not None:
        return ActiveSet(**cached) if cached else None
    found = (
        RecommendationSet.objects.filter(status=SetStatus.ACTIVE)
        .select_related("run")
        .only("id", "top_n", "charts", "run__id", "run__algorithm", "run__level")
        .first()
    )
    value = (
        {
            "id": found.pk,
            "run_id": found.run.pk,
            "algorithm": found.run.algorithm,
            "level": found.run.level,
            "top_n": found.top_n,
            "charts": found.charts,
        }
        if found
        else {}
    )
    attempt("set", ACTIVE_SET_KEY, value, ACTIVE_SET_SECONDS)
    return ActiveSet(**value) if value else None


def forget_active_set() -> None:
    attempt("delete", ACTIVE_SET_KEY)
    events.active_set_changed.send(sender=RecommendationSet)


def list_key(set_id: int, listener_id: int, level: str) -> str:
    return f"recommender:list:{set_id}:{listener_id}:{level}"


def entries_key(list_cache_key: str) -> str:
    """Where readers keep a list joined with its songs' or artists' details."""
    return f"{list_cache_key}:entries"


def listener_list(listener_id: int, level: str) -> dict[str, Any] | None:
    """A listener's list at `level` from the active set: {"set", "algorithm", "items",
    "scores", "reasons", "reason_level", "fallback", "refreshed_at"} (reasons are ids at
    `reason_level`); the set's charts (fallback) for a listener without a row; None when
    nothing is published."""
    current = active_set()
    if current is None:
        return None
    key = list_key(current.id, listener_id, level)
    cached = attempt("get", key)
    if cached is not None:
        return cached
    row = (
        ListenerRecommendations.objects.filter(
            recommendation_set_id=current.id, listener_id=listener_id, level=level
        )
        .values("item_ids", "scores", "reasons", "is_fallback", "refreshed_at")
        .first()
    )
    if row is None:
        chart = current.charts.get(level, [])
        value = {
            "items": [item for item, _ in chart],
            "scores": [score for _, score in chart],
            "reasons": [None] * len(chart),
            "fallback": True,
            "refreshed_at": None,
        }
    else:
        value = {
            "items": row["item_ids"],
            "scores": row["scores"],
            "reasons": row["reasons"],
            "fallback": row["is_fallback"],
            "refreshed_at": row["refreshed_at"].isoformat() if row["refreshed_at"] else None,
        }
    # An artist-level set's song lists are made from its artist lists: their reasons are
    # artists (the one the listener played that led there, or the song's own).
    reason_level = "artist" if current.level == "artist" else level
    value.update(
        {
            "set": current.id,
            "algorithm": current.algorithm,
            "level": level,
            "reason_level": reason_level,
        }
    )
    attempt("set", key, value, LIST_SECONDS)
    return value


def similar_ids(level: str, item_id: int) -> tuple[int | None, list[int]]:
    """(active set id, the item's similar item ids) — (None, []) before a publication."""
    current = active_set()
    if current is None:
        return None, []
    key = f"recommender:similar:{current.id}:{level}:{item_id}"
    cached = attempt("get", key)
    if cached is None:
        cached = (
            SimilarItems.objects.filter(
                recommendation_set_id=current.id, level=level, item_id=item_id
            )
            .values_list("item_ids", flat=True)
            .first()
            or []
        )
        attempt("set", key, cached, LIST_SECONDS)
    return current.id, cached


def forget_lists(listener_id: int) -> None:
    current = active_set()
    if current is not None:
        keys = [list_key(current.id, listener_id, level) for level in ("song", "artist")]
        attempt("delete_many", keys + [entries_key(key) for key in keys])
    events.lists_changed.send(sender=ListenerRecommendations, listener_id=listener_id)


# -- removing an item at once (not for me) ------------------------------------------------------


def drop_from_lists(listener_id: int, *, song_id: int | None = None, artist_id: int | None = None):
    """Take a song — or an artist and all their songs — out of the listener's active lists
    now (their other entries keep their order, scores and reasons)."""
    current = active_set()
    if current is None:
        return
    with transaction.atomic():
        rows = {
            row.level: row
            for row in ListenerRecommendations.objects.select_for_update().filter(
                recommendation_set_id=current.id, listener_id=listener_id
            )
        }
        if song_id:
            _remove(rows.get("song"), {song_id})
        if artist_id:
            _remove(rows.get("artist"), {artist_id})
            songs = rows.get("song")
            if songs is not None:
                by_artist = Song.objects.filter(pk__in=songs.item_ids, artist_id=artist_id)
                _remove(songs, set(by_artist.values_list("pk", flat=True)))
    forget_lists(listener_id)


def _remove(row: ListenerRecommendations | None, unwanted: set[int]) -> None:
    """Drop these items from a row's parallel arrays, and save it if anything changed."""
    if row is None or not unwanted & set(row.item_ids):
        return
    keep = [index for index, item in enumerate(row.item_ids) if item not in unwanted]
    row.item_ids = [row.item_ids[index] for index in keep]
    row.scores = [row.scores[index] for index in keep]
    row.reasons = [row.reasons[index] for index in keep]
    row.save(update_fields=["item_ids", "scores", "reasons"])
