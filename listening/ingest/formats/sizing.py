"""How many rows a source will give, so a progress bar can say how far an import is. No Django.

Counted on the one file the rows come from (HetRec's user_artists.dat, not its artists.dat or
the dataset's other files; a Taste Profile folder's triplets, not its song list), by the
measure its reader numbers rows in: lines for delimited text and JSON lines, records for a
JSON array. Counting the newlines of the 3 GB Taste Profile takes seconds, a small part of
its import; an estimate from the first lines was off by a tenth on HetRec, whose later lines
are longer.
"""

from pathlib import Path

from .hetrec import USER_ARTISTS
from .json_records import is_json_array
from .taste_profile import triplet_files

_BLOCK = 1 << 20
# One of these keys is in every record of a JSON array of that format, and once.
_RECORD_KEYS = {
    "listenbrainz": (b'"listened_at"',),
    "spotify": (b'"ms_played"', b'"msPlayed"'),
}
_HEADER_LINES = {"hetrec": 1, "csv": 1}


def rows_file(path: Path, format: str) -> Path:
    """The file a source's rows are read from (a folder's plays or triplets file)."""
    path = Path(path)
    if not path.is_dir():
        return path
    if format == "hetrec":
        return path / USER_ARTISTS
    found = triplet_files(path) if format == "taste-profile" else []
    return found[0] if len(found) == 1 else path


def expected_rows(path: Path, format: str) -> int:
    """At least 1: the rows (lines, or records of a JSON array) the reader will number."""
    source = rows_file(path, format)
    if not source.is_file():
        return 1  # the reader says what is wrong with it
    if format in _RECORD_KEYS and is_json_array(source):
        found = max(_occurrences(source, key) for key in _RECORD_KEYS[format])
    else:
        found = _occurrences(source, b"\n", count_unterminated=True)
        found -= _HEADER_LINES.get(format, 0)
    return max(found, 1)


def _occurrences(path: Path, needle: bytes, *, count_unterminated: bool = False) -> int:
    count, carry, last = 0, b"", b""
    with path.open("rb") as source:
        while block := source.read(_BLOCK):
            # A key cut in two by the block boundary is whole in carry + block; the carry is
            # shorter than the key, so nothing is counted twice.
            window = carry + block
            count += window.count(needle)
            carry, last = window[len(window) - len(needle) + 1 :], block[-1:]
    if count_unterminated and last and last != b"\n":
        count += 1  # a last line with no newline after it
    return count
