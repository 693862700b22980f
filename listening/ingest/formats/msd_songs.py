"""Taste Profile song metadata: MSD unique_tracks.txt or a song CSV, loaded whole (~1M lines)."""

from pathlib import Path

import pandas as pd
from pandas.errors import ParserError

from listening.ingest.errors import ImportFormatError

from .text_errors import too_many_fields, undecodable
from .values import to_year

SONG_COLUMNS = ("artist", "title", "release", "year", "msd_track_id")
UNIQUE_TRACKS = "unique_tracks.txt"
_SEP = "<SEP>"
_CSV_HEADER = ("song_id", "title", "release", "artist_name", "year")
_EXPECTED = (
    "expected MSD unique_tracks.txt (track_id<SEP>song_id<SEP>artist<SEP>title) or a CSV "
    "with the header song_id,title,release,artist_name,year"
)


def find_songs_file(folder: Path) -> Path | None:
    """unique_tracks.txt, else the first CSV in `folder` whose header starts with song_id."""
    if (folder / UNIQUE_TRACKS).is_file():
        return folder / UNIQUE_TRACKS
    for candidate in sorted(folder.glob("*.csv")):
        if _first_line(candidate).split(",")[0].strip().strip('"') == "song_id":
            return candidate
    return None


def songs_file_kind(path: Path) -> str:
    """ "unique_tracks" or "csv", from the first line; ImportFormatError if neither."""
    if not path.is_file():
        raise ImportFormatError(path, None, "song metadata file not found")
    first = _first_line(path)
    if _SEP in first:
        return "unique_tracks"
    if [name.strip().strip('"') for name in first.split(",")][:5] == list(_CSV_HEADER):
        return "csv"
    raise ImportFormatError(path, 1, _EXPECTED)


def load_songs(path: Path) -> pd.DataFrame:
    """Indexed by song id (SO...), one row per song (the first wins), columns SONG_COLUMNS."""
    kind = songs_file_kind(path)
    songs = _unique_tracks(path) if kind == "unique_tracks" else _song_csv(path)
    songs["song_id"] = songs["song_id"].str.strip()
    songs = songs[songs["song_id"] != ""].drop_duplicates("song_id", keep="first")
    return songs.set_index("song_id")[list(SONG_COLUMNS)]


def _unique_tracks(path: Path) -> pd.DataFrame:
    rows: list[list[str]] = []
    try:
        with path.open(encoding="utf-8") as source:
            for number, text in enumerate(source, start=1):
                text = text.rstrip("\r\n")
                if not text.strip():
                    continue
                fields = text.split(_SEP, 3)
                if len(fields) != 4:
                    raise ImportFormatError(
                        path,
                        number,
                        f"expected 4 fields separated by {_SEP} (track id, song id, artist, "
                        f"title), found {len(fields)}",
                    )
                rows.append(fields)
    except UnicodeDecodeError as error:
        raise undecodable(path, "utf-8", error) from None
    songs = pd.DataFrame(rows, columns=["msd_track_id", "song_id", "artist", "title"], dtype=str)
    songs["release"] = pd.Series(pd.NA, index=songs.index, dtype="string")
    songs["year"] = pd.Series(pd.NA, index=songs.index, dtype="Int16")
    return songs


def _song_csv(path: Path) -> pd.DataFrame:
    try:
        songs = pd.read_csv(
            path, dtype=str, keep_default_na=False, engine="c", encoding="utf-8-sig"
        )
    except UnicodeDecodeError as error:
        raise undecodable(path, "utf-8", error) from None
    except ParserError as error:
        raise too_many_fields(
            path, error, separator="comma", description=", ".join(_CSV_HEADER)
        ) from None
    songs = songs.rename(columns=lambda name: name.strip()).rename(
        columns={"artist_name": "artist"}
    )
    songs["year"] = to_year(songs["year"])
    songs["msd_track_id"] = pd.Series(pd.NA, index=songs.index, dtype="string")
    return songs


def _first_line(path: Path) -> str:
    with path.open("rb") as source:
        return source.readline(65536).decode("utf-8", "replace").lstrip("\ufeff").strip()
