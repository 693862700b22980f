import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from recommender import algorithms
from recommender.data import LEVELS
from recommender.evaluation.protocol import SPLITS, Protocol
from recommender.evaluations import evaluation_create, evaluation_run
from recommender.management.commands.train import parse_value

DEFAULT_ALGORITHMS = "popularity,item_knn,rp3beta,als,bpr,ease"
COLUMNS = ("precision", "recall", "f1", "map", "ndcg")


def parse_params(pairs: list[str], names: list[str]) -> dict[str, dict]:
    """`als.factors=128` -> {"als": {"factors": 128}} for the named algorithms."""
    params: dict[str, dict] = {name: {} for name in names}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        algorithm, dot, name = target.partition(".")
        if not sep or not dot or algorithm not in params:
            raise CommandError(f"--param: expected algorithm.name=value for one of {names}")
        params[algorithm][name] = parse_value(value)
    return params


class Command(BaseCommand):
    help = "Train each named algorithm on a split of the listening data and compare them."

    def add_arguments(self, parser):
        parser.add_argument("--algorithms", default=DEFAULT_ALGORITHMS)
        parser.add_argument("--level", choices=LEVELS, default="song")
        parser.add_argument(
            "--split",
            choices=SPLITS,
            default="auto",
            help="auto (default): temporal when every listen has a time, else random",
        )
        parser.add_argument(
            "--last-n", type=int, default=1, help="items held out per listener by last_n"
        )
        parser.add_argument("--test-size", type=float, default=0.2)
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--k", default="10,20", help="cut-offs, e.g. 10,20")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--param", action="append", default=[], help="algorithm.name=value")
        parser.add_argument("--metric", default="ndcg@10", help="picks the candidate")
        parser.add_argument("--json", help="write the results as JSON to this file")

    def handle(self, *args, **options):
        names = [name.strip() for name in options["algorithms"].split(",") if name.strip()]
        unknown = [name for name in names if name not in algorithms.ALGORITHMS]
        if unknown:
            raise CommandError(
                f"unknown algorithms {unknown}; known: {', '.join(sorted(algorithms.ALGORITHMS))}"
            )
        params = parse_params(options["param"], names)
        try:
            protocol = Protocol(
                split=options["split"],
                test_fraction=options["test_size"],
                folds=options["folds"],
                last_n=options["last_n"],
                ks=tuple(int(k) for k in options["k"].split(",")),
                seed=options["seed"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        try:
            evaluation = evaluation_create(
                algorithm_params=params,
                level=options["level"],
                protocol=protocol,
                metric=options["metric"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        try:
            evaluation = evaluation_run(evaluation_id=evaluation.pk)
        except Exception:
            evaluation.refresh_from_db()
            raise CommandError(
                f"evaluation {evaluation.pk} failed: {evaluation.error.splitlines()[0]}"
            ) from None
        comparison = evaluation.results
        used = comparison["protocol"]
        self.stdout.write(f"Split {used['split']} ({used['split_reason']})")
        self.stdout.write(self._table(comparison, protocol.primary_k))
        self.stdout.write(
            f"Evaluation {evaluation.pk}: candidate {evaluation.candidate} by {evaluation.metric}"
        )
        if options["json"]:
            Path(options["json"]).write_text(json.dumps(comparison, indent=2))
            self.stdout.write(f"Wrote {options['json']}")

    @staticmethod
    def _table(comparison: dict, k: int) -> str:
        header = f"{'algorithm':<14}" + "".join(f"{name + '@' + str(k):>14}" for name in COLUMNS)
        header += f"{'coverage':>10}{'fit s':>8}"
        lines = [header]
        for label, result in comparison["results"].items():
            values = "".join(f"{result[f'{name}@{k}']:>14.4f}" for name in COLUMNS)
            lines.append(
                f"{label:<14}{values}{result['coverage']:>10.3f}{result['fit_seconds']:>8.1f}"
            )
            if "mae" in result:
                lines.append(f"{'':<14}MAE {result['mae']:.3f}  RMSE {result['rmse']:.3f}")
        return "\n".join(lines)
