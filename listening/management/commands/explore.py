from pathlib import Path

from django.core.management.base import BaseCommand
from django.template.loader import render_to_string

from listening.exploration.report import exploration_report_create, exploration_report_run


class Command(BaseCommand):
    help = "Compute an exploration report of the listening data; optionally write it as HTML."

    def add_arguments(self, parser):
        parser.add_argument("--out", help="a folder to write a self-contained HTML report into")

    def handle(self, *args, **options):
        report = exploration_report_run(report_id=exploration_report_create().pk)
        size = report.figures["size"]
        self.stdout.write(
            f"Exploration report {report.pk}: {size['listens']:,} listens, "
            f"{size['listeners']:,} listeners, {size['songs']:,} songs, "
            f"{size['artists']:,} artists ({report.compute_seconds:.1f} s)"
        )
        for finding in report.findings:
            self.stdout.write(f"  - {finding}")
        if options["out"]:
            folder = Path(options["out"])
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"exploration-{report.pk}.html"
            path.write_text(
                render_to_string("listening/exploration_standalone.html", {"report": report}),
                encoding="utf-8",
            )
            self.stdout.write(self.style.SUCCESS(f"Wrote {path}"))
