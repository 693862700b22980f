"""HetRec 2011 Last.fm 2K: `user_artists.dat` (userID, artistID, weight: a listener's plays of an
artist; Latin-1, CRLF) named through `artists.dat` (id, name, url, pictureURL; UTF-8). Artist-level:
no song, no time."""

from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from listening.ingest.errors import ImportFormatError

from .delimited import read_fields
from .options import ReadOptions
from .values import to_number

USER_ARTISTS = "user_artists.dat"
ARTISTS = "artists.dat"
USER_ARTISTS_HEADER = ("userID", "artistID", "weight")
ARTISTS_HEADER = ("id", "name", "url", "pictureURL")


def read(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    """`path` is the dataset's folder, or its user_artists.dat with artists.dat beside it."""
    plays = path / USER_ARTISTS if path.is_dir() else path
    chunks = read_fields(
        plays,
        fields=("listener", "artist_id", "play_count"),
        header=USER_ARTISTS_HEADER,
        description="userID, artistID, weight",
        chunk_rows=options.chunk_rows,
        encoding="latin-1",
    )
    # The plays' header is checked first: a file that is not HetRec's is told so, not sent
    # looking for an artists.dat it never had.
    first = next(chunks, None)
    names = artist_names(plays.parent / ARTISTS)
    for chunk in chain([first] if first is not None else [], chunks):
        # An artistID missing from artists.dat keeps the artist NA: cleaning drops the row.
        chunk["artist"] = chunk.pop("artist_id").str.strip().map(names)
        chunk["play_count"] = to_number(chunk["play_count"])
        yield chunk


def artist_names(path: Path) -> dict[str, str]:
    """artist id -> name, from artists.dat (small: read whole)."""
    if not path.is_file():
        raise ImportFormatError(
            path, None, f"not found: HetRec needs {ARTISTS} beside its {USER_ARTISTS}"
        )
    names: dict[str, str] = {}
    for chunk in read_fields(
        path,
        fields=ARTISTS_HEADER,
        header=ARTISTS_HEADER,
        description="id, name, url, pictureURL",
        chunk_rows=1_000_000,
    ):
        names.update(zip(chunk["id"].str.strip(), chunk["name"], strict=True))
    return names


def play_matrix(path: Path) -> sp.csr_matrix:
    """The whole dataset as a listeners x artists matrix of play counts (float32).

    Rows and columns follow first appearance in user_artists.dat; rows whose artist or play
    count cannot be read are left out. For the quality benchmark and the real-data test,
    which study the published protocol without going through the database.
    """
    frame = pd.concat(read(path, ReadOptions())).dropna(subset=["artist", "play_count"])
    listeners, _ = pd.factorize(frame["listener"])
    artists, _ = pd.factorize(frame["artist"])
    counts = frame["play_count"].to_numpy(dtype=np.float32)
    shape = (listeners.max() + 1, artists.max() + 1)
    matrix = sp.csr_matrix((counts, (listeners, artists)), shape=shape, dtype=np.float32)
    matrix.sum_duplicates()
    return matrix
