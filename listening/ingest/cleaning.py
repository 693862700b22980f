"""The cleaning rules: small pure functions over the canonical frame (no Django).

Each rule takes a frame and returns what it keeps and what it removes (or a mask of the rows
it touched), so the caller can count every rule and keep the removed rows with their reason.
docs/cleaning.md lists the rules, their order and their thresholds.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from catalog.names import INVISIBLE

SONG_ID_COLUMNS = ("echonest_id", "spotify_uri", "song_mbid", "msd_track_id")
NAME_COLUMNS = ("artist", "title", "release")


@dataclass(frozen=True)
class CleaningConfig:
    """The thresholds of the rules; `settings.LISTENING_CLEANING` overrides any of them."""

    earliest_play: datetime = datetime(2002, 1, 1, tzinfo=UTC)
    future_tolerance: timedelta = timedelta(days=1)
    duplicate_window_seconds: float = 10.0
    skip_below_ms: int = 30_000
    implausible_floor: float = 10_000.0
    implausible_mads: float = 6.0
    bot_plays_per_day: int = 1440


@dataclass
class Split:
    """What a rule keeps and what it removes."""

    kept: pd.DataFrame
    removed: pd.DataFrame = field(default_factory=pd.DataFrame)


def _split(frame: pd.DataFrame, remove: pd.Series | np.ndarray) -> Split:
    remove = np.asarray(remove, dtype=bool)
    return Split(kept=frame[~remove], removed=frame[remove])


def drop_not_music(frame: pd.DataFrame) -> Split:
    """Podcast episodes and audiobooks are not songs."""
    return _split(frame, ~frame["is_music"].fillna(True))


def has_song_id(frame: pd.DataFrame) -> pd.Series:
    present = pd.Series(False, index=frame.index)
    for column in SONG_ID_COLUMNS:
        present |= frame[column].notna()
    return present


def drop_missing_identity(frame: pd.DataFrame, *, artist_level: bool) -> Split:
    """Rows that cannot be tied to a listener and to a song (or, artist-level, an artist)."""
    no_listener = frame["listener"].isna()
    known_by_id = has_song_id(frame)
    if artist_level:
        unknown = frame["artist"].isna() & frame["artist_mbid"].isna()
    else:
        unknown = ~known_by_id & (frame["title"].isna() | frame["artist"].isna())
    return _split(frame, no_listener | unknown)


def _tidy(names: pd.Series) -> pd.Series:
    return names.str.normalize("NFC").str.replace(r"\s+", " ", regex=True).str.strip()


def normalise_names(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Tidy display names (NFC, whitespace) and add their match keys.

    Returns the frame with `artist_key`, `title_key` and `release_key` added (the same rule
    as `catalog.names.match_key`) and a mask of the rows whose display names changed. Each
    distinct name is tidied once (a chunk of a Taste Profile file repeats a few thousand
    songs' names over its rows), then spread back to the rows.
    """
    frame = frame.copy()
    changed = np.zeros(len(frame), dtype=bool)
    for column in NAME_COLUMNS:
        codes, names = pd.factorize(frame[column])
        names = pd.Series(names, dtype=frame[column].dtype)
        tidy = _tidy(names).replace("", pd.NA)
        differs = (tidy != names).fillna(False) | (tidy.isna() != names.isna())
        changed |= np.append(differs.to_numpy(dtype=bool), False)[codes]  # -1: a missing name
        # match_key drops invisible format characters (bidi overrides) before tidying.
        keys = _tidy(tidy.str.translate(INVISIBLE)).str.casefold().str.normalize("NFC")
        frame[column] = _spread(tidy, codes, frame.index)
        frame[f"{column}_key"] = _spread(keys, codes, frame.index)
    return frame, pd.Series(changed, index=frame.index)


def _spread(distinct: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """The values of `distinct` at each row's code (-1: missing)."""
    return pd.Series(distinct.array.take(codes, allow_fill=True), index=index)


def drop_bad_play_count(frame: pd.DataFrame) -> Split:
    """Play counts that are missing, not numbers, not whole, or not positive."""
    counts = frame["play_count"]
    bad = counts.isna() | (counts <= 0) | (counts != np.floor(counts))
    return _split(frame, bad)


def implausible_threshold(counts: pd.Series, config: CleaningConfig) -> float:
    """The largest believable play count, from a robust spread of the log counts.

    max(floor, 10 ** (median + k * 1.4826 * MAD)) over the positive counts: MAD ignores the
    very outliers it is meant to catch, and the floor keeps real heavy listening when most
    counts are 1 (MAD 0).
    """
    positive = counts[counts > 0].dropna().to_numpy(dtype=float)
    if positive.size == 0:
        return config.implausible_floor
    logs = np.log10(positive)
    median = float(np.median(logs))
    mad = float(np.median(np.abs(logs - median)))
    return max(config.implausible_floor, 10 ** (median + config.implausible_mads * 1.4826 * mad))


def drop_implausible_play_count(frame: pd.DataFrame, threshold: float) -> Split:
    return _split(frame, frame["play_count"] > threshold)


def play_time_window(config: CleaningConfig, now: datetime) -> tuple[datetime, datetime]:
    """(earliest, latest): the moments a play may have, both included. The one definition
    of a believable play time, for imports (`drop_time_out_of_range`) and for the listens a
    listener's app submits (web.api's input serializer), so the two never disagree."""
    return config.earliest_play, now + config.future_tolerance


def drop_time_out_of_range(frame: pd.DataFrame, *, now: datetime, config: CleaningConfig) -> Split:
    """Plays in the future, or before scrobbling existed at scale (2002)."""
    played = frame["played_at"]
    earliest, latest = play_time_window(config, now)
    out = played.notna() & ((played > pd.Timestamp(latest)) | (played < pd.Timestamp(earliest)))
    return _split(frame, out)


def divert_skips(frame: pd.DataFrame, config: CleaningConfig) -> Split:
    """Spotify plays shorter than 30 s: a skip says "not now", not "I listened"."""
    short = frame["ms_played"].notna() & (frame["ms_played"] < config.skip_below_ms)
    return _split(frame, short.fillna(False))


def drop_exact_duplicates(frame: pd.DataFrame) -> Split:
    """Rows equal to an earlier row in everything but their line number."""
    columns = [column for column in frame.columns if column != "line"]
    return _split(frame, frame.duplicated(subset=columns, keep="first"))


def song_identity(frame: pd.DataFrame) -> pd.Series:
    """One text per song, for grouping plays: its names' keys, else its first external id."""
    by_name = frame["artist_key"] + "\x1f" + frame["title_key"]
    ids = frame["echonest_id"]
    for column in SONG_ID_COLUMNS[1:]:
        ids = ids.fillna(frame[column])
    return by_name.fillna(ids)


def drop_duplicate_scrobbles(frame: pd.DataFrame, config: CleaningConfig) -> Split:
    """A play of the same song by the same listener within seconds of the previous one."""
    timed = frame["played_at"].notna()
    if not timed.any():
        return Split(kept=frame, removed=frame.iloc[0:0])
    plays = pd.DataFrame(
        {
            "listener": frame.loc[timed, "listener"],
            "song": song_identity(frame.loc[timed]),
            "played_at": frame.loc[timed, "played_at"],
        }
    ).sort_values(["listener", "song", "played_at"], kind="stable")
    same_song = (plays["listener"] == plays["listener"].shift()) & (
        plays["song"] == plays["song"].shift()
    )
    gap = plays["played_at"].diff().dt.total_seconds()
    repeated = same_song.fillna(False) & (gap < config.duplicate_window_seconds)
    remove = pd.Series(False, index=frame.index)
    remove.loc[repeated[repeated].index] = True
    return _split(frame, remove)


def missing_metadata(frame: pd.DataFrame) -> pd.Series:
    """Song rows with no release or no year: kept, the gaps left as unknown."""
    is_song = frame["title"].notna() | has_song_id(frame)
    return is_song & (frame["release"].isna() | frame["year"].isna())


def listener_day_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Plays per listener per UTC day; sum these over chunks before judging bots."""
    timed = frame[frame["played_at"].notna()]
    if timed.empty:
        return pd.DataFrame({"listener": [], "day": [], "plays": []})
    days = timed["played_at"].dt.floor("D")
    counts = timed.groupby([timed["listener"], days]).size()
    return counts.rename_axis(["listener", "day"]).reset_index(name="plays")


def bot_listeners(day_counts: pd.DataFrame, config: CleaningConfig) -> list[str]:
    """Listeners with a day of more plays than a day has minutes of music."""
    totals = day_counts.groupby(["listener", "day"])["plays"].sum()
    busy = totals[totals > config.bot_plays_per_day]
    return sorted(busy.index.get_level_values("listener").unique())
