"""Any CSV or TSV with a header row, read through a column mapping (canonical name -> source
column). The separator (comma, tab or semicolon) is sniffed from the header. Streamed with the
csv module, which follows quoting (values with separators or line breaks) and numbers each
record by the line it starts on."""

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from listening.ingest.errors import ImportFormatError
from listening.ingest.schema import COLUMNS

from .delimited import SEPARATOR_NAMES
from .options import ReadOptions
from .text_errors import undecodable
from .values import iso_or_unix_time, mbid, to_bool, to_int, to_number, to_year

ALIASES = {"user": "listener", "song": "title", "plays": "play_count", "time": "played_at"}
MAPPABLE = tuple(name for name in COLUMNS if name != "line")
_EXAMPLE = "listener=user_id,title=track,artist=artist,play_count=plays,played_at=time"


def sniff_separator(header: str) -> str:
    """The most frequent of comma, tab and semicolon in the header line (comma if none)."""
    return max(SEPARATOR_NAMES, key=lambda separator: (header.count(separator), separator == ","))


def canonical_columns(path: Path, columns: Mapping[str, str] | None) -> dict[str, str]:
    """The mapping with aliases resolved; ImportFormatError if missing or naming an unknown key."""
    if not columns:
        raise ImportFormatError(
            path, None, f"a generic CSV needs a column mapping (--columns), e.g. {_EXAMPLE}"
        )
    resolved: dict[str, str] = {}
    for key, source in columns.items():
        name = ALIASES.get(key.strip(), key.strip())
        if name not in MAPPABLE:
            raise ImportFormatError(
                path, None, f"unknown column {key!r} in the mapping; use {', '.join(MAPPABLE)}"
            )
        if name in resolved:
            raise ImportFormatError(path, None, f"the mapping names {name!r} twice")
        resolved[name] = source
    return resolved


def read(path: Path, options: ReadOptions) -> Iterator[pd.DataFrame]:
    mapping = canonical_columns(path, options.columns)
    try:
        with path.open(encoding="utf-8-sig", newline="") as source:
            yield from _records(path, source, mapping, options)
    except UnicodeDecodeError as error:
        raise undecodable(path, "utf-8", error) from None


def _records(
    path: Path, source: Iterator[str], mapping: dict[str, str], options: ReadOptions
) -> Iterator[pd.DataFrame]:
    header_line = 0
    for text in source:
        header_line += 1
        if text.strip():
            header_text = text
            break
    else:
        raise ImportFormatError(path, None, "is empty: expected a header row")
    separator = sniff_separator(header_text)
    header = [name.strip() for name in next(csv.reader([header_text], delimiter=separator))]
    positions = _positions(path, header, header_line, mapping)
    reader = csv.reader(source, delimiter=separator)
    rows: list[list[str]] = []
    lines: list[int] = []
    line_offset = header_line  # reader.line_num counts from the line after the header
    previous = 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise ImportFormatError(
                    path,
                    start + line_offset,
                    f"expected {len(header)} {SEPARATOR_NAMES[separator]}-separated fields "
                    f"(as in the header), found {len(row)}",
                )
            rows.append(row)
            lines.append(start + line_offset)
            if len(rows) == options.chunk_rows:
                yield _frame(path, rows, lines, positions, options)
                rows, lines = [], []
    except csv.Error as error:
        raise ImportFormatError(path, reader.line_num + line_offset, str(error)) from None
    if rows:
        yield _frame(path, rows, lines, positions, options)


def _positions(
    path: Path, header: list[str], header_line: int, mapping: dict[str, str]
) -> dict[str, int]:
    positions: dict[str, int] = {}
    for name, source in mapping.items():
        if source.strip() not in header:
            raise ImportFormatError(
                path,
                header_line,
                f"the mapping's column {source!r} (for {name}) is not in the header; "
                f"the header has: {', '.join(header)}",
            )
        positions[name] = header.index(source.strip())
    return positions


def _frame(
    path: Path,
    rows: list[list[str]],
    lines: list[int],
    positions: dict[str, int],
    options: ReadOptions,
) -> pd.DataFrame:
    chunk = pd.DataFrame(
        {name: [row[at] for row in rows] for name, at in positions.items()}, dtype="string"
    )
    chunk["line"] = pd.Series(lines, dtype="int64")
    if "played_at" in chunk:
        chunk["played_at"] = _times(path, chunk)
    if "listener" not in chunk:
        chunk["listener"] = options.listener or path.stem
    chunk["play_count"] = to_number(chunk["play_count"]) if "play_count" in chunk else 1.0
    for name, convert in _CONVERTERS.items():
        if name in chunk:
            chunk[name] = convert(chunk[name])
    return chunk


def _times(path: Path, chunk: pd.DataFrame) -> pd.Series:
    """ISO-8601 or Unix seconds; an empty time is missing, an unreadable one an error."""
    text = chunk["played_at"].str.strip()
    times = iso_or_unix_time(text)
    unreadable = (times.isna() & (text != "")).to_numpy().nonzero()[0]
    if len(unreadable):
        at = unreadable[0]
        raise ImportFormatError(
            path,
            int(chunk["line"].iloc[at]),
            f"cannot read the time {text.iloc[at]!r} (expected ISO-8601 or Unix seconds)",
        )
    return times


_CONVERTERS = {
    "rating": to_number,
    "year": to_year,
    "ms_played": to_int,
    "skipped": to_bool,
    "is_music": to_bool,
    "artist_mbid": mbid,
    "song_mbid": mbid,
    "release_mbid": mbid,
}
