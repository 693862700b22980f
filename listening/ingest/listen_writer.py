"""Write resolved listens in bulk: stage every chunk, then one set-based insert.

PostgreSQL stages with `COPY`; SQLite with a prepared insert over each chunk. The final
`INSERT ... SELECT` merges aggregated counts that became one listener-and-item (two
spellings of one artist in one file: their counts are summed, not lost) and skips rows
already in the table (re-imports, overlapping files) through the unique constraints.
"""

import io

import pandas as pd
from django.db import connection

LISTEN_COLUMNS = ("listener_id", "song_id", "artist_id", "played_at", "play_count")
STAGING_TABLE = (
    "CREATE TEMPORARY TABLE listen_staging ("
    " listener_id bigint NOT NULL, song_id bigint, artist_id bigint,"
    " played_at {timestamp}, play_count integer NOT NULL)"
)
GROUPS = "SELECT 1 FROM listen_staging GROUP BY listener_id, song_id, artist_id, played_at"
# Aggregated counts of one listener and item are summed; a timed play stays one play.
MERGED_ROWS = (
    "SELECT listener_id, song_id, artist_id, played_at,"
    " CASE WHEN played_at IS NULL THEN SUM(play_count) ELSE MIN(play_count) END"
    " FROM listen_staging GROUP BY listener_id, song_id, artist_id, played_at"
)
INSERT_COLUMNS = "(listener_id, song_id, artist_id, played_at, play_count, batch_id)"


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[list(LISTEN_COLUMNS)].copy()
    # Stored to the second on both backends (Spotify's start times are computed to the ms,
    # a precision the data does not have).
    rows["played_at"] = rows["played_at"].dt.floor("s")
    rows["play_count"] = rows["play_count"].astype("int64")
    return rows


class ListenWriter:
    """Collects a batch's listens and adds the new ones to `listening_listen`.

    Must be used inside the import's transaction: the staging table lives in it.
    """

    def __init__(self, batch_id: int):
        self.batch_id = int(batch_id)
        self.staged = 0  # rows handed to the writer
        self.merged = 0  # rows whose count was added to another row's
        self.inserted = 0  # new listens
        self.postgres = connection.vendor == "postgresql"
        timestamp = "timestamptz" if self.postgres else "datetime"
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS listen_staging")
            cursor.execute(STAGING_TABLE.format(timestamp=timestamp))

    @property
    def already_present(self) -> int:
        return self.staged - self.merged - self.inserted

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        rows = _rows(frame)
        self.staged += len(rows)
        if self.postgres:
            self._copy(rows)
        else:
            self._insert_sqlite(rows)

    def finish(self) -> int:
        """Insert what was staged; return how many listens were new."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({GROUPS}) AS listen_groups")
            self.merged = self.staged - cursor.fetchone()[0]
            if self.postgres:
                cursor.execute(
                    f"INSERT INTO listening_listen {INSERT_COLUMNS}"
                    f" SELECT merged.*, %s FROM ({MERGED_ROWS}) AS merged ON CONFLICT DO NOTHING",
                    [self.batch_id],
                )
                self.inserted = cursor.rowcount
            else:
                before = connection.connection.total_changes
                cursor.execute(
                    f"INSERT OR IGNORE INTO listening_listen {INSERT_COLUMNS}"
                    f" SELECT merged.*, %s FROM ({MERGED_ROWS}) AS merged",
                    [self.batch_id],
                )
                self.inserted = connection.connection.total_changes - before
            cursor.execute("DROP TABLE listen_staging")
        return self.inserted

    def _copy(self, rows: pd.DataFrame) -> None:
        text = io.StringIO()
        rows.to_csv(
            text,
            sep="\t",
            header=False,
            index=False,
            na_rep="\\N",
            date_format="%Y-%m-%d %H:%M:%S+00",
        )
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy("COPY listen_staging FROM STDIN") as copy,
        ):
            copy.write(text.getvalue())

    def _insert_sqlite(self, rows: pd.DataFrame) -> None:
        # Django keeps SQLite datetimes as naive UTC text.
        played = rows["played_at"].dt.tz_convert(None).dt.strftime("%Y-%m-%d %H:%M:%S")
        columns = [rows["listener_id"], rows["song_id"], rows["artist_id"], played]
        values = zip(
            *(column.astype(object).where(column.notna(), None) for column in columns),
            rows["play_count"].astype(object),
            strict=True,
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO listen_staging VALUES (%s, %s, %s, %s, %s)", list(values)
            )
