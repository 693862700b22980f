"""Turn the ways reading text can fail into ImportFormatError naming the file and line."""

import re
from pathlib import Path

from pandas.errors import ParserError

from listening.ingest.errors import ImportFormatError

_PANDAS_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def first_undecodable_line(path: Path, encoding: str) -> int | None:
    """1-based number of the first line that is not valid `encoding` text (read only on failure)."""
    with path.open("rb") as source:
        for number, raw in enumerate(source, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return number
    return None


def undecodable(path: Path, encoding: str, error: UnicodeDecodeError) -> ImportFormatError:
    line = first_undecodable_line(path, encoding)
    bad = error.object[error.start : error.start + 4]
    return ImportFormatError(
        path, line, f"is not {encoding.upper()} text (bytes {bad!r}); save it as {encoding.upper()}"
    )


def too_many_fields(
    path: Path, error: ParserError, *, separator: str, description: str
) -> ImportFormatError:
    """pandas says 'Expected 3 fields in line 5, saw 4'; say it in the user's terms."""
    found = _PANDAS_FIELDS.search(str(error))
    if found is None:
        return ImportFormatError(path, None, f"cannot be read as {separator}-separated text")
    expected, line, saw = (int(n) for n in found.groups())
    return ImportFormatError(
        path, line, f"expected {expected} {separator}-separated fields ({description}), found {saw}"
    )
