"""The aggregates the exploration report needs, computed where the data is.

Every query groups in the database (PostgreSQL or SQLite) and returns at most one row per
listener, per item, or per bucket; the only raw listens that reach Python are the timed
plays of a bounded sample of listeners, for sessions. Every query of listens reads those up
to `last_listen_id` when given (a snapshot's), so a report describes exactly its snapshot.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncMonth

from catalog.models import Artist, Song
from listening.listen_submission import API_SOURCE
from listening.models import ImportBatch, Listen, Listener
from musicsite.db import roomy_sorts
from musicsite.jobs import JobStatus

SESSION_SAMPLE_LISTENERS = 2_000
SESSION_SAMPLE_MAX_PLAYS = 400_000
COLD_START_INTERACTIONS = 5


def _frame(sql: str, params: list | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        rows = cursor.fetchall()
        names = columns or [column[0] for column in cursor.description]
    return pd.DataFrame.from_records(rows, columns=names)


def _listens(last_listen_id: int | None):
    listens = Listen.objects.all()
    return listens if last_listen_id is None else listens.filter(id__lte=last_listen_id)


def _up_to(last_listen_id: int | None) -> str:
    return "" if last_listen_id is None else f" AND id <= {int(last_listen_id)}"


def item_level(last_listen_id: int | None = None) -> str:
    """ "song" when any listen names a song, else "artist" (artist-level sources only)."""
    return "song" if _listens(last_listen_id).filter(song__isnull=False).exists() else "artist"


@dataclass
class PerEntity:
    """One row per listener and one per item, each with plays and distinct counterparts."""

    listeners: pd.DataFrame  # listener_id, items, timed_items, plays, artists
    items: pd.DataFrame  # item_id, listeners, plays
    artists: pd.DataFrame  # artist_id, listeners, plays
    pair_histogram: pd.Series  # plays -> number of listener-item pairs with that many
    timed_plays: int


@contextmanager
def pair_tables(level: str, last_listen_id: int | None = None) -> Iterator[None]:
    """Listener-item and listener-artist pairs, aggregated once into temporary tables.

    One grouping pass over the listens each; every per-listener, per-item and histogram
    figure then reads these (far fewer, narrower rows) instead of grouping the listens
    again with COUNT(DISTINCT ...), which sorts the whole table every time.
    """
    listens, up_to = Listen._meta.db_table, _up_to(last_listen_id)
    statements = [
        f"CREATE TEMPORARY TABLE eda_item_pairs AS SELECT listener_id, {level}_id AS item_id,"
        f" SUM(play_count) AS plays, COUNT(played_at) AS timed FROM {listens}"
        f" WHERE {level}_id IS NOT NULL{up_to} GROUP BY listener_id, {level}_id",
        f"CREATE TEMPORARY TABLE eda_artist_pairs AS SELECT listener_id, artist_id,"
        f" SUM(play_count) AS plays FROM {listens} WHERE artist_id IS NOT NULL{up_to}"
        f" GROUP BY listener_id, artist_id",
    ]
    with roomy_sorts(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        cursor.execute("ANALYZE eda_item_pairs")
        cursor.execute("ANALYZE eda_artist_pairs")
        try:
            yield
        finally:
            cursor.execute("DROP TABLE eda_item_pairs")
            cursor.execute("DROP TABLE eda_artist_pairs")


def per_entity() -> PerEntity:
    """Read inside `pair_tables`."""
    listeners = _frame(
        "SELECT p.listener_id, p.items, p.timed_items, p.plays, a.artists FROM"
        " (SELECT listener_id, COUNT(*) AS items,"
        "  SUM(CASE WHEN timed > 0 THEN 1 ELSE 0 END) AS timed_items, SUM(plays) AS plays"
        "  FROM eda_item_pairs GROUP BY listener_id) AS p"
        " LEFT JOIN (SELECT listener_id, COUNT(*) AS artists FROM eda_artist_pairs"
        "  GROUP BY listener_id) AS a ON a.listener_id = p.listener_id",
        columns=["listener_id", "items", "timed_items", "plays", "artists"],
    )
    items = _frame(
        "SELECT item_id, COUNT(*), SUM(plays) FROM eda_item_pairs GROUP BY item_id",
        columns=["item_id", "listeners", "plays"],
    )
    artists = _frame(
        "SELECT artist_id, COUNT(*), SUM(plays) FROM eda_artist_pairs GROUP BY artist_id",
        columns=["artist_id", "listeners", "plays"],
    )
    histogram = _frame(
        "SELECT plays, COUNT(*) FROM eda_item_pairs GROUP BY plays", columns=["plays", "pairs"]
    )
    timed = _frame("SELECT COALESCE(SUM(timed), 0) FROM eda_item_pairs", columns=["timed"])
    for frame in (listeners, items, artists, histogram):
        for column in frame.columns:
            frame[column] = pd.to_numeric(frame[column]).fillna(0).astype("int64")
    return PerEntity(
        listeners=listeners,
        items=items,
        artists=artists,
        pair_histogram=histogram.set_index("plays")["pairs"].sort_index(),
        timed_plays=int(timed["timed"].iloc[0]),
    )


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


def hour_weekday(last_listen_id: int | None = None) -> list[list[int]]:
    """Plays by ISO weekday (rows, Monday first) and UTC hour (columns)."""
    rows = (
        _listens(last_listen_id)
        .filter(played_at__isnull=False)
        .annotate(weekday=ExtractIsoWeekDay("played_at"), hour=ExtractHour("played_at"))
        .values("weekday", "hour")
        .annotate(plays=Count("id"))
    )
    matrix = np.zeros((7, 24), dtype=np.int64)
    for row in rows:
        matrix[row["weekday"] - 1, row["hour"]] = row["plays"]
    return matrix.tolist()


def monthly_plays(last_listen_id: int | None = None) -> list[dict]:
    rows = (
        _listens(last_listen_id)
        .filter(played_at__isnull=False)
        .annotate(month=TruncMonth("played_at"))
        .values("month")
        .annotate(plays=Sum("play_count"))
        .order_by("month")
    )
    return [{"month": row["month"].strftime("%Y-%m"), "plays": row["plays"]} for row in rows]


def timed_plays_sample(
    listener_ids: np.ndarray, rng: np.random.Generator, last_listen_id: int | None = None
) -> pd.DataFrame:
    """All timed plays of up to SESSION_SAMPLE_LISTENERS listeners, at most a bounded number."""
    if len(listener_ids) > SESSION_SAMPLE_LISTENERS:
        listener_ids = rng.choice(listener_ids, SESSION_SAMPLE_LISTENERS, replace=False)
    rows = (
        _listens(last_listen_id)
        .filter(listener_id__in=[int(i) for i in listener_ids], played_at__isnull=False)
        .order_by("listener_id", "played_at")
        .values_list("listener_id", "played_at")[:SESSION_SAMPLE_MAX_PLAYS]
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["listener", "played_at"])
    frame["played_at"] = pd.to_datetime(frame["played_at"], utc=True)
    return frame


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
    finished = ImportBatch.objects.filter(status=JobStatus.SUCCEEDED)
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
        for batch in finished.exclude(format=API_SOURCE).order_by("created_at")
    ]
    # A listener's app makes a batch per submission, thousands a day: one line for them all.
    api = finished.filter(format=API_SOURCE).aggregate(
        batches=Count("id"),
        rows_read=Sum("rows_read"),
        rows_loaded=Sum("rows_loaded"),
        rows_rejected=Sum("rows_rejected"),
    )
    if api["batches"]:
        batches = api.pop("batches")
        imports.append(
            {
                "id": API_SOURCE,
                "source_name": f"{batches:,} API submissions",
                "format": API_SOURCE,
                **api,
                "rules": {},
            }
        )
    return {
        "flagged_listeners": Listener.objects.filter(is_flagged=True).count(),
        "songs_without_artist": songs["without_artist"],
        "songs_without_release_share": songs["without_release"] / total,
        "songs_without_year_share": songs["without_year"] / total,
        "songs_with_external_id_share": songs["with_external_id"] / total,
        "imports": imports,
    }
