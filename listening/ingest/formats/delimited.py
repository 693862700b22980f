"""Stream an unquoted delimited text file (tab-separated dumps) in chunks of string columns."""

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
from pandas.errors import ParserError

from listening.ingest.errors import ImportFormatError

from .text_errors import undecodable

SEPARATOR_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon"}
_WHOLE_LINE = "\x00"  # a separator text never holds: each line is read as one field
_TEXT = {"dtype": str, "keep_default_na": False, "quoting": csv.QUOTE_NONE, "engine": "c"}


def read_fields(
    path: Path,
    *,
    fields: Sequence[str],
    description: str,
    chunk_rows: int,
    header: Sequence[str] | None = None,
    separator: str = "\t",
    encoding: str = "utf-8",
) -> Iterator[pd.DataFrame]:
    """Chunks with one string column per name in `fields`, plus `line` (1-based, in the file).

    `header`: the header row the file must start with (compared case-sensitively), or None
    when it has none. A line with another number of fields is an ImportFormatError saying
    which line. Blank lines are skipped (and counted). Values are kept exactly as written.

    pandas fills a missing last field with "" just as it reads an empty one, so each chunk is
    first read line by line (C engine) to count separators, then split (C engine again).
    """
    first_line = 1
    if header is not None:
        _check_header(path, header, separator, encoding)
        first_line = 2
    try:
        with pd.read_csv(
            path,
            sep=_WHOLE_LINE,
            header=None,
            names=["raw"],
            skiprows=first_line - 1,
            skip_blank_lines=False,
            index_col=False,
            chunksize=chunk_rows,
            encoding=encoding,
            **_TEXT,
        ) as reader:
            for chunk in reader:
                raw = chunk["raw"]
                lines = pd.Series(chunk.index + first_line, index=chunk.index, dtype="int64")
                keep = raw.str.strip(" ") != ""
                raw, lines = raw[keep], lines[keep]
                _check_field_counts(path, raw, lines, len(fields), separator, description)
                frame = _split(raw, fields, separator)
                frame["line"] = lines.to_numpy()
                del chunk, raw, lines, keep  # not held while the caller works on the frame
                yield frame
    except UnicodeDecodeError as error:
        raise undecodable(path, encoding, error) from None
    except ParserError as error:  # a NUL byte splits a line read whole
        line = _nul_line(path)
        reason = "holds a NUL byte: not a text file" if line else f"cannot be read: {error}"
        raise ImportFormatError(path, line, reason) from None


def _check_header(path: Path, header: Sequence[str], separator: str, encoding: str) -> None:
    with path.open("rb") as source:
        first = source.readline()
    try:
        found = first.decode(encoding).lstrip("\ufeff").rstrip("\r\n").split(separator)
    except UnicodeDecodeError as error:
        raise undecodable(path, encoding, error) from None
    found = [name.strip() for name in found]
    if found != list(header):
        name = SEPARATOR_NAMES[separator]
        raise ImportFormatError(
            path,
            1,
            f"expected the {name}-separated header {' '.join(header)!r}, found {' '.join(found)!r}",
        )


def _check_field_counts(
    path: Path,
    raw: pd.Series,
    lines: pd.Series,
    expected: int,
    separator: str,
    description: str,
) -> None:
    found = raw.str.count(separator).to_numpy() + 1
    wrong = (found != expected).nonzero()[0]
    if len(wrong):
        at = wrong[0]
        raise ImportFormatError(
            path,
            int(lines.iloc[at]),
            f"expected {expected} {SEPARATOR_NAMES[separator]}-separated fields "
            f"({description}), found {found[at]}",
        )


def _split(raw: pd.Series, fields: Sequence[str], separator: str) -> pd.DataFrame:
    if raw.empty:
        return pd.DataFrame({name: pd.Series(dtype=str) for name in fields})
    return pd.read_csv(
        io.StringIO("\n".join(raw.tolist())),
        sep=separator,
        header=None,
        names=list(fields),
        skip_blank_lines=False,
        index_col=False,
        **_TEXT,
    )


def _nul_line(path: Path) -> int | None:
    with path.open("rb") as source:
        for number, line in enumerate(source, start=1):
            if b"\x00" in line:
                return number
    return None
