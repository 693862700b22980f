"""Tell a source's format from its content (the first bytes and lines), never from its name."""

import re
from pathlib import Path

from listening.ingest.errors import ImportFormatError

from .hetrec import USER_ARTISTS, USER_ARTISTS_HEADER
from .taste_profile import triplet_files

EXPECTED = (
    "expected one of: Taste Profile triplets (user<TAB>song<TAB>count, or a folder with a "
    "*triplets* file), Last.fm 1K scrobbles (6 tab-separated fields: user, ISO time, artist "
    "MBID, artist, track MBID, track), HetRec 2011 (its folder, or user_artists.dat with the "
    "header userID<TAB>artistID<TAB>weight), ListenBrainz listens (JSON lines or a JSON array "
    "with listened_at and track_metadata), Spotify streaming history (a JSON array with ts or "
    "endTime and ms_played or msPlayed), or a CSV/TSV with a header row (give a column mapping)"
)
HEAD_BYTES = 64 * 1024
_BINARY = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a zip archive: unpack it first",
    b"\x1f\x8b": "a gzip archive: unpack it first",
    b"\xff\xfe": "UTF-16 text: save it as UTF-8",
    b"\xfe\xff": "UTF-16 text: save it as UTF-8",
}
_JSON_KEY = re.compile(r'"([A-Za-z_]+)"\s*:')
_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$")
_SONG_ID = re.compile(r"^SO[A-Z0-9]{16}$")
_COUNT = re.compile(r"^\d+(\.\d*)?$")


def detect_format(path: Path) -> str:
    """One of FORMAT_NAMES, or ImportFormatError saying what was expected."""
    path = Path(path)
    if path.is_dir():
        return _folder_format(path)
    if not path.is_file():
        raise ImportFormatError(path, None, "no such file or folder")
    with path.open("rb") as source:
        head = source.read(HEAD_BYTES)
    for magic, what in _BINARY.items():
        if head.startswith(magic):
            raise ImportFormatError(path, 1, f"is {what}, not listening history; {EXPECTED}")
    if b"\x00" in head:
        raise ImportFormatError(path, 1, f"is not a text file; {EXPECTED}")
    text = head.decode("utf-8", "replace").removeprefix("\ufeff")
    if not text.strip():
        raise ImportFormatError(path, None, f"is empty; {EXPECTED}")
    if text.lstrip()[0] in "[{":
        return _json_format(path, text)
    return _text_format(path, text)


def _folder_format(folder: Path) -> str:
    if (folder / USER_ARTISTS).is_file():
        return "hetrec"
    if triplet_files(folder):
        return "taste-profile"
    names = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) or "nothing"
    raise ImportFormatError(
        folder,
        None,
        f"a folder must hold HetRec's {USER_ARTISTS} or a Taste Profile *triplets* file; "
        f"it holds {names}",
    )


def _json_format(path: Path, text: str) -> str:
    keys = set(_JSON_KEY.findall(text))
    if "listened_at" in keys or "track_metadata" in keys:
        return "listenbrainz"
    if text.lstrip().startswith("[") and (
        {"ts", "ms_played"} <= keys or {"endTime", "msPlayed"} <= keys
    ):
        return "spotify"
    raise ImportFormatError(
        path, 1, f"is JSON, but not listening history this site reads; {EXPECTED}"
    )


def _text_format(path: Path, text: str) -> str:
    number, line = next(
        (n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()
    )
    fields = [field.strip() for field in line.split("\t")]
    if fields == list(USER_ARTISTS_HEADER):
        return "hetrec"
    if len(fields) == 6 and _ISO_TIME.match(fields[1]):
        return "lastfm-1k"
    if len(fields) == 3 and (_SONG_ID.match(fields[1]) or _COUNT.match(fields[2])):
        return "taste-profile"
    if any(separator in line for separator in ",\t;"):
        return "csv"
    raise ImportFormatError(path, number, f"does not look like listening history; {EXPECTED}")
