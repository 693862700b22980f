"""Scale benchmark: a Taste-Profile-sized catalogue from file to served suggestions.

    .venv/bin/python benchmarks/scale.py [--listeners 1000000 --songs 384000 --plays 48000000]
        [--scale F] [--database musicsite_scale] [--readers 10000] [--seconds 10]

Generates Taste Profile triplets (user, song, play count, and the songs' CSV) with the
product's generator, imports them with the import service, runs the whole pipeline
(snapshot, exploration, evaluation of the default candidates, training of the winner,
publication of every listener) with the pipeline service, then serves the site with gunicorn
(2 workers) on 127.0.0.1 and measures, in the same run: cold reads of the recommendations
endpoint (each sampled listener read once, the first read after the publication, with an
API token each; the sampled listeners sign up between the import and the pipeline, as a
site's listeners have accounts before a nightly publication), the trivial `/healthz` view,
and warm reads of the same listeners. `--scale 0.1` is the same at a tenth of the
listeners, songs and plays.

Every step runs in a fresh process as a worker would; the benchmark samples the resident
memory of itself and every process under it (the import, the pipeline, gunicorn, Celery
workers; not PostgreSQL or Redis, which are services) and prints each step's seconds and
peak. The total runs from the start of the import to the end of the publication
(generation and the readers' sign-up excluded). Load comes from wrk, or, where wrk is not
installed, from a small Python client (which then drives both the cold and the trivial
reads, so the ratio compares like with like; the line before the last says which).

Backends: with DATABASE_URL (PostgreSQL) the benchmark drops and creates `--database` on
that server; with REDIS_URL it uses Redis as the cache and broker under a key prefix and
queue of its own (nothing else in that db is touched), and starts `--workers` Celery worker
processes for whatever the pipeline queues. Without them it runs the embedded default
(SQLite in a temporary folder, tasks in-process). The last line is always:

    scale: L listeners, S songs, P plays: total T s, peak RSS M MB, published K lists,
    cold reads R% of trivial   (on one line)

    .venv/bin/python benchmarks/scale.py --keep DIR --step import|tokens|pipeline|reads

runs one step at a time on DIR's database (the full size in parts, each step a JSON line:
its seconds, the peak RSS of its process tree, what it reported); `import` creates the
database and saves the environment the later steps continue with in DIR.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import scale_reads
from ingest import PRODUCTION, ROOT, child_processes, django_setup, peak_rss_mb

FULL = {"listeners": 1_000_000, "songs": 384_000, "plays": 48_000_000}
# The generator writes one triplet per distinct (listener, song) of its plays: about 0.6
# per play at the Taste Profile's density (measured), corrected after a first try.
PAIRS_PER_PLAY = 0.6
SEED = 18


# -- memory: the whole process tree, sampled -------------------------------------------------


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, summed (shared pages count once
    per process: an upper bound, which is what a memory budget needs)."""
    tree, todo, total = child_processes(), [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class MemorySampler:
    """Samples this process tree's memory every `interval` seconds; the peak per step."""

    def __init__(self, interval: float = 0.25):
        self.interval, self.step, self.peaks = interval, "setup", {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.record()

    def record(self) -> None:
        rss = tree_rss_mb(os.getpid())
        self.peaks[self.step] = max(self.peaks.get(self.step, 0.0), rss)

    def enter(self, step: str) -> None:
        self.record()
        self.step = step

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.record()


# -- the child processes' work ------------------------------------------------------------------


def generate_files(folder: Path, listeners: int, songs: int, plays: int) -> dict:
    """Write the triplets (about `plays` rows) and the songs' CSV; return the manifest."""
    sys.path.insert(0, str(ROOT))
    from listening.generator import generate

    path = folder / "train_triplets.txt"
    kept = _kept_manifest(path, listeners, songs, plays)
    if kept is not None:  # the same sizes and seed give the same bytes: reuse them
        return {"path": str(path), "rows": kept["rows_written"], "reused": True,
                "mb": path.stat().st_size / 2**20, "peak_rss_mb": peak_rss_mb()}  # fmt: skip
    listens = round(plays / PAIRS_PER_PLAY)
    for _ in range(4):  # later tries correct the pairs-per-play guess
        manifest = generate(
            path,
            "taste-profile",
            n_listeners=listeners,
            n_songs=songs,
            n_listens=listens,
            seed=SEED,
        )
        if abs(manifest["rows_written"] - plays) <= 0.02 * plays:
            break
        listens = round(listens * plays / max(manifest["rows_written"], 1))
    return {
        "path": str(path),
        "rows": manifest["rows_written"],
        "mb": path.stat().st_size / 2**20,
        "peak_rss_mb": peak_rss_mb(),
    }


def _kept_manifest(path: Path, listeners: int, songs: int, plays: int) -> dict | None:
    """The manifest of a file `--keep` left from a run of the same sizes, else None."""
    sys.path.insert(0, str(ROOT))
    from listening.generator import manifest_path

    try:
        manifest = json.loads(manifest_path(path).read_text())
    except (OSError, ValueError):
        return None
    same = (manifest.get("listeners"), manifest.get("songs"), manifest.get("seed")) == (
        listeners, songs, SEED)  # fmt: skip
    close = abs(manifest.get("rows_written", 0) - plays) <= 0.02 * plays
    return manifest if same and close and path.exists() else None


def import_file(path: str) -> dict:
    django_setup()
    from catalog.models import Song
    from listening.generator import songs_path
    from listening.listen_import import listen_import_create, listen_import_run
    from listening.models import Listener
    from musicsite.jobs import JobStatus

    batch = listen_import_create(
        path=path, format="taste-profile", options={"songs_path": str(songs_path(path))}
    )
    batch = listen_import_run(batch_id=batch.pk)
    if batch.status != JobStatus.SUCCEEDED:
        sys.exit(f"import {batch.status}: {batch.error}")
    return {
        "plays": batch.rows_loaded,
        "listeners": Listener.objects.count(),
        "songs": Song.objects.count(),
        "peak_rss_mb": peak_rss_mb(),
    }


def run_pipeline() -> dict:
    """The pipeline in this process; each step's name on its own line as it starts."""
    django_setup()
    from recommender.pipeline import STEPS, pipeline_create, pipeline_run

    run = pipeline_create()
    run = pipeline_run(run_id=run.pk, on_progress=lambda step: print(f"step {step}", flush=True))
    if run.status != "succeeded" or run.published_set is None:
        sys.exit(f"pipeline {run.status}: {run.error or run.decision}")
    return {
        "steps": {name: run.steps[name].get("seconds") for name in STEPS},
        "figures": {name: run.steps[name].get("figures", {}) for name in STEPS},
        "published": run.published_set.listeners_count,
        "decision": run.decision,
        "peak_rss_mb": peak_rss_mb(),
    }


def make_tokens(count: int, tokens_file: str) -> dict:
    """Tokens of `count` listeners, each with the entry a sign-in leaves
    (web.fast_reads.remember_new_token runs on knox's post_save, which the bulk_create of
    give_accounts does not send): the cold reads are then signed-in listeners' first reads
    after the publication, not reads with a token nobody signed in with."""
    from serve import give_accounts

    tokens = give_accounts(count, Path(tokens_file))  # sets Django up
    from knox.crypto import hash_token
    from knox.models import AuthToken

    from web import fast_reads

    rows = AuthToken.objects.filter(digest__in=[hash_token(token) for token in tokens])
    fast_reads.tokens_remember(rows.values_list("digest", "user_id", "expiry", "user__listener"))
    return {"tokens": len(tokens)}


# -- the parent: databases, processes, steps ---------------------------------------------------


def prepare_backend(args: argparse.Namespace, folder: Path) -> dict[str, str]:
    """The environment every child runs with: a fresh database, the benchmark's own cache
    prefix and queue, its own artifacts and media folders."""
    env = {
        **PRODUCTION,
        "RECOMMENDER_ARTIFACT_DIR": str(folder / "artifacts"),
        "MEDIA_ROOT": str(folder / "media"),
        "CACHE_KEY_PREFIX": f"scale-{uuid.uuid4().hex[:8]}",
        "CELERY_TASK_DEFAULT_QUEUE": f"scale-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
    }
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        server, name = url.rsplit("/", 1)[0], args.database
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{server}/{name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{folder / 'scale.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        check=True,
        env={**os.environ, **env},
    )
    return env


def child(mode: str, *values: str, env: dict[str, str], sampler: MemorySampler) -> dict:
    """Run this script's `--mode values` in a fresh process; each `step NAME` line it prints
    moves the memory sampler to that step. Returns the JSON it prints last."""
    process = subprocess.Popen(
        [sys.executable, __file__, f"--{mode}", *values],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    last = ""
    for line in process.stdout:
        if line.startswith("step "):
            sampler.enter(line.split()[1].rstrip(":"))
        elif line.strip():
            last = line
    if process.wait():
        sys.exit(f"scale.py --{mode} failed (exit {process.returncode})")
    return json.loads(last)


def start_workers(count: int, env: dict[str, str], log: Path) -> subprocess.Popen | None:
    """A Celery worker (`count` processes) on the benchmark's queue, when there is a broker."""
    if not count or not env["REDIS_URL"]:
        return None
    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "musicsite", "worker"),
            *(f"--concurrency={count}", "--loglevel=WARNING", "--without-mingle"),
            *("--without-gossip", "-Q", queue, "-n", f"{queue}@localhost"),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sizes(args: argparse.Namespace) -> tuple[int, int, int]:
    return tuple(max(round(getattr(args, k) * args.scale), 1) for k in FULL)


STEPS_ALONE = ("import", "tokens", "pipeline", "reads")


def one_step(args: argparse.Namespace) -> dict:
    """One step of the benchmark on the `--keep` folder: "import" generates the file (or
    reuses it), creates the database and imports it, saving the environment beside the
    file; the later steps continue on that database. Returns the step's seconds and peak
    RSS (the step's process tree) with what it reported."""
    folder = args.keep
    folder.mkdir(parents=True, exist_ok=True)
    saved = folder / "environment.json"
    sampler = MemorySampler()
    if args.step == "import":
        made = child("generate", str(folder), *map(str, sizes(args)), env={}, sampler=sampler)
        env = prepare_backend(args, folder)
        saved.write_text(json.dumps(env))
    else:
        env = json.loads(saved.read_text())
    sampler.enter(args.step)
    began = time.perf_counter()
    workers = (
        start_workers(args.workers, env, folder / "worker.log") if args.step == "pipeline" else None
    )
    try:
        if args.step == "import":
            result = child("import", made["path"], env=env, sampler=sampler)
        elif args.step == "tokens":
            tokens = str(folder / "tokens.txt")
            result = child("tokens", str(args.readers), tokens, env=env, sampler=sampler)
        elif args.step == "pipeline":
            result = child("pipeline", env=env, sampler=sampler)
        else:
            tokens = (folder / "tokens.txt").read_text().split()
            result = scale_reads.measure(
                tokens=tokens,
                env=env,
                folder=folder,
                seconds=args.seconds,
                connections=args.connections,
            )
            print(scale_reads.describe(result))
    finally:
        stop(workers)
        sampler.stop()
    seconds = time.perf_counter() - began
    return {
        "step": args.step,
        "seconds": round(seconds, 1),
        "peaks_mb": sampler.peaks,
        "result": result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in FULL.items():
        parser.add_argument(f"--{name}", type=int, default=value)
    parser.add_argument("--scale", type=float, default=1.0, help="times every size")
    parser.add_argument("--database", default="musicsite_scale", help="PostgreSQL only")
    parser.add_argument("--readers", type=int, default=10_000, help="listeners read cold")
    parser.add_argument("--seconds", type=int, default=10, help="of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="Celery processes (Redis)")
    parser.add_argument(
        "--keep", type=Path, help="keep the generated files in this folder (and reuse them)"
    )
    parser.add_argument(
        "--step",
        choices=STEPS_ALONE,
        help="run only this step, on the database of the --keep folder (a long run in parts)",
    )
    for mode in ("generate", "import", "pipeline", "tokens"):
        parser.add_argument(f"--{mode}", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        if args.keep is None:
            parser.error("--step needs --keep (the folder whose database it continues)")
        print(json.dumps(one_step(args), default=str))
        return
    work = {
        "generate": lambda v: generate_files(Path(v[0]), *map(int, v[1:])),
        "import": lambda v: import_file(v[0]),
        "pipeline": lambda v: run_pipeline(),
        "tokens": lambda v: make_tokens(int(v[0]), v[1]),
    }
    for mode, do in work.items():
        if getattr(args, mode) is not None:
            print(json.dumps(do(getattr(args, mode))))
            return

    listeners, songs, plays = sizes(args)
    with tempfile.TemporaryDirectory(prefix="scale-") as temporary:
        folder = Path(temporary)
        files = args.keep or folder
        files.mkdir(parents=True, exist_ok=True)
        env = prepare_backend(args, folder)
        backend = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
        print(
            f"{backend}{' + Redis' if env['REDIS_URL'] else ''}: {listeners:,} listeners, "
            f"{songs:,} songs, {plays:,} plays asked",
            flush=True,
        )
        sampler = MemorySampler()
        seconds: dict[str, float] = {}
        sampler.enter("generate")
        began = time.perf_counter()
        made = child("generate", str(files), *map(str, (listeners, songs, plays)), env=env,
                     sampler=sampler)  # fmt: skip
        seconds["generate"] = time.perf_counter() - began
        verb = "reused" if made.get("reused") else "generated"
        print(f"  {verb} {made['rows']:,} triplets ({made['mb']:,.0f} MB)", flush=True)

        workers = start_workers(args.workers, env, folder / "worker.log")
        try:
            sampler.enter("import")
            began = time.perf_counter()
            loaded = child("import", made["path"], env=env, sampler=sampler)
            seconds["import"] = time.perf_counter() - began
            print(f"  imported {loaded['plays']:,} plays", flush=True)
            # The readers sign up before the publication (not counted in the total): only a
            # listener with an account gets ready pages, as on the site.
            sampler.enter("tokens")
            readers = min(args.readers, loaded["listeners"])
            began = time.perf_counter()
            child("tokens", str(readers), str(folder / "tokens.txt"), env=env, sampler=sampler)
            seconds["tokens"] = time.perf_counter() - began
            sampler.enter("snapshot")
            began = time.perf_counter()
            piped = child("pipeline", env=env, sampler=sampler)
            seconds["pipeline"] = time.perf_counter() - began
        finally:
            stop(workers)
        total = seconds["import"] + seconds["pipeline"]
        sampler.enter("reads")
        began = time.perf_counter()
        reads = scale_reads.measure(
            tokens=(folder / "tokens.txt").read_text().split(),
            env=env,
            folder=folder,
            seconds=args.seconds,
            connections=args.connections,
        )
        seconds["reads"] = time.perf_counter() - began
        sampler.stop()
        if args.keep is None:
            shutil.rmtree(files / "artifacts", ignore_errors=True)

    peaks = sampler.peaks
    steps = [("generate", seconds["generate"]), ("import", seconds["import"])]
    steps += [("tokens", seconds["tokens"])]
    steps += [(name, value or 0.0) for name, value in piped["steps"].items()]
    steps += [("reads", seconds["reads"])]
    print(f"{'step':10} {'seconds':>9} {'peak RSS MB':>12}")
    for name, value in steps:
        print(f"{name:10} {value:9.1f} {peaks.get(name, 0.0):12,.0f}")
    overhead = seconds["pipeline"] - sum(v or 0.0 for v in piped["steps"].values())
    print(f"  (pipeline process start-up and bookkeeping: {overhead:.1f} s)")
    print(f"  evaluation: {piped['figures']['evaluate'].get('ndcg@10')}; {piped['decision']}")
    print(scale_reads.describe(reads))
    peak = max(value for name, value in peaks.items() if name not in ("setup", "generate"))
    print(
        f"scale: {loaded['listeners']:,} listeners, {loaded['songs']:,} songs, "
        f"{loaded['plays']:,} plays: total {total:.1f} s, peak RSS {peak:,.0f} MB, "
        f"published {piped['published']:,} lists, "
        f"cold reads {100 * reads['cold']['rate'] / reads['trivial']['rate']:.1f}% of trivial"
    )


if __name__ == "__main__":
    main()
