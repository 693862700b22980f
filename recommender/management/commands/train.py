import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from recommender.data import LEVELS
from recommender.tasks import model_search_start
from recommender.training import model_run_create, model_run_train


def parse_value(text: str):
    """'64' -> 64, '0.5' -> 0.5, 'cosine' -> 'cosine', 'true' -> True (JSON where it parses)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_pairs(pairs: list[str], *, lists: bool = False) -> dict:
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CommandError(f"expected name=value, got {pair!r}")
        parsed[name] = [parse_value(v) for v in value.split(",")] if lists else parse_value(value)
    return parsed


class Command(BaseCommand):
    help = "Train a recommendation model on the listening data (or search a small grid)."

    def add_arguments(self, parser):
        parser.add_argument("algorithm")
        parser.add_argument("--level", choices=LEVELS, default="song")
        parser.add_argument("--param", action="append", default=[], help="name=value")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--weighting", default="log", help="raw, log or bm25")
        parser.add_argument("--alpha", type=float, default=1.0, help="confidence scale")
        parser.add_argument(
            "--half-life-days",
            type=float,
            help="weigh each play by 0.5 ** (age / half-life): recent listening counts more",
        )
        parser.add_argument(
            "--grid", action="append", default=[], help="name=v1,v2,...: search these values"
        )

    def handle(self, *args, **options):
        params = parse_pairs(options["param"])
        weighting = {"scheme": options["weighting"], "alpha": options["alpha"]}
        if options["half_life_days"]:
            weighting["half_life_days"] = options["half_life_days"]
        try:
            if options["grid"]:
                runs = model_search_start(
                    algorithm=options["algorithm"],
                    space=parse_pairs(options["grid"], lists=True),
                    base_params=params,
                    level=options["level"],
                    seed=options["seed"],
                    weighting=weighting,
                )
                self.stdout.write(f"Queued {len(runs)} trials: runs {[run.pk for run in runs]}")
                return
            run = model_run_create(
                algorithm=options["algorithm"],
                params=params,
                level=options["level"],
                seed=options["seed"],
                weighting=weighting,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        try:
            run = model_run_train(run_id=run.pk, on_progress=self._say)
        except Exception:
            run.refresh_from_db()
            raise CommandError(f"run {run.pk} failed: {run.error.splitlines()[0]}") from None
        times = ", ".join(
            f"{name.removesuffix('_seconds')} {value:.1f} s" for name, value in run.timings.items()
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Run {run.pk}: {run.algorithm} at {run.level} level on {run.n_listeners:,}"
                f" listeners x {run.n_items:,} items ({times}); saved in {run.artifact}"
            )
        )

    def _say(self, step: str) -> None:
        sys.stderr.write(f"  {step}\n")
