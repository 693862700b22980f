"""Parse listening-history sources into chunks of the canonical frame (`..schema`). No Django.

Parsers keep values as the source gives them, dirty ones included, so that cleaning can count
what it rejects: an unreadable play count becomes NaN, an empty name NA. Only a file that is
not in its format's shape (a line with the wrong number of fields, invalid JSON, a timed row
whose time cannot be read) is an ImportFormatError, naming the file and the line.

Delimited and JSON-lines sources are streamed in chunks of `ReadOptions.chunk_rows`, so memory
stays flat as files grow. JSON arrays (Spotify exports, older ListenBrainz exports) and the
metadata files (HetRec's artists.dat, MSD's song list) are loaded whole: they are small.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from listening.ingest.errors import ImportFormatError
from listening.ingest.schema import conform

from . import generic_csv, hetrec, lastfm_1k, listenbrainz, spotify, taste_profile
from .detect import detect_format
from .options import ReadOptions

__all__ = [
    "ARTIST_LEVEL_FORMATS",
    "FORMAT_NAMES",
    "ReadOptions",
    "detect_format",
    "read_chunks",
]

FORMAT_NAMES = ("taste-profile", "lastfm-1k", "hetrec", "listenbrainz", "spotify", "csv")
ARTIST_LEVEL_FORMATS = frozenset({"hetrec"})  # rows name an artist, no song
FOLDER_FORMATS = frozenset({"hetrec", "taste-profile"})  # PATH may be the dataset's folder

_READERS: dict[str, Callable[[Path, ReadOptions], Iterator[pd.DataFrame]]] = {
    "taste-profile": taste_profile.read,
    "lastfm-1k": lastfm_1k.read,
    "hetrec": hetrec.read,
    "listenbrainz": listenbrainz.read,
    "spotify": spotify.read,
    "csv": generic_csv.read,
}


def read_chunks(
    path: Path, format: str | None = None, options: ReadOptions | None = None
) -> Iterator[pd.DataFrame]:
    """Chunks of the canonical frame (each through `schema.conform`), in file order.

    `format` None: detected from the content. The path and format are checked now (a
    ValueError for an unknown format name, ImportFormatError for a missing path); the file's
    content as the chunks are read. `line` is the 1-based line in the source file (the record
    number for a JSON array). No chunk is empty; a source with no rows yields none.
    """
    path = Path(path)
    options = options or ReadOptions()
    if format is None:
        format = detect_format(path)
    if format not in _READERS:
        raise ValueError(f"unknown format {format!r}: expected one of {', '.join(FORMAT_NAMES)}")
    if not path.exists():
        raise ImportFormatError(path, None, "no such file or folder")
    if path.is_dir() and format not in FOLDER_FORMATS:
        raise ImportFormatError(path, None, f"is a folder: the {format} format reads a file")
    return _conformed(_READERS[format](path, options))


def _conformed(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    for chunk in chunks:
        if len(chunk):
            conformed = conform(chunk)
            del chunk  # keep one copy of the chunk alive, not two
            yield conformed
