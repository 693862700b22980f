"""What a caller can tell a parser beyond the file itself."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source file.

    chunk_rows: rows (or JSON records) per yielded chunk; memory grows with it, not with the file.
    columns: for the generic CSV format only: canonical column name -> source column name, e.g.
        {"listener": "user_id", "title": "track", "play_count": "plays", "played_at": "time"}.
        The keys user, song, plays and time are accepted as aliases of listener, title,
        play_count and played_at.
    listener: whose history a single-user export is, when the file does not say.
    songs_path: Taste Profile song metadata (MSD unique_tracks.txt, or a CSV with header
        song_id,title,release,artist_name,year).
    """

    chunk_rows: int = 200_000
    columns: Mapping[str, str] | None = None
    listener: str | None = None
    songs_path: Path | None = None

    def __post_init__(self) -> None:
        if self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {self.chunk_rows}")


def parse_column_mapping(text: str) -> dict[str, str]:
    """`user=uid,song=track` -> {"user": "uid", "song": "track"} (the --columns syntax)."""
    mapping = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, sep, column = pair.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ValueError(f"columns: expected name=column, got {pair!r}")
        mapping[name.strip()] = column.strip()
    return mapping
