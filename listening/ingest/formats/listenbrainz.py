"""ListenBrainz listens: JSON lines (streamed) or a JSON array (loaded whole, as ListenBrainz's
older exports are) of objects with `listened_at` (Unix seconds) and `track_metadata`."""

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd

from listening.ingest.errors import ImportFormatError

from .json_records import batches, is_json_array, read_array, read_lines
from .options import ReadOptions
from .values import mbid, unix_time

_SPOTIFY_URL = re.compile(r"^https?://open\.spotify\.com/track/([A-Za-z0-9]+)")


def read(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    # A JSON array is loaded whole (records numbered from 1); JSON lines are streamed.
    records: Iterable[tuple[int, object]] = (
        enumerate(read_array(path), start=1) if is_json_array(path) else read_lines(path)
    )
    default_listener = options.listener or path.stem
    for batch in batches(records, options.chunk_rows):
        rows = [_row(path, line, value, default_listener) for line, value in batch]
        chunk = pd.DataFrame(rows)
        chunk["played_at"] = unix_time(chunk["played_at"])
        unreadable = chunk["played_at"].isna().to_numpy().nonzero()[0]
        if len(unreadable):
            raise ImportFormatError(
                path,
                int(chunk["line"].iloc[unreadable[0]]),
                "listened_at is not a time in Unix seconds",
            )
        for name in ("artist_mbid", "song_mbid", "release_mbid"):
            chunk[name] = mbid(chunk[name])
        chunk["play_count"] = 1.0
        yield chunk


def _row(path: Path, line: int, value: object, default_listener: str) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise ImportFormatError(path, line, "expected a listen (a JSON object)")
    listened_at = value.get("listened_at")
    if isinstance(listened_at, bool) or not isinstance(listened_at, int | float | str):
        raise ImportFormatError(path, line, "a listen needs listened_at (Unix seconds)")
    track = _mapping(path, line, value, "track_metadata")
    info = _mapping(path, line, track, "additional_info")
    mapped = _mapping(path, line, track, "mbid_mapping")
    return {
        "line": line,
        "listener": _text(value.get("user_name")) or default_listener,
        "played_at": listened_at,
        "artist": _text(track.get("artist_name")),
        "title": _text(track.get("track_name")),
        "release": _text(track.get("release_name")),
        "song_mbid": _text(mapped.get("recording_mbid")) or _text(info.get("recording_mbid")),
        "release_mbid": _text(mapped.get("release_mbid")) or _text(info.get("release_mbid")),
        "artist_mbid": _first(mapped.get("artist_mbids")) or _first(info.get("artist_mbids")),
        "spotify_uri": _spotify_uri(_text(info.get("spotify_id"))),
    }


def _mapping(path: Path, line: int, parent: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImportFormatError(path, line, f"{key} should be a JSON object")
    return value


def _text(value: object) -> str | None:
    """A name or id as text; None where missing, empty, or not a scalar."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _first(values: object) -> str | None:
    if isinstance(values, list) and values:
        return _text(values[0])
    return _text(values)


def _spotify_uri(value: str | None) -> str | None:
    """https://open.spotify.com/track/ID -> spotify:track:ID; anything else as given."""
    if value is None:
        return None
    found = _SPOTIFY_URL.match(value)
    return f"spotify:track:{found.group(1)}" if found else value
