"""Source text to canonical values, vectorised. Unreadable values become missing, never errors:
each format decides whether a missing value is dirty data (kept for cleaning) or a broken file."""

import re

import numpy as np
import pandas as pd

# The range datetime64[ns] can hold; anything outside it is unreadable as a play time.
_EARLIEST = pd.Timestamp("1677-09-22", tz="UTC")
_LATEST = pd.Timestamp("2262-04-11", tz="UTC")
_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def to_number(values: pd.Series) -> pd.Series:
    """float64; NaN where the value is missing or not a number."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


def to_int(values: pd.Series) -> pd.Series:
    """Int64 (rounded); NA where not a number."""
    numbers = to_number(values)
    numbers = numbers.where(np.isfinite(numbers) & (numbers.abs() < 2**62))
    return numbers.round().astype("Int64")


def to_year(values: pd.Series) -> pd.Series:
    """Int16; NA where not a whole year from 1 to 9999 (MSD writes 0 for unknown)."""
    numbers = to_number(values)
    known = (numbers >= 1) & (numbers <= 9999) & (numbers == numbers.round())
    return numbers.where(known).astype("Int16")


def to_bool(values: pd.Series) -> pd.Series:
    """boolean from JSON booleans or true/false, yes/no, 1/0 text; NA otherwise."""

    def one(value: object) -> bool | None:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        text = str(value).strip().lower() if isinstance(value, str | int | float) else ""
        return True if text in _TRUE else False if text in _FALSE else None

    return pd.Series([one(v) for v in values], index=values.index, dtype="boolean")


def iso_time(values: pd.Series) -> pd.Series:
    """datetime64[ns, UTC] from ISO-8601 text (no offset means UTC); NaT where unreadable."""
    times = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    return _in_range(times)


def unix_time(values: pd.Series) -> pd.Series:
    """datetime64[ns, UTC] from Unix seconds; NaT where not a number or out of range."""
    times = pd.to_datetime(to_number(values), unit="s", utc=True, errors="coerce")
    return _in_range(times)


def iso_or_unix_time(values: pd.Series) -> pd.Series:
    """Numbers are Unix seconds, anything else is read as ISO-8601."""
    text = values.astype("string")
    numeric = text.str.match(_NUMBER.pattern).fillna(False).astype(bool)
    times = iso_time(text.where(~numeric))
    return times.where(~numeric, unix_time(text.where(numeric)))


def _in_range(times: pd.Series) -> pd.Series:
    inside = (times >= _EARLIEST) & (times <= _LATEST)
    return times.where(inside).dt.as_unit("ns")


def mbid(values: pd.Series) -> pd.Series:
    """MusicBrainz ids as lower-case text (not validated: an invalid id is the cleaner's call)."""
    return values.astype("string").str.strip().str.lower()
