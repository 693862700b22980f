"""The aggregates the exploration report needs, computed where the data is.

Every query groups in the database (PostgreSQL or SQLite) and returns at most one row per
listener, per item, or per bucket; the only raw listens that reach Python are the timed
plays of a bounded sample of listeners, for sessions.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncMonth

from catalog.models import Artist, Song
from listening.models import ImportBatch, Listen, Listener

SESSION_SAMPLE_LISTENERS = 2_000
SESSION_SAMPLE_MAX_PLAYS = 400_000
COLD_START_INTERACTIONS = 5


def _frame(sql: str, params: list | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        rows = cursor.fetchall()
        names = columns or [column[0] for column in cursor.description]
    return pd.DataFrame.from_records(rows, columns=names)


def item_level() -> str:
    """ "song" when any listen names a song, else "artist" (artist-level sources only)."""
    return "song" if Listen.objects.filter(song__isnull=False).exists() else "artist"


@dataclass
class PerEntity:
    """One row per listener and one per item, each with plays and distinct counterparts."""

    listeners: pd.DataFrame  # listener_id, items, artists, plays
    items: pd.DataFrame  # item_id, listeners, plays
    artists: pd.DataFrame  # artist_id, listeners, plays


def per_entity(level: str) -> PerEntity:
    column = f"{level}_id"
    table = Listen._meta.db_table
    listeners = _frame(
        f"SELECT listener_id, COUNT(DISTINCT {column}) AS items,"
        f" COUNT(DISTINCT artist_id) AS artists, SUM(play_count) AS plays"
        f" FROM {table} WHERE {column} IS NOT NULL GROUP BY listener_id",
        columns=["listener_id", "items", "artists", "plays"],
    )
    items = _frame(
        f"SELECT {column}, COUNT(DISTINCT listener_id), SUM(play_count)"
        f" FROM {table} WHERE {column} IS NOT NULL GROUP BY {column}",
        columns=["item_id", "listeners", "plays"],
    )
    if level == "artist":
        artists = items.rename(columns={"item_id": "artist_id"})
    else:
        artists = _frame(
            f"SELECT artist_id, COUNT(DISTINCT listener_id), SUM(play_count)"
            f" FROM {table} WHERE artist_id IS NOT NULL GROUP BY artist_id",
            columns=["artist_id", "listeners", "plays"],
        )
    return PerEntity(listeners=listeners, items=items, artists=artists)


def pair_play_histogram(level: str) -> pd.Series:
    """How many listener-item pairs have 1, 2, 3... plays (value -> number of pairs)."""
    column = f"{level}_id"
    frame = _frame(
        f"SELECT plays, COUNT(*) FROM (SELECT SUM(play_count) AS plays"
        f" FROM {Listen._meta.db_table} WHERE {column} IS NOT NULL"
        f" GROUP BY listener_id, {column}) AS pairs GROUP BY plays",
        columns=["plays", "pairs"],
    )
    return frame.set_index("plays")["pairs"].astype("int64").sort_index()


def distinct_pairs(level: str, *, timed_only: bool = False) -> int:
    column = f"{level}_id"
    timed = " AND played_at IS NOT NULL" if timed_only else ""
    frame = _frame(
        f"SELECT COUNT(*) FROM (SELECT DISTINCT listener_id, {column}"
        f" FROM {Listen._meta.db_table} WHERE {column} IS NOT NULL{timed}) AS pairs",
        columns=["pairs"],
    )
    return int(frame["pairs"].iloc[0])


def song_details(ids: list[int]) -> dict[int, dict]:
    songs = Song.objects.filter(pk__in=ids).select_related("artist")
    return {
        song.pk: {
            "title": song.title or "(unknown title)",
            "artist": song.artist.name if song.artist else "",
        }
        for song in songs
    }


def artist_names(ids: list[int]) -> dict[int, str]:
    return dict(Artist.objects.filter(pk__in=ids).values_list("pk", "name"))


def hour_weekday() -> list[list[int]]:
    """Plays by ISO weekday (rows, Monday first) and UTC hour (columns)."""
    rows = (
        Listen.objects.filter(played_at__isnull=False)
        .annotate(weekday=ExtractIsoWeekDay("played_at"), hour=ExtractHour("played_at"))
        .values("weekday", "hour")
        .annotate(plays=Count("id"))
    )
    matrix = np.zeros((7, 24), dtype=np.int64)
    for row in rows:
        matrix[row["weekday"] - 1, row["hour"]] = row["plays"]
    return matrix.tolist()


def monthly_plays() -> list[dict]:
    rows = (
        Listen.objects.filter(played_at__isnull=False)
        .annotate(month=TruncMonth("played_at"))
        .values("month")
        .annotate(plays=Sum("play_count"))
        .order_by("month")
    )
    return [{"month": row["month"].strftime("%Y-%m"), "plays": row["plays"]} for row in rows]


def timed_plays_sample(listener_ids: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """All timed plays of up to SESSION_SAMPLE_LISTENERS listeners, at most a bounded number."""
    if len(listener_ids) > SESSION_SAMPLE_LISTENERS:
        listener_ids = rng.choice(listener_ids, SESSION_SAMPLE_LISTENERS, replace=False)
    rows = (
        Listen.objects.filter(
            listener_id__in=[int(i) for i in listener_ids], played_at__isnull=False
        )
        .order_by("listener_id", "played_at")
        .values_list("listener_id", "played_at")[:SESSION_SAMPLE_MAX_PLAYS]
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["listener", "played_at"])
    frame["played_at"] = pd.to_datetime(frame["played_at"], utc=True)
    return frame


def timed_listener_ids() -> np.ndarray:
    return np.fromiter(
        Listen.objects.filter(played_at__isnull=False)
        .values_list("listener_id", flat=True)
        .distinct(),
        dtype=np.int64,
    )


def timed_totals() -> dict:
    figures = Listen.objects.filter(played_at__isnull=False).aggregate(
        plays=Count("id"),
    )
    return {"timed_plays": figures["plays"]}


def quality() -> dict:
    songs = Song.objects.aggregate(
        total=Count("id"),
        without_artist=Count("id", filter=Q(artist__isnull=True)),
        without_release=Count("id", filter=Q(release__isnull=True)),
        without_year=Count("id", filter=Q(year__isnull=True)),
        with_external_id=Count(
            "id",
            filter=Q(musicbrainz_id__isnull=False)
            | Q(echonest_id__isnull=False)
            | Q(spotify_uri__isnull=False)
            | Q(msd_track_id__isnull=False),
        ),
    )
    total = songs["total"] or 1
    imports = [
        {
            "id": batch.pk,
            "source_name": batch.source_name,
            "format": batch.format,
            "rows_read": batch.rows_read,
            "rows_loaded": batch.rows_loaded,
            "rows_rejected": batch.rows_rejected,
            "rules": {
                name: entry["rows"]
                for name, entry in batch.report.get("rules", {}).items()
                if entry["rows"]
            },
        }
        for batch in ImportBatch.objects.filter(status="succeeded").order_by("created_at")
    ]
    return {
        "flagged_listeners": Listener.objects.filter(is_flagged=True).count(),
        "songs_without_artist": songs["without_artist"],
        "songs_without_release_share": songs["without_release"] / total,
        "songs_without_year_share": songs["without_year"] / total,
        "songs_with_external_id_share": songs["with_external_id"] / total,
        "imports": imports,
    }
