"""python manage.py publish RUN_ID | --best [--top-n N]"""

from django.core.management.base import BaseCommand, CommandError

from recommender import publishing


class Command(BaseCommand):
    help = "Publish a trained model run: every listener's suggestions, switched on at once."

    def add_arguments(self, parser):
        parser.add_argument("run_id", nargs="?", type=int, help="the ModelRun to publish")
        parser.add_argument(
            "--best",
            action="store_true",
            help=(
                "the latest finished evaluation's candidate as it was evaluated: a trained run "
                "of exactly its algorithm, parameters, level and weighting (one trained on the "
                "evaluation's snapshot first); if there is none, one is trained now with "
                "exactly those on the evaluation's snapshot, then published"
            ),
        )
        parser.add_argument("--top-n", type=int, default=None, help="suggestions per listener")

    def handle(self, *args, **options):
        if bool(options["run_id"]) == bool(options["best"]):
            raise CommandError("give a RUN_ID or --best (one of them)")
        try:
            run = (
                publishing.best_run(on_progress=lambda step: self.stdout.write(f"train: {step}"))
                if options["best"]
                else None
            )
            run_id = run.pk if run else options["run_id"]

            def progress(step: str, fraction: float) -> None:
                self.stdout.write(f"[{fraction:4.0%}] {step}")

            published = publishing.publish(
                run_id=run_id, top_n=options["top_n"], on_progress=progress
            )
        except publishing.PublishError as error:
            raise CommandError(str(error)) from error
        timings = ", ".join(f"{k} {v:.1f}s" for k, v in published.timings.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"set {published.pk} of run {run_id} is active: {published.listeners_count:,} "
                f"listeners ({timings})"
            )
        )
