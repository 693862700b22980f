"""Echo Nest Taste Profile triplets (`user<TAB>song<TAB>play count`, no header), streamed, with
optional MSD song metadata joined on the song id."""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from listening.ingest.errors import ImportFormatError

from .delimited import read_fields
from .msd_songs import SONG_COLUMNS, find_songs_file, load_songs
from .options import ReadOptions
from .values import to_number

FIELDS = ("listener", "echonest_id", "play_count")
_PACKED = frozenset({".zip", ".gz", ".bz2", ".xz", ".7z", ".tar"})


def triplet_files(folder: Path) -> list[Path]:
    """Uncompressed files in `folder` named like train_triplets.txt."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and "triplets" in p.name.lower() and p.suffix.lower() not in _PACKED
    )


def read(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    triplets, songs_path = _sources(path, options)
    songs = load_songs(songs_path) if songs_path is not None else None
    chunks = read_fields(
        triplets,
        fields=FIELDS,
        description="user, song, play count",
        chunk_rows=options.chunk_rows,
    )
    for chunk in chunks:
        chunk["play_count"] = to_number(chunk["play_count"])
        if songs is not None:
            found = songs.reindex(chunk["echonest_id"].str.strip())
            for name in SONG_COLUMNS:
                chunk[name] = found[name].set_axis(chunk.index)
        yield chunk


def _sources(path: Path, options: ReadOptions) -> tuple[Path, Path | None]:
    """The triplets file and the song metadata file (None: titles and artists stay unknown)."""
    if not path.is_dir():
        return path, options.songs_path
    found = triplet_files(path)
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ImportFormatError(
            path, None, f"expected one *triplets* file in the folder, found {names}"
        )
    return found[0], options.songs_path or find_songs_file(path)
