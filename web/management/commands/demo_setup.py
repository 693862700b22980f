from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count

from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from listening.models import ImportBatch, Listener
from listening.services import account_create
from musicsite.jobs import JobStatus
from recommender.models import RecommendationSet, SetStatus
from recommender.pipeline import pipeline_create, pipeline_run

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "listen-to-more-music"
DEMO_FILE = "demo-scrobbles.tsv"


class Command(BaseCommand):
    help = (
        "Load generated demo listening data (once) and create or reset the demo login, a "
        "staff account whose listener has a rich history; print how to sign in."
    )

    def add_arguments(self, parser):
        parser.add_argument("--listeners", type=int, default=2_000)
        parser.add_argument("--songs", type=int, default=3_000)
        parser.add_argument("--listens", type=int, default=150_000)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--no-data", action="store_true", help="only the demo login")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup makes a login with a published password: DEBUG only.")
        if not options["no_data"]:
            self._load_demo_data(options)
            self._publish_suggestions()
        user = self._demo_user()
        listener = Listener.objects.for_user(user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: username '{DEMO_USERNAME}', password '{DEMO_PASSWORD}' "
                f"(listener '{listener}', {listener.listens.count():,} listens). "
                "Admin: /admin/ on the site's address (http://127.0.0.1:8000 for `make demo`)."
            )
        )

    def _publish_suggestions(self) -> None:
        """Run the whole pipeline once (in this process), unless a set is already active."""
        if RecommendationSet.objects.filter(status=SetStatus.ACTIVE).exists():
            self.stdout.write("Suggestions are already published.")
            return
        run = pipeline_create()
        run = pipeline_run(
            run_id=run.pk, on_progress=lambda step: self.stdout.write(f"pipeline: {step}")
        )
        self.stdout.write(
            f"Pipeline {run.pk}: {run.decision}. See it in the admin (Recommender → Pipeline "
            "runs), the evaluation at /staff/evaluations/, suggestions at / and "
            "/api/v1/me/recommendations/"
        )

    def _load_demo_data(self, options) -> None:
        done = ImportBatch.objects.filter(
            source_name__endswith=DEMO_FILE, status=JobStatus.SUCCEEDED
        ).exists()
        if done:
            self.stdout.write("Demo listening data is already loaded.")
            return
        folder = settings.VAR_DIR / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / DEMO_FILE
        manifest = generate(
            path,
            "lastfm-1k",
            n_listeners=options["listeners"],
            n_songs=options["songs"],
            n_listens=options["listens"],
            seed=options["seed"],
            dirt=0.02,
        )
        self.stdout.write(f"Generated {manifest['rows_written']:,} scrobbles into {path}")
        batch = listen_import_create(path=path, format="lastfm-1k")
        batch = listen_import_run(batch_id=batch.pk)
        if batch.status != JobStatus.SUCCEEDED:
            raise CommandError(f"the demo import failed: {batch.error}")
        self.stdout.write(
            f"Imported {batch.rows_loaded:,} listens ({batch.rows_rejected:,} rows rejected "
            f"by cleaning; see the import's report in the admin)."
        )

    @transaction.atomic
    def _demo_user(self):
        user = get_user_model().objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = account_create(username=DEMO_USERNAME, password=DEMO_PASSWORD, is_staff=True)
        else:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = user.is_superuser = True
            user.save()
        self._give_history(user)
        return user

    def _give_history(self, user) -> None:
        """Let the demo account be the busiest imported listener, so its pages are rich."""
        current = Listener.objects.for_user(user)
        if current.listens.exists():
            return
        busiest = (
            Listener.objects.filter(user__isnull=True, is_flagged=False)
            .annotate(plays=Count("listens"))
            .filter(plays__gt=0)
            .order_by("-plays")
            .first()
        )
        if busiest is None:
            return
        current.delete()
        busiest.user = user
        busiest.save(update_fields=["user"])
