"""What a caller can tell a parser beyond the file itself."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
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


# The earliest start an import's time window may have: before it, pandas' timestamps (whose
# range starts in 1677) would still hold, but no log of plays does.
EARLIEST_PLAY_FLOOR = datetime(1900, 1, 1, tzinfo=UTC)


def parse_earliest_play(value: str | date | datetime) -> datetime:
    """The start of an import's time window (`--since 1990-01-01`): a date or an ISO time,
    UTC unless it says otherwise; ValueError naming the bounds if it is not one."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(
                f"since: expected a date like 1990-01-01 (or an ISO time), got {str(value)[:40]!r}"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not EARLIEST_PLAY_FLOOR <= moment <= datetime.now(UTC):
        raise ValueError(
            f"since: {moment.date().isoformat()} is not between "
            f"{EARLIEST_PLAY_FLOOR.date().isoformat()} and today"
        )
    return moment


def earliest_play_text(moment: datetime) -> str:
    """`2002-01-01` for a midnight in UTC, the ISO time otherwise (as the report says it)."""
    moment = moment.astimezone(UTC)
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat()
