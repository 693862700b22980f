"""Read JSON exports: a JSON array (loaded whole) or JSON lines (streamed), with errors that name
the file and line."""

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TypeVar

from listening.ingest.errors import ImportFormatError

from .text_errors import undecodable

T = TypeVar("T")
ENCODING = "utf-8-sig"  # UTF-8, with or without a byte-order mark


def is_json_array(path: Path) -> bool:
    """True if the first character that is not white space is '['."""
    with path.open("rb") as source:
        while chunk := source.read(4096):
            text = chunk.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
            if text:
                return text.startswith(b"[")
    return False


def read_array(path: Path) -> list[object]:
    """The whole array; its items are numbered from 1 as records in errors and `line`."""
    try:
        value = json.loads(path.read_text(encoding=ENCODING))
    except UnicodeDecodeError as error:
        raise undecodable(path, "utf-8", error) from None
    except json.JSONDecodeError as error:
        raise ImportFormatError(path, error.lineno, f"is not valid JSON: {_whole(error)}") from None
    if not isinstance(value, list):
        raise ImportFormatError(path, 1, "expected a JSON array of records")
    return value


def read_lines(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, value) for each non-blank line: one JSON value a line."""
    try:
        with path.open(encoding=ENCODING) as source:
            for number, text in enumerate(source, start=1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as error:
                    raise ImportFormatError(
                        path, number, f"is not valid JSON: {_whole(error)}"
                    ) from None
                yield number, value
    except UnicodeDecodeError as error:
        raise undecodable(path, "utf-8", error) from None


def _whole(error: json.JSONDecodeError) -> str:
    """The decoder's message as a whole sentence: its `msg` alone can end mid-phrase
    ("Unterminated string starting at"), the place it points to being in `colno`."""
    if error.msg.endswith(" at"):
        return f"{error.msg} column {error.colno}"
    return f"{error.msg} (column {error.colno})"


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` items (itertools.batched needs Python 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
