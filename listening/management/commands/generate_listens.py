from django.core.management.base import BaseCommand, CommandError

from listening.generator import FORMATS, generate, manifest_path


class Command(BaseCommand):
    help = (
        "Generate realistic listening data in an import format, optionally with a known "
        "share of dirty rows; writes OUT and OUT.manifest.json."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", help="the file to write")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument("--listeners", type=int, required=True)
        parser.add_argument("--songs", type=int, required=True)
        parser.add_argument("--listens", type=int, required=True)
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument(
            "--dirt", type=float, default=0.0, help="share of dirty rows to add (default 0)"
        )

    def handle(self, *args, out, fmt, listeners, songs, listens, seed, dirt, **options):
        try:
            manifest = generate(
                out,
                fmt,
                n_listeners=listeners,
                n_songs=songs,
                n_listens=listens,
                seed=seed,
                dirt=dirt,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{out}: {manifest['rows_written']:,} rows ({manifest['clean_rows']:,} clean) "
            f"in {manifest['generator_seconds']:.1f} s; manifest {manifest_path(out)}"
        )
        dirt_counts = {k: v for k, v in manifest["dirt"].items() if v}
        if manifest["bot_listener_rows"]:
            dirt_counts["bot_listener"] = manifest["bot_listener_rows"]
        if manifest["skip"]:
            dirt_counts["skip (natural)"] = manifest["skip"]
        for rule, count in dirt_counts.items():
            self.stdout.write(f"  {rule}: {count:,}")
