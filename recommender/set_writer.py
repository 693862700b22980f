"""Writing a recommendation set's rows in bulk: COPY on PostgreSQL, large batches elsewhere.

Lists arrive as arrays of column positions (`suggestions.Suggestions`) and leave as one row
per listener and level, each list a JSON array of database ids (padding dropped, reasons
null where the model cannot say). Reasons are ids of the list's level, except in an
artist-level set's song lists, whose reasons are artist ids (`reason_ids`).
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

import numpy as np
from django.db import connection, transaction

from listening.models import Listener
from recommender.models import (
    ArtistTopSongs,
    ListenerRecommendations,
    RecommendationSet,
    SimilarItems,
)
from recommender.suggestions import Suggestions

WRITE_BATCH = 5_000


def _json_rows(
    listener_ids: np.ndarray,
    lists: Suggestions,
    item_ids: np.ndarray,
    top_n: int | None,
    reason_ids: np.ndarray,
) -> Iterator[tuple[int, str, str, str, bool]]:
    """(listener id, items, scores, reasons, fallback) per listener, lists as JSON text."""
    width = lists.items.shape[1] if top_n is None else min(top_n, lists.items.shape[1])
    items = lists.items[:, :width]
    lengths = (items >= 0).sum(axis=1)
    ids = np.where(items >= 0, item_ids[np.maximum(items, 0)], -1)
    reasons = lists.reasons[:, :width]
    reason_ids = np.where(reasons >= 0, reason_ids[np.maximum(reasons, 0)], -1)
    scores = np.round(lists.scores[:, :width].astype(np.float64), 5)
    for row, listener in enumerate(listener_ids.tolist()):
        n = int(lengths[row])
        if n == 0:
            continue
        yield (
            listener,
            json.dumps(ids[row, :n].tolist()),
            json.dumps(scores[row, :n].tolist()),
            json.dumps(
                [reason if reason >= 0 else None for reason in reason_ids[row, :n].tolist()]
            ),
            bool(lists.fallback[row]),
        )


def write_lists(
    new_set: RecommendationSet,
    listener_ids: np.ndarray,
    level: str,
    lists: Suggestions,
    item_ids: np.ndarray,
    top_n: int | None,
    *,
    refreshed_at: datetime | None = None,
    reason_ids: np.ndarray | None = None,
) -> None:
    """One row per listener with a non-empty list (the first top_n; all for None); reasons
    are columns of `reason_ids` (of `item_ids` by default)."""
    when = connection.ops.adapt_datetimefield_value(refreshed_at)
    records = (
        (new_set.pk, listener, level, items, scores, reasons, fallback, when)
        for listener, items, scores, reasons, fallback in _json_rows(
            listener_ids, lists, item_ids, top_n, item_ids if reason_ids is None else reason_ids
        )
    )
    columns = (
        "recommendation_set_id",
        "listener_id",
        "level",
        "item_ids",
        "scores",
        "reasons",
        "is_fallback",
        "refreshed_at",
    )
    _bulk_insert(ListenerRecommendations._meta.db_table, columns, records)


def lists_replace(
    recommendation_set: RecommendationSet,
    listener_ids: np.ndarray,
    keep: np.ndarray,
    lists_by_level: Mapping[str, tuple[Suggestions, np.ndarray, int | None, np.ndarray | None]],
    *,
    refreshed_at: datetime,
) -> None:
    """Replace these listeners' rows in the set, in one transaction: the `keep` ones get
    their new lists ({level: (lists, item ids, top_n, reason ids or None)}), the others
    none."""
    kept = np.flatnonzero(keep)
    with transaction.atomic():
        # Two refreshes of one listener at once: the second waits, then replaces.
        list(Listener.objects.select_for_update().filter(pk__in=listener_ids.tolist()))
        ListenerRecommendations.objects.filter(
            recommendation_set=recommendation_set, listener_id__in=listener_ids.tolist()
        ).delete()
        for level, (lists, item_ids, top_n, reason_ids) in lists_by_level.items():
            write_lists(
                recommendation_set,
                listener_ids[kept],
                level,
                lists.take(kept),
                item_ids,
                top_n,
                refreshed_at=refreshed_at,
                reason_ids=reason_ids,
            )


def write_similar(new_set: RecommendationSet, level: str, similar, item_ids: np.ndarray) -> None:
    items, scores = similar
    records = []
    for column in range(len(item_ids)):
        valid = items[column] >= 0
        if not valid.any():
            continue
        records.append(
            (
                new_set.pk,
                level,
                int(item_ids[column]),
                json.dumps(item_ids[items[column][valid]].tolist()),
                json.dumps(np.round(scores[column][valid].astype(np.float64), 5).tolist()),
            )
        )
    columns = ("recommendation_set_id", "level", "item_id", "item_ids", "scores")
    _bulk_insert(SimilarItems._meta.db_table, columns, records)


def write_artist_songs(
    new_set: RecommendationSet, best: np.ndarray, artist_ids: np.ndarray, song_ids: np.ndarray
) -> None:
    """Each artist's most-listened songs (`best`: artist columns x song columns, -1 pad)."""
    records = (
        (new_set.pk, int(artist_ids[column]), json.dumps(song_ids[row[row >= 0]].tolist()))
        for column, row in enumerate(best)
        if row[0] >= 0
    )
    columns = ("recommendation_set_id", "artist_id", "song_ids")
    _bulk_insert(ArtistTopSongs._meta.db_table, columns, records)


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One value in COPY's text format (formatting rows ourselves is several times faster
    than psycopg's per-row `write_row`)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    return str(value).translate(COPY_ESCAPES)


def _bulk_insert(table: str, columns: tuple[str, ...], records: Iterable[tuple]) -> None:
    """Rows into `table`: COPY on PostgreSQL, large executemany batches elsewhere."""
    if connection.vendor == "postgresql":
        with (
            connection.wrap_database_errors,
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            lines: list[str] = []
            for record in records:
                lines.append("\t".join(map(_copy_text, record)))
                if len(lines) >= WRITE_BATCH:
                    copy.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                copy.write("\n".join(lines) + "\n")
        return
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for record in records:
            batch.append(record)
            if len(batch) >= WRITE_BATCH:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
