"""Uploaded files for an import: kept together in one folder per batch, checked before queuing.

An operator uploads what the import command would be pointed at: one file; a dataset's files
(HetRec's user_artists.dat with its artists.dat, Taste Profile triplets with their song
list); or a .zip / .tar.gz of them (`ingest/archives.py` unpacks it safely). The files go side
by side into `imports/<year>/<month>/<token>/` under MEDIA_ROOT, so the job finds a
companion file where the command would, beside the plays. Before a batch is queued the files
are read as far as their first rows in the chosen (or detected) format, so a wrong format, a
missing companion or a hostile archive is told on the upload page, not left to a failed job.
"""

import re
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.utils import timezone

from .ingest.archives import ArchiveRefused, UploadBudget, archive_kind, unpack
from .ingest.errors import ImportFormatError
from .ingest.formats import ReadOptions, detect_format, read_chunks
from .ingest.formats.hetrec import ARTISTS, USER_ARTISTS
from .ingest.formats.msd_songs import find_songs_file, songs_file_kind
from .ingest.formats.taste_profile import triplet_files

# Defaults of the LISTENING_UPLOAD setting: what one upload may unpack to.
# The upload is stored and unpacked within the admin's request, so it must finish inside a
# web worker's timeout: files bigger than this go through `manage.py import_listens`.
UPLOAD_LIMITS = {"MAX_BYTES": 512 * 1024**2, "MAX_FILES": 100}
# The stored path must fit ImportBatch.upload (100 characters) with the folder before it.
MAX_NAME = 60
CHECK_ROWS = 1_000


class UploadRejected(Exception):
    """What is wrong with an upload, in words for the upload page. Nothing is kept."""


@dataclass
class StagedUpload:
    """Files stored for one batch: `plays` is what the import reads (relative to MEDIA_ROOT)."""

    plays: str
    source_name: str
    options: dict[str, Any] = field(default_factory=dict)


def listen_upload_stage(
    *,
    files: Sequence[Any],
    songs: Any = None,
    format: str = "",
    options: dict[str, Any] | None = None,
) -> StagedUpload:
    """Store the uploaded files (archives unpacked) for one import and check they can be read.

    `files`: Django uploaded files; `songs`: Taste Profile song metadata, optional; `format`
    "" to detect; `options` as the import takes them (columns, listener, ...). UploadRejected,
    with nothing kept, if the files cannot make an import.
    """
    if not files:
        raise UploadRejected("Choose a file to import.")
    limits = {**UPLOAD_LIMITS, **getattr(settings, "LISTENING_UPLOAD", {})}
    budget = UploadBudget(max_bytes=limits["MAX_BYTES"], max_files=limits["MAX_FILES"])
    relative = Path("imports") / f"{timezone.now():%Y/%m}" / secrets.token_hex(8)
    folder = Path(settings.MEDIA_ROOT) / relative
    folder.mkdir(parents=True)
    try:
        written = [path for upload in files for path in _store(upload, folder, budget)]
        songs_path = _store(songs, folder, budget, unpack_archives=False)[0] if songs else None
        plays = _plays_file(written, songs_path, folder)
        format = format or detect_format(plays)
        staged_options = dict(options or {})
        if songs_path is None and format == "taste-profile":
            found = find_songs_file(folder)  # a Taste Profile archive's unique_tracks.txt
            songs_path = found if found != plays else None
        if songs_path is not None:
            songs_file_kind(songs_path)
            # A name beside the plays: the import looks for it there.
            staged_options["songs_path"] = songs_path.name
        _check(plays, format, staged_options)
    except (UploadRejected, ImportFormatError, ValueError) as error:  # ArchiveRefused too
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadRejected(upload_error_text(error, folder)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    names = [upload.name for upload in files] + ([songs.name] if songs else [])
    return StagedUpload(
        plays=str(relative / plays.name),
        source_name=", ".join(names)[:500],
        options=staged_options,
    )


def _store(upload: Any, folder: Path, budget: UploadBudget, *, unpack_archives=True) -> list[Path]:
    name = _safe_name(upload.name)
    upload.seek(0)
    kind = archive_kind(upload.read(4)) if unpack_archives else None
    upload.seek(0)
    if kind is not None:
        try:
            files = unpack(upload, kind, folder, budget)
        except ArchiveRefused as error:
            raise UploadRejected(f"{name}: {error}") from None
        for path in files:
            _safe_name(path.name)
        if not files:
            raise UploadRejected(f"{name}: the archive holds no files")
        return files
    budget.take_file()
    target = folder / name
    if target.exists():
        raise UploadRejected(f"two files named {name!r}: each file once, please")
    budget.copy(upload, target, name)
    return [target]


def _safe_name(name: str) -> str:
    """The file's own name (no folders), refused if it could not be stored as given."""
    base = Path(str(name).replace("\\", "/")).name
    if base in ("", ".", "..") or any(ord(character) < 32 for character in base):
        raise UploadRejected(f"{name!r} is not a usable file name")
    if len(base) > MAX_NAME:
        raise UploadRejected(f"{base[:MAX_NAME]}...: file names of at most {MAX_NAME} characters")
    return base


def _plays_file(written: list[Path], songs: Path | None, folder: Path) -> Path:
    """The file the rows come from: the only one, or a dataset's (HetRec's, Taste Profile's)."""
    candidates = [path for path in written if path != songs]
    if len(candidates) == 1:
        return candidates[0]
    names = {path.name for path in candidates}
    if USER_ARTISTS in names:
        return folder / USER_ARTISTS
    triplets = triplet_files(folder)
    if len(triplets) == 1:
        return triplets[0]
    shown = ", ".join(sorted(names)[:8])
    raise UploadRejected(
        f"{len(candidates)} files ({shown}): several files are read together only as a HetRec "
        f"dataset ({USER_ARTISTS} with {ARTISTS}) or a Taste Profile one (one *triplets* file "
        "with its song list); upload one file otherwise"
    )


def _check(plays: Path, format: str, options: dict[str, Any]) -> None:
    """Read the first rows as the import will (the whole song list waits for the job)."""
    read = ReadOptions(
        chunk_rows=CHECK_ROWS, columns=options.get("columns"), listener=options.get("listener")
    )
    next(iter(read_chunks(plays, format, read)), None)


def upload_error_text(error: Exception, folder: Path) -> str:
    """The error as the operator knows the files: by name, not by the server's path."""
    if isinstance(error, ImportFormatError):
        where = Path(error.path).name
        if error.line is not None:
            where = f"{where}, line {error.line}"
        return f"{where}: {error.message}"
    return str(error).replace(f"{folder}/", "")


def listen_upload_files(batch) -> list[Path]:
    """The files stored for an uploaded batch, the plays first, each a real file under
    MEDIA_ROOT (so a path that resolves outside it, a link included, is never offered).

    A batch staged by `listen_upload_stage` owns its token folder and everything in it; a
    batch whose file was stored another way (`listen_import_create(upload=...)`) shares its
    month's folder with other batches, so only its own file is its.
    """
    if not batch.upload:
        return []
    try:
        plays = Path(batch.upload.path)
    except SuspiciousFileOperation:  # a stored name that climbs out of MEDIA_ROOT
        return []
    folder = plays.parent
    owned = (
        folder.is_dir()
        and _STAGED_FOLDER.fullmatch(folder.name)
        and folder.parent.parent.parent.name == "imports"
    )
    others = sorted(path for path in folder.iterdir() if path != plays) if owned else []
    return [path for path in [plays, *others] if _is_stored_file(path)]


_STAGED_FOLDER = re.compile(r"[0-9a-f]{16}")


def _is_stored_file(path: Path) -> bool:
    root = Path(settings.MEDIA_ROOT).resolve()
    return not path.is_symlink() and path.is_file() and path.resolve().is_relative_to(root)
