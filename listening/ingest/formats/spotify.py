"""Spotify streaming history, loaded whole (Spotify splits exports into files of ~10k records).

Extended history (`endsong_*.json`, `Streaming_History_Audio_*.json`): `ts` (end of the play,
ISO UTC), `ms_played`, `master_metadata_*`, `spotify_track_uri`, `skipped`, podcast and audiobook
fields. Account data (`StreamingHistory*.json`): `endTime` ("2023-01-05 13:45", UTC), `artistName`,
`trackName`, `msPlayed`; podcasts there look like music (show, episode) and are kept as music.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from listening.ingest.errors import ImportFormatError

from .json_records import batches, read_array
from .options import ReadOptions
from .values import iso_time, to_bool, to_int

# Fields that, set on a row with no track, make it a podcast episode or an audiobook.
_NOT_MUSIC_FIELDS = (
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "audiobook_chapter_title",
)


def read(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    records = read_array(path)
    default_listener = options.listener or path.stem
    for first, batch in zip(
        range(1, len(records) + 1, options.chunk_rows),
        batches(records, options.chunk_rows),
        strict=True,
    ):
        rows = [
            _row(path, line, value, default_listener)
            for line, value in enumerate(batch, start=first)
        ]
        chunk = pd.DataFrame(rows)
        ended = iso_time(chunk.pop("ended_at"))
        unreadable = ended.isna().to_numpy().nonzero()[0]
        if len(unreadable):
            at = unreadable[0]
            raise ImportFormatError(
                path, int(chunk["line"].iloc[at]), "cannot read the time the play ended"
            )
        chunk["ms_played"] = to_int(chunk["ms_played"])
        # Spotify stamps the end of a play; a listen starts ms_played earlier.
        played = pd.to_timedelta(chunk["ms_played"].fillna(0).astype("int64"), unit="ms")
        chunk["played_at"] = ended - played
        chunk["skipped"] = to_bool(chunk["skipped"])
        chunk["play_count"] = 1.0
        yield chunk


def _row(path: Path, line: int, value: object, default_listener: str) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise ImportFormatError(path, line, "expected a streaming record (a JSON object)")
    listener = _text(value.get("username")) or default_listener
    if "ts" in value:
        return _extended(line, value, listener)
    if "endTime" in value:
        return {
            "line": line,
            "listener": listener,
            "ended_at": _text(value.get("endTime")),
            "artist": _text(value.get("artistName")),
            "title": _text(value.get("trackName")),
            "ms_played": value.get("msPlayed"),
            "skipped": None,
            "is_music": True,
        }
    raise ImportFormatError(
        path, line, "a streaming record needs ts (extended history) or endTime (account data)"
    )


def _extended(line: int, value: Mapping[str, object], listener: str) -> dict[str, object]:
    title = _text(value.get("master_metadata_track_name"))
    uri = _text(value.get("spotify_track_uri"))
    is_music = bool(title or uri) or not any(_text(value.get(f)) for f in _NOT_MUSIC_FIELDS)
    row: dict[str, object] = {
        "line": line,
        "listener": listener,
        "ended_at": _text(value.get("ts")),
        "artist": _text(value.get("master_metadata_album_artist_name")),
        "title": title,
        "release": _text(value.get("master_metadata_album_album_name")),
        "spotify_uri": uri,
        "ms_played": value.get("ms_played"),
        "skipped": value.get("skipped"),
        "is_music": is_music,
    }
    if not is_music:  # name the episode or chapter, so the rejected-rows file says what it was
        row["title"] = _text(value.get("episode_name")) or _text(
            value.get("audiobook_chapter_title")
        )
        row["artist"] = _text(value.get("episode_show_name")) or _text(value.get("audiobook_title"))
    return row


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    return None
