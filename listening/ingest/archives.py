"""Unpack an uploaded .zip or .tar.gz into one folder, refusing what could escape it. No Django.

A dataset arrives as an archive of its folder (HetRec's zip holds `hetrec2011-lastfm-2k/...`).
Its files land side by side under their own names, folders dropped, so nothing is written
outside the folder whatever the entries say; entries that try (`..`, absolute paths, links,
devices) are refused outright rather than quietly renamed, and so is an upload that would grow
past its budget of bytes (counted as the bytes are written: an archive's stated sizes can lie)
or of files.
"""

import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
GZIP_MAGIC = b"\x1f\x8b"
_COPY_BLOCK = 1 << 20


class ArchiveRefused(ValueError):
    """The archive is unsafe, unreadable or too big; the message says which entry and why."""


def archive_kind(head: bytes) -> str | None:
    """ "zip", "tar.gz" or None (not an archive), from the first bytes, never the name."""
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return "zip"
    if head.startswith(GZIP_MAGIC):
        return "tar.gz"
    return None


class UploadBudget:
    """What one upload may still write: bytes and files, shared by all its files."""

    def __init__(self, *, max_bytes: int, max_files: int):
        self.max_bytes, self.max_files = max_bytes, max_files
        self.bytes_left, self.files_left = max_bytes, max_files

    def take_file(self) -> None:
        if self.files_left == 0:
            raise ArchiveRefused(f"more than {self.max_files} files")
        self.files_left -= 1

    def copy(self, data: BinaryIO, to: Path, name: str) -> None:
        """Write `data` to the new file `to`, within the bytes left."""
        with to.open("xb") as out:
            while block := data.read(_COPY_BLOCK):
                self.bytes_left -= len(block)
                if self.bytes_left < 0:
                    raise ArchiveRefused(
                        f"more than {self.max_bytes:,} bytes (at {name!r}); import files that"
                        " big from the server with `manage.py import_listens`"
                    )
                out.write(block)


def unpack(source: BinaryIO, kind: str, into: Path, budget: UploadBudget) -> list[Path]:
    """The files written into `into` (which exists), in archive order."""
    written: list[Path] = []
    try:
        for name, member in _members(source, kind):
            target = _target(into, name)
            if target is None:
                continue
            budget.take_file()
            if target.exists():
                raise ArchiveRefused(f"two files named {target.name!r}")
            with member() as data:
                budget.copy(data, target, name)
            written.append(target)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise ArchiveRefused(f"cannot be read as a {kind} archive ({error})") from None
    except (NotImplementedError, RuntimeError) as error:  # compression method, encryption
        raise ArchiveRefused(f"cannot be unpacked here ({error})") from None
    return written


def _members(source: BinaryIO, kind: str) -> Iterator[tuple[str, object]]:
    """(entry name, a function opening its bytes) for each regular file; other kinds refused."""
    if kind == "zip":
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                # Unix file type bits, where the archiver wrote them (0: a plain file).
                kind_bits = stat.S_IFMT(info.external_attr >> 16)
                if kind_bits and kind_bits != stat.S_IFREG:
                    raise ArchiveRefused(f"entry {info.filename!r} is a link or a device file")
                yield info.filename, lambda info=info: archive.open(info)
        return
    # Streamed ("r|gz"): members are read in order, once, never seeking back.
    with tarfile.open(fileobj=source, mode="r|gz") as archive:
        for member in archive:
            if member.isdir():
                continue
            if not member.isfile():
                raise ArchiveRefused(f"entry {member.name!r} is a link or a device file")
            yield member.name, lambda member=member: archive.extractfile(member)


def _target(into: Path, name: str) -> Path | None:
    """Where an entry goes (its base name in `into`), None for macOS metadata; refused if
    the name is absolute or climbs out."""
    normal = name.replace("\\", "/")
    parts = PurePosixPath(normal).parts
    if normal.startswith("/") or (parts and parts[0].endswith(":")):
        raise ArchiveRefused(f"entry {name!r} has an absolute path")
    if ".." in parts:
        raise ArchiveRefused(f"entry {name!r} points outside the archive's folder (..)")
    if not parts or "__MACOSX" in parts or parts[-1].startswith("._") or parts[-1] == ".DS_Store":
        return None
    if any(ord(character) < 32 for character in parts[-1]):
        raise ArchiveRefused(f"entry {name!r} has control characters in its name")
    return into / parts[-1]
