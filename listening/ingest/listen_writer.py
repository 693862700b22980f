"""Write resolved listens in bulk, chunk by chunk, inside the import's transaction.

Each chunk first merges its own rows (aggregated counts of one listener and item, which two
spellings in the file can produce, are summed), then takes the fast path: PostgreSQL `COPY`
straight into `listening_listen` (SQLite: one prepared insert), in a savepoint. If any row
collides with one already there, the savepoint undoes the attempt and the careful path runs
set-based statements from a staging table: counts of this same import are added to, rows
of earlier imports are left alone (a re-import adds nothing), the rest is inserted.

On PostgreSQL, a large import (about `settings.LISTENING_INITIAL_LOAD_ROWS` rows or more)
into an empty listen table is an initial bulk load (`initial_load`): the table's secondary
indexes are dropped, every chunk is copied in, and the indexes are built at the end,
merging what they find twice as the careful path would. It locks the table until the import
commits, so only a load big enough to gain from it does so.
"""

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from . import initial_load, pg_binary

LISTEN_COLUMNS = ("listener_id", "song_id", "artist_id", "played_at", "play_count", "batch_id")
COLUMN_LIST = ", ".join(LISTEN_COLUMNS)
POSTGRES_TYPES = {
    "listener_id": "int8",
    "song_id": "int8",
    "artist_id": "int8",
    "played_at": "timestamptz",
    "play_count": "int4",
    "batch_id": "int8",
}
# How many rows an import must expect for an initial bulk load (measured in
# benchmarks/results/ingest.md: what it gains at that size).
INITIAL_LOAD_ROWS = 1_000_000

# How a staged row `s` finds "the same listen" `l`: one condition per partial unique index.
SAME_LISTEN = {
    "timed": "s.played_at IS NOT NULL AND l.played_at = s.played_at"
    " AND l.listener_id = s.listener_id AND l.song_id = s.song_id",
    "song_count": "s.played_at IS NULL AND s.song_id IS NOT NULL AND l.played_at IS NULL"
    " AND l.listener_id = s.listener_id AND l.song_id = s.song_id",
    "artist_count": "s.played_at IS NULL AND s.song_id IS NULL AND l.played_at IS NULL"
    " AND l.song_id IS NULL AND l.listener_id = s.listener_id AND l.artist_id = s.artist_id",
}


def merge_within(rows: pd.DataFrame) -> pd.DataFrame:
    """Sum aggregated counts of one listener and item; keep one play per listener, song, time."""
    timed = rows[rows["played_at"].notna()].drop_duplicates(["listener_id", "song_id", "played_at"])
    counts = rows[rows["played_at"].isna()]
    if counts.duplicated(["listener_id", "song_id", "artist_id"]).any():
        counts = counts.groupby(
            ["listener_id", "song_id", "artist_id"], dropna=False, as_index=False, sort=False
        ).agg(played_at=("played_at", "first"), play_count=("play_count", "sum"))
    return pd.concat([timed, counts], ignore_index=True)


class ListenWriter:
    """Adds a batch's listens to `listening_listen`, counting what it merged and skipped."""

    def __init__(self, batch_id: int, *, expected_rows: int = 0):
        self.batch_id = int(batch_id)
        self.staged = 0  # clean rows handed to the writer
        self.merged = 0  # rows whose count went into another row of this import
        self.inserted = 0  # new listens
        self.postgres = connection.vendor == "postgresql"
        self._careful = False  # once a chunk collides, the next ones likely will too
        # The indexes an initial bulk load dropped (None: not one; decided on the first chunk).
        self._dropped: list[initial_load.DroppedIndex] | None = None
        least = getattr(settings, "LISTENING_INITIAL_LOAD_ROWS", INITIAL_LOAD_ROWS)
        self._may_load_initially = self.postgres and expected_rows >= least

    @property
    def already_present(self) -> int:
        return self.staged - self.merged - self.inserted

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        self.staged += len(frame)
        rows = frame[["listener_id", "song_id", "artist_id", "played_at", "play_count"]].copy()
        # Stored to the second on both backends (Spotify's start times are computed to the
        # millisecond, a precision the data does not have).
        rows["played_at"] = rows["played_at"].dt.floor("s")
        rows["play_count"] = rows["play_count"].astype("int64")
        merged = merge_within(rows)
        self.merged += len(rows) - len(merged)
        merged["batch_id"] = self.batch_id
        merged = merged[list(LISTEN_COLUMNS)]
        if self._may_load_initially:
            with connection.cursor() as cursor:
                self._dropped = initial_load.drop_indexes_if_empty(cursor)
        self._may_load_initially = False
        if self._dropped is not None:  # no unique index to collide with: finish() merges
            self._write(merged, "listening_listen")
            self.inserted += len(merged)
            return
        if not self._careful:
            try:
                with transaction.atomic():
                    self._write(merged, "listening_listen")
                self.inserted += len(merged)
                return
            except IntegrityError:
                self._careful = True
        self._add_carefully(merged)

    def finish(self) -> int:
        if self._dropped is not None:
            with connection.cursor() as cursor:
                merged, repeated = initial_load.rebuild_indexes(cursor, self._dropped)
            self.merged += merged
            self.inserted -= merged + repeated
            self._dropped = None
        if self._careful:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS listen_staging")
        return self.inserted

    def _add_carefully(self, rows: pd.DataFrame) -> None:
        with connection.cursor() as cursor:
            timestamp = "timestamptz" if self.postgres else "datetime"
            cursor.execute("DROP TABLE IF EXISTS listen_staging")
            cursor.execute(
                "CREATE TEMPORARY TABLE listen_staging (listener_id bigint, song_id bigint,"
                f" artist_id bigint, played_at {timestamp}, play_count integer, batch_id bigint)"
            )
            self._write(rows, "listen_staging")
            for kind in ("song_count", "artist_count"):
                # Counts this import already added are added to; earlier imports' are kept.
                cursor.execute(
                    "UPDATE listening_listen AS l SET play_count = l.play_count + s.play_count"
                    f" FROM listen_staging AS s WHERE {SAME_LISTEN[kind]} AND l.batch_id = %s",
                    [self.batch_id],
                )
                self.merged += cursor.rowcount
            for condition in SAME_LISTEN.values():
                kind_of_row = condition.split(" AND l.", 1)[0]
                cursor.execute(
                    f"INSERT INTO listening_listen ({COLUMN_LIST})"
                    f" SELECT {COLUMN_LIST} FROM listen_staging AS s WHERE {kind_of_row}"
                    f" AND NOT EXISTS (SELECT 1 FROM listening_listen AS l WHERE {condition})"
                )
                self.inserted += cursor.rowcount

    def _write(self, rows: pd.DataFrame, table: str) -> None:
        if self.postgres:
            data = pg_binary.encode(rows, POSTGRES_TYPES)
            # The raw psycopg cursor's errors become Django's (IntegrityError) here too.
            with (
                connection.wrap_database_errors,
                connection.cursor() as cursor,
                cursor.cursor.copy(
                    f"COPY {table} ({', '.join(POSTGRES_TYPES)}) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.write(data)
            return
        # Django keeps SQLite datetimes as naive UTC text.
        played = rows["played_at"].dt.tz_convert(None).dt.strftime("%Y-%m-%d %H:%M:%S")
        columns = [rows["listener_id"], rows["song_id"], rows["artist_id"], played]
        values = zip(
            *(column.astype(object).where(column.notna(), None) for column in columns),
            rows["play_count"].astype(object),
            rows["batch_id"].astype(object),
            strict=True,
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} ({COLUMN_LIST}) VALUES (%s, %s, %s, %s, %s, %s)",
                list(values),
            )
