import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from listening.ingest.formats import FORMAT_NAMES
from listening.ingest.formats.options import (
    earliest_play_text,
    parse_column_mapping,
    parse_earliest_play,
)
from listening.ingest.report import report_as_text
from listening.listen_import import Progress, listen_import_create, listen_import_run
from listening.models import Listener
from musicsite.jobs import JobStatus


def parse_columns(text: str) -> dict[str, str]:
    try:
        return parse_column_mapping(text)
    except ValueError as error:
        raise CommandError(f"--{error}") from error


def parse_since(text: str) -> str:
    try:
        return earliest_play_text(parse_earliest_play(text))
    except ValueError as error:
        raise CommandError(f"--{error}") from error


class Command(BaseCommand):
    help = "Import listening history from a file or a dataset folder, cleaning it, with a report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a file, or a folder holding a dataset's files")
        parser.add_argument("--format", choices=FORMAT_NAMES, help="default: detect from content")
        parser.add_argument(
            "--columns",
            help="generic CSV/TSV: user=...,song=...,artist=...,plays=...,time=...,rating=...",
        )
        parser.add_argument("--listener", help="whose history a single-person export is")
        parser.add_argument(
            "--songs", help="Taste Profile song metadata (unique_tracks.txt or CSV)"
        )
        parser.add_argument("--source", help="namespace of listener ids (default: the format)")
        parser.add_argument("--chunk-rows", type=int, help="rows parsed at a time")
        parser.add_argument(
            "--since",
            help="drop plays before this date as time_out_of_range (default: the setting "
            "LISTENING_EARLIEST_PLAY, 2002-01-01); e.g. 1990-01-01 for older logs and ratings",
        )
        parser.add_argument("--dry-run", action="store_true", help="report, then roll back")

    def handle(self, *args, **options):
        path = Path(options["path"]).expanduser().resolve()
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        limit = Listener._meta.get_field("source").max_length
        if options["source"] and len(options["source"]) > limit:
            # Said now, not as a database error (PostgreSQL's) after the file is read.
            raise CommandError(f"--source: at most {limit} characters")
        import_options = {
            key: value
            for key, value in {
                "columns": parse_columns(options["columns"]) if options["columns"] else None,
                "listener": options["listener"],
                "songs_path": str(Path(options["songs"]).resolve()) if options["songs"] else None,
                "source": options["source"],
                "chunk_rows": options["chunk_rows"],
                "since": parse_since(options["since"]) if options["since"] else None,
                "dry_run": options["dry_run"] or None,
            }.items()
            if value is not None
        }
        batch = listen_import_create(
            path=path, format=options["format"] or "", options=import_options
        )
        batch = listen_import_run(batch_id=batch.pk, on_progress=self._show_progress)
        sys.stderr.write("\n")
        # A failure before any row was read has no figures: the error alone says it.
        if batch.status == JobStatus.SUCCEEDED or batch.rows_read:
            self.stdout.write(self._report_text(batch))
        for warning in batch.report.get("warnings", []):
            self.stderr.write(warning)
        if batch.status != JobStatus.SUCCEEDED:
            raise CommandError(f"import {batch.pk} {batch.status}: {batch.error}")

    def _show_progress(self, progress: Progress) -> None:
        width = 30
        done = int(progress.fraction * width)
        sys.stderr.write(
            f"\r[{'#' * done}{'.' * (width - done)}] {progress.fraction:4.0%}"
            f"  {progress.rows_read:,} rows read"
        )
        sys.stderr.flush()

    def _report_text(self, batch) -> str:
        title = f"Import {batch.pk} of {batch.source_name} ({batch.format}): {batch.status}"
        if batch.options.get("dry_run"):
            title += " (dry run: nothing was saved)"
        return f"{title}\n{report_as_text(batch.report)}\n"
