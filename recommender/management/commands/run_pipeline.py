"""python manage.py run_pipeline [--algorithms a,b,c] [--level song|artist] [--metric ndcg@10]
[--queue]"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from recommender import pipeline, tasks


class Command(BaseCommand):
    help = (
        "Snapshot, explore, evaluate the candidates on that snapshot, train the best on it and "
        "publish it if it beats the active set: in this process, or queued for the workers "
        "(--queue)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--algorithms", default=",".join(pipeline.DEFAULT_ALGORITHMS))
        parser.add_argument("--level", default="song", choices=["song", "artist"])
        parser.add_argument("--metric", default="ndcg@10")
        parser.add_argument("--queue", action="store_true", help="run it on a Celery worker")

    def handle(self, *args, **options):
        names = [name.strip() for name in options["algorithms"].split(",") if name.strip()]
        try:
            run = pipeline.pipeline_create(
                algorithm_names=names, level=options["level"], metric=options["metric"]
            )
        except (pipeline.PipelineBusy, ValidationError) as error:
            raise CommandError(str(error)) from error
        if options["queue"]:
            tasks.pipeline_run.delay_on_commit(run.pk)
            self.stdout.write(f"pipeline {run.pk} queued; watch it in the admin")
            return
        run = pipeline.pipeline_run(
            run_id=run.pk, on_progress=lambda step: self.stdout.write(f"pipeline {run.pk}: {step}")
        )
        for name in pipeline.STEPS:  # in order: the row's JSON keeps no key order
            step = run.steps[name]
            self.stdout.write(f"  {name:9} {step['status']:9} {step.get('seconds', 0):7.1f} s")
        self.stdout.write(self.style.SUCCESS(f"pipeline {run.pk} {run.status}: {run.decision}"))
