"""Publishing benchmark: every listener's suggestions for 100k listeners over 50k songs.

    .venv/bin/python benchmarks/publish.py [--listeners 100000] [--songs 50000]
        [--listens 3000000] [--algorithm als] [--rebuild]
        [--compare-with DIR] [--workers 2] [--rounds 1]

The first run generates Last.fm-1K-like scrobbles for that many listeners and songs with
the project's generator, imports them and trains the model (ALS, 64 factors, by default)
in fresh processes; later runs reuse the database and the newest trained run. Publishing
then runs in a fresh process, as the Celery task would in-process: 50 songs per listener
with reasons, the artist lists rolled up from them, every song's and artist's similar
items, written with COPY in listener blocks one after another, and activated. Prints the
seconds per step, listeners per second and the process's peak memory. Target (issue 7):
under 60 s.

`--compare-with DIR` also publishes the same run with the code checked out in DIR (e.g.
`git archive main | tar -x -C DIR`), in the same run, first: the before of a change.
`--workers N` also publishes it on a real Celery worker of N prefork processes (needs
REDIS_URL): prepared in one, its blocks a chord across all N, timed from sending the task
to its result. `--rounds` repeats the whole comparison, to see the noise.

    .venv/bin/python benchmarks/publish.py --rank-at 384000 [--block 10000]

ranks one listener block (`listener_lists.lists_build`: 200 songs each, reasons for 50,
the artist roll-up) with an ALS model of 64 factors over that many songs, fitted on random
listening, without a database: what one block costs at the Taste Profile's catalogue
(the 100k benchmark's catalogue is 47k songs), to extrapolate a 1M-listener publication.

Uses DATABASE_URL, default postgres://postgres@127.0.0.1:5432/musicsite_bench_serve; the
model artifacts are kept per database under the temporary directory.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from explore import build as build_listens
from ingest import (
    PRODUCTION,
    ROOT,
    child_processes,
    django_setup,
    ensure_database,
    peak_rss_mb,
    run_child,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_serve"
TOP_N = 50

# Another checkout's code publishing run `argv[2]`, in a process of its own (its own
# benchmark script may not take the same arguments, or may not exist).
PUBLISH_WITH = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
import django
django.setup()
from recommender.publishing import publish
started = time.perf_counter()
published = publish(run_id=int(sys.argv[2]), top_n=int(sys.argv[3]))
seconds = time.perf_counter() - started
peak = next(int(line.split()[1]) / 1024 for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "listeners": published.listeners_count,
                  "timings": published.timings, "peak_rss_mb": peak}))
"""


def artifacts() -> Path:
    """Per database: runs of another database must not be taken for this one's."""
    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    return Path(tempfile.gettempdir()) / "musicsite-bench-artifacts" / name


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
    published = publish(run_id=run_id, top_n=TOP_N)
    return {
        "seconds": time.perf_counter() - started,
        "listeners": published.listeners_count,
        "timings": published.timings,
        "peak_rss_mb": peak_rss_mb(),
        "blocks": published.block_count,
    }


def publish_with(folder: str, run_id: int) -> dict:
    """The code in `folder` publishes the run, in a fresh process."""
    run = subprocess.run(
        [sys.executable, "-c", PUBLISH_WITH, folder, str(run_id), str(TOP_N)],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, **PRODUCTION, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if run.returncode:
        sys.exit(f"publishing with {folder} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def publish_on_workers(run_id: int, processes: int) -> dict:
    """A real worker of `processes` prefork processes publishes the run: the task prepares
    the set and becomes a chord of its blocks. Timed from sending to the result."""
    queue = f"bench-publish-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **PRODUCTION, "CELERY_TASK_DEFAULT_QUEUE": queue}
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    log = Path(tempfile.gettempdir()) / f"{queue}.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "musicsite", "worker", "-Q", queue,
             f"--concurrency={processes}", "--without-mingle", "--without-gossip",
             "--loglevel=WARNING", "-n", f"{queue}@localhost"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        result = run_child(__file__, "--send", str(run_id), CELERY_TASK_DEFAULT_QUEUE=queue)
        result["worker_peak_rss_mb"] = max(
            peak_rss_mb(pid) for pid in child_processes().get(worker.pid, [])
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.unlink(missing_ok=True)
    return result


def send(run_id: int) -> dict:
    """Once the worker answers, queue the publication and wait for it."""
    django_setup()
    from musicsite.celery import app
    from recommender.models import RecommendationSet
    from recommender.tasks import recommendation_set_publish

    node = f"{os.environ['CELERY_TASK_DEFAULT_QUEUE']}@localhost"
    while not app.control.ping(destination=[node], timeout=1.0):
        time.sleep(0.5)
    started = time.perf_counter()
    set_id = recommendation_set_publish.delay(run_id, TOP_N).get(timeout=3600)
    seconds = time.perf_counter() - started
    published = RecommendationSet.objects.get(pk=set_id)
    return {
        "seconds": seconds,
        "listeners": published.listeners_count,
        "timings": published.timings,
        "blocks": published.block_count,
        "wall_seconds": (published.activated_at - published.created_at).total_seconds(),
    }


def rank_at(n_items: int, block: int, plays_per_listener: int = 48) -> dict:
    """One block of `block` listeners ranked over `n_items` songs (see the module doc)."""
    import numpy as np
    import scipy.sparse as sp

    sys.path.insert(0, str(ROOT))
    from recommender import algorithms
    from recommender.listener_lists import ArtistMap, depth_of, lists_build

    rng = np.random.default_rng(3)
    n_train = 4 * block

    def listening(n_rows: int) -> sp.csr_matrix:
        # Power-law song popularity, as generated listening has (a few songs most played).
        songs = (rng.pareto(1.2, n_rows * plays_per_listener) * n_items / 50).astype(np.int64)
        rows = np.repeat(np.arange(n_rows), plays_per_listener)
        plays = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, songs % n_items)), shape=(n_rows, n_items)
        )
        plays.data = np.log1p(plays.data)
        return plays

    started = time.perf_counter()
    model = algorithms.create("als", factors=64, iterations=3).fit(listening(n_train))
    fitted = time.perf_counter()
    rows = listening(block)
    n_artists = n_items // 8
    artists = ArtistMap(
        rng.integers(0, n_artists, n_items), n_artists, sp.csr_matrix((block, n_artists))
    )
    lists = lists_build(
        model,
        rows,
        known_rows=np.full(block, -1),
        excluded=sp.csr_matrix(rows.shape, dtype=np.float32),
        neighbours=lambda seeds: sp.csr_matrix((n_items, n_items), dtype=np.float32),
        chart=(np.arange(TOP_N), np.ones(TOP_N, np.float32)),
        top_n=TOP_N,
        depth=depth_of("song", TOP_N),
        artists=artists,
    )
    ranked = time.perf_counter()
    assert (lists.items.items[:, 0] >= 0).all()
    return {
        "items": n_items,
        "block": block,
        "fit_seconds": fitted - started,
        "rank_seconds": ranked - fitted,
        "peak_rss_mb": peak_rss_mb(),
    }


def report(label: str, result: dict) -> str:
    steps = ", ".join(
        f"{name.removesuffix('_seconds')} {value:.1f} s"
        for name, value in result["timings"].items()
        if name.endswith("_seconds")
    )
    memory = result.get("peak_rss_mb") or result.get("worker_peak_rss_mb")
    return (
        f"{label}: {result['seconds']:.1f} s for {result['listeners']:,} listeners x {TOP_N} "
        f"songs, {result['listeners'] / result['seconds']:,.0f} listeners/s, "
        f"peak RSS {memory:,.0f} MB"
        + (f", {result['blocks']} blocks" if result.get("blocks") else "")
        + f"\n  steps: {steps}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=100_000)
    parser.add_argument("--songs", type=int, default=50_000)
    parser.add_argument("--listens", type=int, default=3_000_000)
    parser.add_argument("--algorithm", default="als")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--compare-with", help="a checkout of the code before, to run first")
    parser.add_argument("--workers", type=int, default=0, help="also on N worker processes")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rank-at", type=int, help="rank one block over this many songs")
    parser.add_argument("--block", type=int, default=10_000, help="listeners, with --rank-at")
    parser.add_argument("--build", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--publish", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--send", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ["RECOMMENDER_ARTIFACT_DIR"] = str(artifacts())
    if args.build:
        print(json.dumps(build(*args.build)))
        return
    if args.train:
        print(json.dumps(train(args.train)))
        return
    if args.publish:
        print(json.dumps(publish_once(args.publish)))
        return
    if args.send:
        print(json.dumps(send(args.send)))
        return
    if args.rank_at:
        result = rank_at(args.rank_at, args.block)
        print(
            f"one block of {result['block']:,} listeners over {result['items']:,} songs "
            f"(ALS, 64 factors): ranked in {result['rank_seconds']:.1f} s, "
            f"{result['block'] / result['rank_seconds']:,.0f} listeners/s; "
            f"peak RSS {result['peak_rss_mb']:,.0f} MB"
        )
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
    if run is None or args.rebuild or not (artifacts() / run.artifact).exists():
        trained = run_child(__file__, "--train", args.algorithm)
        print(
            f"trained {args.algorithm} run {trained['run']} on {trained['shape']} "
            f"in {trained['fit_seconds']:.0f} s"
        )
        run_id = trained["run"]
    else:
        run_id = run.pk
    print(f"publishing run {run_id} ({args.algorithm}), target < 60 s in one process")
    for round_ in range(1, args.rounds + 1):
        before = None
        if args.compare_with:
            before = publish_with(args.compare_with, run_id)
            print(report(f"[{round_}] before ({args.compare_with})", before))
        after = run_child(__file__, "--publish", str(run_id))
        print(report(f"[{round_}] after, in-process blocks", after))
        if before:
            print(f"[{round_}] after / before: {after['seconds'] / before['seconds']:.2f}")
        if args.workers:
            workers = publish_on_workers(run_id, args.workers)
            print(report(f"[{round_}] after, chord on {args.workers} worker processes", workers))
            print(
                f"[{round_}] {args.workers} workers / in-process: "
                f"{workers['seconds'] / after['seconds']:.2f}"
            )


if __name__ == "__main__":
    main()
