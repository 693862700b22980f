"""Publishing benchmark: every listener's suggestions for 100k listeners over 50k songs.

    .venv/bin/python benchmarks/publish.py [--listeners 100000] [--songs 50000]
        [--listens 3000000] [--algorithm als] [--rebuild]

The first run generates Last.fm-1K-like scrobbles for that many listeners and songs with
the project's generator, imports them and trains the model (ALS, 64 factors, by default)
in fresh processes; later runs reuse the database and the newest trained run. Publishing
then runs in a fresh process, as the Celery task would: 50 songs per listener with
reasons, the artist lists rolled up from them, every song's and artist's similar items,
written with COPY and activated. Prints the seconds per step, listeners per second and the
process's peak memory. Target (issue 7): under 60 s.

Uses DATABASE_URL, default postgres://postgres@127.0.0.1:5432/musicsite_bench_serve.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from explore import build as build_listens
from ingest import django_setup, ensure_database, peak_rss_mb, run_child

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_serve"
ARTIFACTS = Path(tempfile.gettempdir()) / "musicsite-bench-artifacts"
ENV = {"RECOMMENDER_ARTIFACT_DIR": str(ARTIFACTS)}


def build(listeners: int, songs: int, listens: int) -> dict:
    """Generate and import the scrobbles into an empty database (clean: no dirt)."""
    return build_listens(listens, listeners=listeners, songs=songs, seed=11, dirt=0.0)


def train(algorithm: str) -> dict:
    django_setup()
    from musicsite.jobs import JobStatus
    from recommender.training import model_run_create, model_run_train

    run = model_run_create(algorithm=algorithm, level="song")
    run = model_run_train(run_id=run.pk)
    assert run.status == JobStatus.SUCCEEDED, run.error
    return {
        "run": run.pk,
        "fit_seconds": run.timings["fit_seconds"],
        "shape": [run.n_listeners, run.n_items],
    }


def publish_once(run_id: int) -> dict:
    django_setup()
    from recommender.publishing import publish

    started = time.perf_counter()
    published = publish(run_id=run_id, top_n=50)
    return {
        "seconds": time.perf_counter() - started,
        "listeners": published.listeners_count,
        "timings": published.timings,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=100_000)
    parser.add_argument("--songs", type=int, default=50_000)
    parser.add_argument("--listens", type=int, default=3_000_000)
    parser.add_argument("--algorithm", default="als")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--publish", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.update(ENV)
    if args.build:
        print(json.dumps(build(*args.build)))
        return
    if args.train:
        print(json.dumps(train(args.train)))
        return
    if args.publish:
        print(json.dumps(publish_once(args.publish)))
        return

    ensure_database()
    django_setup()
    from listening.models import Listener
    from musicsite.jobs import JobStatus
    from recommender.models import ModelRun

    if args.rebuild or Listener.objects.count() < args.listeners * 0.9:
        built = run_child(
            __file__, "--build", str(args.listeners), str(args.songs), str(args.listens)
        )
        print(f"built: {built['loaded']:,} listens imported in {built['import_seconds']:.0f} s")
    run = (
        ModelRun.objects.filter(status=JobStatus.SUCCEEDED, algorithm=args.algorithm, level="song")
        .order_by("-pk")
        .first()
    )
    if run is None or args.rebuild or not (ARTIFACTS / run.artifact).exists():
        trained = run_child(__file__, "--train", args.algorithm)
        print(
            f"trained {args.algorithm} run {trained['run']} on {trained['shape']} "
            f"in {trained['fit_seconds']:.0f} s"
        )
        run_id = trained["run"]
    else:
        run_id = run.pk
    result = run_child(__file__, "--publish", str(run_id))
    steps = ", ".join(
        f"{name.removesuffix('_seconds')} {value:.1f} s"
        for name, value in result["timings"].items()
        if name.endswith("_seconds")
    )
    print(
        f"published run {run_id} ({args.algorithm}) for {result['listeners']:,} listeners "
        f"x 50 songs: {result['seconds']:.1f} s (target < 60 s), "
        f"{result['listeners'] / result['seconds']:,.0f} listeners/s, "
        f"peak RSS {result['peak_rss_mb']:,.0f} MB\n  steps: {steps}"
    )


if __name__ == "__main__":
    main()
