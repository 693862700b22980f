"""Builders for tiny source files in each import format's real on-disk shape."""

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd


def write_lines(path: Path, lines: Iterable[str], *, newline: str = "\n", encoding: str = "utf-8"):
    path.write_bytes("".join(line + newline for line in lines).encode(encoding))
    return path


def write_tsv(path: Path, rows: Iterable[Sequence[object]], **kwargs) -> Path:
    return write_lines(path, ("\t".join(str(v) for v in row) for row in rows), **kwargs)


def write_hetrec(
    folder: Path, plays: Iterable[tuple[int, int, object]], artists: Iterable[tuple[int, str]]
) -> Path:
    """user_artists.dat as published (Latin-1, CRLF) and artists.dat (UTF-8, LF)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_tsv(
        folder / "user_artists.dat",
        [("userID", "artistID", "weight"), *plays],
        newline="\r\n",
        encoding="latin-1",
    )
    write_tsv(
        folder / "artists.dat",
        [
            ("id", "name", "url", "pictureURL"),
            *(
                (i, name, f"http://www.last.fm/music/{i}", f"http://img/{i}.jpg")
                for i, name in artists
            ),
        ],
    )
    return folder


def listen(
    listened_at: object,
    artist: str,
    track: str,
    *,
    release: str | None = None,
    user_name: str | None = None,
    mbid_mapping: dict | None = None,
    additional_info: dict | None = None,
) -> dict:
    """A ListenBrainz listen object, as in its exports."""
    metadata: dict = {"artist_name": artist, "track_name": track}
    if release is not None:
        metadata["release_name"] = release
    metadata["additional_info"] = additional_info or {}
    if mbid_mapping is not None:
        metadata["mbid_mapping"] = mbid_mapping
    record: dict = {"inserted_at": 1748964422.5, "listened_at": listened_at}
    if user_name is not None:
        record["user_name"] = user_name
    record["track_metadata"] = metadata
    return record


def spotify_play(ts: str, ms_played: int | None, **fields: object) -> dict:
    """An extended streaming history record (the 2023+ shape); `fields` override the nulls."""
    record: dict = {
        "ts": ts,
        "platform": "android",
        "ms_played": ms_played,
        "conn_country": "",
        "ip_addr": "",
        "master_metadata_track_name": None,
        "master_metadata_album_artist_name": None,
        "master_metadata_album_album_name": None,
        "spotify_track_uri": None,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "offline_timestamp": 0,
        "incognito_mode": False,
    }
    record.update(fields)
    return record


def spotify_track(ts: str, ms_played: int, artist: str, track: str, album: str, uri: str, **kw):
    return spotify_play(
        ts,
        ms_played,
        master_metadata_track_name=track,
        master_metadata_album_artist_name=artist,
        master_metadata_album_album_name=album,
        spotify_track_uri=uri,
        **kw,
    )


def write_json(path: Path, value: object, *, indent: int | None = 2) -> Path:
    path.write_text(json.dumps(value, indent=indent, ensure_ascii=False), encoding="utf-8")
    return path


def write_json_lines(path: Path, values: Iterable[object]) -> Path:
    return write_lines(path, (json.dumps(v, ensure_ascii=False) for v in values))


def records(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    """The frame's rows as tuples of the given columns, with None for every missing value."""
    picked = frame[list(columns)].astype(object)
    return [tuple(row) for row in picked.where(picked.notna(), None).itertuples(index=False)]


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")
