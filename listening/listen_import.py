"""The import service: parse, clean and load one ImportBatch, all or nothing.

The whole load runs in one transaction, so a failed or cancelled import leaves the database
as it was (its batch row then records the failure). While it runs, progress is written onto
the batch's row from a side connection on PostgreSQL, and into the cache on both backends
(`ingest/progress.py`); a cancel request travels through the cache.
"""

import csv
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from musicsite.jobs import JobStatus, job_run

from .ingest.background import ahead
from .ingest.catalog_resolver import CatalogResolver
from .ingest.cleaner import Cleaner
from .ingest.cleaning import CleaningConfig
from .ingest.errors import ImportFormatError
from .ingest.formats import ARTIST_LEVEL_FORMATS, ReadOptions, detect_format, read_chunks
from .ingest.formats.options import earliest_play_text, parse_earliest_play
from .ingest.formats.sizing import expected_rows
from .ingest.listen_writer import ListenWriter
from .ingest.progress import RowProgress
from .ingest.report import CleaningReport
from .listen_upload import upload_error_text
from .models import ImportBatch, Listener, Skip


class ImportCancelled(Exception):
    pass


class DryRunFinished(Exception):
    """Raised to roll a dry run back after its report is complete."""


class NothingLoaded(Exception):
    """Every row read was dropped (or none was read): the import fails, saying why."""


@dataclass
class Progress:
    rows_read: int
    fraction: float


def _progress_key(batch_id: int) -> str:
    return f"listen-import:{batch_id}:progress"


def _cancel_key(batch_id: int) -> str:
    return f"listen-import:{batch_id}:cancel"


def listen_import_live_progress(batch: ImportBatch) -> float:
    """The running import's progress (from the cache), else the row's."""
    if batch.status == JobStatus.RUNNING:
        return cache.get(_progress_key(batch.pk), batch.progress)
    return batch.progress


def listen_import_cancel(*, batch: ImportBatch) -> None:
    """Ask a running import to stop (it rolls back); a queued one is cancelled at once."""
    if batch.status == JobStatus.QUEUED:
        batch.status, batch.finished_at = JobStatus.CANCELLED, timezone.now()
        batch.save(update_fields=["status", "finished_at"])
    elif batch.status == JobStatus.RUNNING:
        cache.set(_cancel_key(batch.pk), True, timeout=24 * 3600)


def listen_import_create(
    *,
    path: str | Path = "",
    upload=None,
    format: str = "",
    options: dict[str, Any] | None = None,
    created_by=None,
) -> ImportBatch:
    """Record an import to run: a server-side path (file or folder), or an uploaded file.

    `options["since"]`, the start of this import's time window, is checked and stored as
    the report will say it (ValueError if it is no date from 1900 to today)."""
    options = dict(options or {})
    if options.get("since"):
        options["since"] = earliest_play_text(parse_earliest_play(options["since"]))
    batch = ImportBatch(
        format=format,
        source_name=str(path) if path else getattr(upload, "name", ""),
        options=options,
        created_by=created_by,
    )
    if upload is not None:
        batch.upload = upload
    batch.save()
    return batch


def cleaning_config(*, since: str | None = None) -> CleaningConfig:
    """The rules' thresholds: `settings.LISTENING_CLEANING` over the defaults, the time
    window's start from `settings.LISTENING_EARLIEST_PLAY`, and an import's own `since`
    (`import_listens --since`, the upload form) over both."""
    overrides = dict(getattr(settings, "LISTENING_CLEANING", {}))
    if since:
        overrides["earliest_play"] = parse_earliest_play(since)
    elif getattr(settings, "LISTENING_EARLIEST_PLAY", None):
        try:
            overrides["earliest_play"] = parse_earliest_play(settings.LISTENING_EARLIEST_PLAY)
        except ValueError as error:
            raise ImproperlyConfigured(f"LISTENING_EARLIEST_PLAY: {error}") from None
    return CleaningConfig(**overrides)


def _read_options(batch: ImportBatch) -> ReadOptions:
    options = batch.options
    songs_path = Path(options["songs_path"]) if options.get("songs_path") else None
    if songs_path is not None and not songs_path.is_absolute() and batch.upload:
        # An uploaded song list is stored beside the uploaded plays (`listen_upload`).
        songs_path = Path(batch.upload.path).parent / songs_path
    return ReadOptions(
        chunk_rows=int(options.get("chunk_rows", ReadOptions.chunk_rows)),
        columns=options.get("columns"),
        listener=options.get("listener"),
        songs_path=songs_path,
    )


def _source_path(batch: ImportBatch) -> Path:
    return Path(batch.upload.path) if batch.upload else Path(batch.source_name)


def listen_import_run(
    *,
    batch_id: int,
    on_progress: Callable[[Progress], None] | None = None,
) -> ImportBatch:
    """Run an import batch in this process: `listen_import_load` in the job lifecycle."""
    return job_run(
        ImportBatch,
        batch_id,
        lambda batch: listen_import_load(batch, on_progress=on_progress),
    )


def listen_import_load(
    batch: ImportBatch,
    *,
    on_progress: Callable[[Progress], None] | None = None,
) -> None:
    """Load a running batch to the end and record its outcome and report on its row.

    Expected failures (a malformed file, a cancel) are recorded and not raised; anything
    else is recorded and raised (the job lifecycle adds its traceback). A batch whose options
    ask for a dry run (the command and the admin's upload form can) is one, however it is run.
    """
    dry_run = bool(batch.options.get("dry_run"))
    report = CleaningReport()
    keep_rejected = False  # on a success, and when they are why nothing loaded
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as rejected:
        try:
            with transaction.atomic():
                _Load(batch, report, rejected, on_progress).run()
                if dry_run:
                    raise DryRunFinished
        except DryRunFinished:
            status, error = JobStatus.SUCCEEDED, ""
            report.dry_run = True
        except ImportCancelled:
            status, error = JobStatus.CANCELLED, "Cancelled by an operator."
        except NothingLoaded as failure:
            status, error = JobStatus.FAILED, str(failure)
            keep_rejected, report.dry_run = True, dry_run
        except ImportFormatError as failure:
            status, error = JobStatus.FAILED, _failure_words(batch, failure)
        except Exception as failure:
            words = _failure_words(batch, failure)
            _finish(batch, report, rejected, JobStatus.FAILED, f"{type(failure).__name__}: {words}")
            raise
        else:
            status, error = JobStatus.SUCCEEDED, ""
        keep_rejected = keep_rejected or status == JobStatus.SUCCEEDED
        _finish(batch, report, rejected, status, error, keep_rejected=keep_rejected)


def _failure_words(batch: ImportBatch, failure: Exception) -> str:
    """The failure as the operator knows the files: an upload by its own name (never the
    server's path under MEDIA_ROOT) and the line; a server-side path as it was given."""
    if not batch.upload:
        return str(failure)
    return upload_error_text(failure, Path(batch.upload.path).parent)


def _finish(batch, report, rejected, status, error, *, keep_rejected=False) -> None:
    cache.delete_many([_progress_key(batch.pk), _cancel_key(batch.pk)])
    batch.status, batch.error, batch.finished_at = status, error, timezone.now()
    batch.rows_read, batch.rows_rejected = report.rows_read, report.rows_rejected
    # A rolled-back import (failed, cancelled, or a dry run) loaded nothing, whatever it
    # counted before; a dry run's report still says what it would have loaded.
    loaded = status == JobStatus.SUCCEEDED and not report.dry_run
    batch.rows_loaded = report.rows_loaded if loaded else 0
    batch.report = report.to_dict()
    if status == JobStatus.SUCCEEDED:
        batch.progress = 1.0
    # The rejected rows of an import that loaded none are what shows why: kept too.
    if keep_rejected and rejected.tell():
        rejected.seek(0)
        batch.rejected_file.save(f"batch-{batch.pk}-rejected.csv", File(rejected), save=False)
    batch.save()


class _Load:
    """One run of one batch: read, clean, resolve and write every chunk, then judge bots."""

    def __init__(self, batch: ImportBatch, report: CleaningReport, rejected, on_progress):
        self.batch, self.report, self.rejected, self.on_progress = (
            batch,
            report,
            rejected,
            on_progress,
        )
        self.path = _source_path(batch)
        batch.format = batch.format or detect_format(self.path)
        self.source = batch.options.get("source") or batch.format
        self.cleaner = Cleaner(
            report,
            artist_level=batch.format in ARTIST_LEVEL_FORMATS,
            config=cleaning_config(since=batch.options.get("since")),
        )
        self.resolver = CatalogResolver(source=self.source)
        self.writer = ListenWriter(batch.pk, expected_rows=expected_rows(self.path, batch.format))
        self.rows_done = 0  # source rows through cleaning and loading

    def run(self) -> None:
        progress = RowProgress(
            ImportBatch._meta.db_table, self.batch.pk, _progress_key(self.batch.pk)
        )
        try:
            self._chunks(progress)
            report, writer = self.report, self.writer
            report.rows_loaded = writer.finish()
            report.count_number("counts_merged", writer.merged)
            report.count_number("already_imported", writer.already_present)
            self._flag_bots()
            # Never a quiet success: nothing loaded fails (rolled back), most rows dropped
            # by one rule is a warning on the batch (docs/cleaning.md says which is which).
            failure = report.nothing_loaded()
            if failure:
                raise NothingLoaded(failure)
            report.warnings.extend(
                filter(None, [report.most_rows_warning(), report.nothing_new_warning()])
            )
            # Read to the end: done, whatever the count of rows beforehand said.
            self._show_progress(progress, 1.0)
        finally:
            progress.close()

    def _show_progress(self, progress: RowProgress, fraction: float) -> None:
        progress.report(fraction)
        if self.on_progress:
            self.on_progress(Progress(self.rows_done, fraction))

    def _chunks(self, progress: RowProgress) -> None:
        expected = expected_rows(self.path, self.batch.format)
        chunks = read_chunks(self.path, self.batch.format, _read_options(self.batch))
        # Parsing and cleaning (no database) run a chunk or two ahead of loading.
        for clean in ahead(map(self.cleaner.clean, chunks)):
            if cache.get(_cancel_key(self.batch.pk)):
                raise ImportCancelled
            _keep_rejected(clean.rejected, self.rejected)
            if len(clean.listens):
                self.writer.add(self.resolver.resolve(clean.listens))
            if len(clean.skips):
                skips = self.resolver.resolve(clean.skips)
                self.report.skips_loaded += _write_skips(skips, self.batch.pk)
            # The rows loaded, not the report's rows read: cleaning runs a chunk or two ahead.
            self.rows_done += clean.rows_read
            # 100% only once the writer and the bot check are done too.
            self._show_progress(progress, min(self.rows_done / expected, 0.99))

    def _flag_bots(self) -> None:
        bots = self.cleaner.bot_listeners()
        if bots:
            flagged = Listener.objects.filter(source=self.source, external_id__in=bots)
            self.report.count_number("bot_listener", _rows_of(flagged, self.batch))
            flagged.update(
                is_flagged=True, flag_reason="more plays in one day than a day has minutes"
            )
        self.report.flagged_listeners = bots


def _rows_of(listeners, batch) -> int:
    return batch.listens.filter(listener__in=listeners).count()


REJECTED_COLUMNS = [
    "line",
    "reason",
    "listener",
    "artist",
    "title",
    "release",
    "played_at",
    "play_count",
]


def _keep_rejected(rows: pd.DataFrame, into) -> None:
    """Append dropped rows, with their reason, to the batch's rejected-rows file."""
    if rows.empty:
        return
    rows[REJECTED_COLUMNS].to_csv(
        into, index=False, header=into.tell() == 0, quoting=csv.QUOTE_MINIMAL
    )


def _write_skips(frame: pd.DataFrame, batch_id: int) -> int:
    rows = frame[frame["song_id"].notna() & frame["played_at"].notna()]
    skips = [
        Skip(
            listener_id=int(listener),
            song_id=int(song),
            skipped_at=played.floor("s").to_pydatetime(),
            ms_played=None if pd.isna(ms) else int(ms),
            batch_id=batch_id,
        )
        for listener, song, played, ms in rows[
            ["listener_id", "song_id", "played_at", "ms_played"]
        ].itertuples(index=False, name=None)
    ]
    before = Skip.objects.filter(batch_id=batch_id).count()
    Skip.objects.bulk_create(skips, batch_size=5000, ignore_conflicts=True)
    return Skip.objects.filter(batch_id=batch_id).count() - before
