"""Last.fm 1K scrobbles: `userid<TAB>timestamp<TAB>artist MBID<TAB>artist<TAB>track MBID<TAB>
track`, no header, ISO-8601 UTC times; one play a row. Streamed."""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from listening.ingest.errors import ImportFormatError

from .delimited import read_fields
from .options import ReadOptions
from .values import iso_time, mbid

FIELDS = ("listener", "played_at", "artist_mbid", "artist", "song_mbid", "title")
DESCRIPTION = "user id, timestamp, artist MBID, artist name, track MBID, track name"


def read(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    for chunk in read_fields(
        path, fields=FIELDS, description=DESCRIPTION, chunk_rows=options.chunk_rows
    ):
        times = iso_time(chunk["played_at"])
        unreadable = times.isna().to_numpy().nonzero()[0]
        if len(unreadable):
            at = unreadable[0]
            raise ImportFormatError(
                path,
                int(chunk["line"].iloc[at]),
                f"cannot read the time {chunk['played_at'].iloc[at]!r} "
                "(expected ISO-8601 UTC, like 2009-05-04T23:08:57Z)",
            )
        chunk["played_at"] = times
        chunk["artist_mbid"] = mbid(chunk["artist_mbid"])
        chunk["song_mbid"] = mbid(chunk["song_mbid"])
        chunk["play_count"] = 1.0
        yield chunk
