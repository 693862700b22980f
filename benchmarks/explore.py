"""Exploration-report benchmark: the whole report on a 5M-listen PostgreSQL database.

    .venv/bin/python benchmarks/explore.py [--listens 5000000] [--rebuild]

The first run generates Last.fm 1K scrobbles with the project's generator (times, so every
habit figure is computed) and imports them; later runs reuse the database. The report then
runs in a fresh process, as the Celery task would, and the script prints its wall time and
the process's peak memory. Targets (issue 4): under 60 s and under 1 GB.

Uses DATABASE_URL, default postgres://postgres@127.0.0.1:5432/musicsite_bench_eda.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from ingest import django_setup, empty_listening_data, ensure_database, peak_rss_mb, run_child

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_eda"


def build(
    listens: int,
    *,
    listeners: int | None = None,
    songs: int | None = None,
    seed: int = 42,
    dirt: float = 0.01,
) -> dict:
    """Generate and import `listens` scrobbles into an empty database (by default 250
    listens per listener and 50 per song)."""
    django_setup()
    from django.db import connection

    from listening.generator import generate
    from listening.listen_import import listen_import_create, listen_import_run
    from musicsite.jobs import JobStatus

    empty_listening_data(connection)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scrobbles.tsv"
        generate(
            path,
            "lastfm-1k",
            n_listeners=listeners or max(listens // 250, 1),
            n_songs=songs or max(listens // 50, 1),
            n_listens=listens,
            seed=seed,
            dirt=dirt,
        )
        started = time.perf_counter()
        batch = listen_import_run(batch_id=listen_import_create(path=path).pk)
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    return {"loaded": batch.rows_loaded, "import_seconds": time.perf_counter() - started}


def report_once() -> dict:
    django_setup()
    from listening.exploration.report import exploration_report_create, exploration_report_run
    from musicsite.jobs import JobStatus

    started = time.perf_counter()
    report = exploration_report_run(report_id=exploration_report_create().pk)
    seconds = time.perf_counter() - started
    assert report.status == JobStatus.SUCCEEDED, report.error
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "listens": report.figures["size"]["listens"],
        "charts": len(report.charts),
        "findings": len(report.findings),
    }


def ensure_generated(script: str, listens: int, *, rebuild: bool) -> None:
    """Migrate the benchmark database and, unless it already holds about `listens` listens,
    fill it through `script --build N` (a fresh process running `build`)."""
    ensure_database()
    django_setup()
    from listening.models import Listen

    if rebuild or Listen.objects.count() < listens * 0.9:
        built = run_child(script, "--build", str(listens))
        print(f"built: {built['loaded']:,} listens imported in {built['import_seconds']:.0f} s")


def child(mode: str, *args: str) -> dict:
    return run_child(__file__, f"--{mode}", *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listens", type=int, default=5_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--report", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if args.build:
        print(json.dumps(build(int(args.build))))
        return
    if args.report:
        print(json.dumps(report_once()))
        return

    ensure_generated(__file__, args.listens, rebuild=args.rebuild)
    result = child("report")
    print(
        f"exploration report on {result['listens']:,} listens: {result['seconds']:.1f} s"
        f" (target < 60 s), peak RSS {result['peak_rss_mb']:.0f} MB (target < 1024 MB),"
        f" {result['charts']} charts, {result['findings']} findings"
    )


if __name__ == "__main__":
    main()
