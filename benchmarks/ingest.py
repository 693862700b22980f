"""Ingest benchmark: import Taste Profile files of 1M and 5M listens into PostgreSQL.

    .venv/bin/python benchmarks/ingest.py [--sizes 1000000 5000000] [--initial-load both]
        [--file train_triplets.txt]

For each size it writes a triplets file (user, song, play count), imports it with the real
import service (parse, clean, dedupe, load) in a fresh process, and prints listens/s and the
process's peak memory. Each import is into an empty table, so it is an initial bulk load
(indexes built after the COPY, listening/ingest/initial_load.py); `--initial-load both`
imports each file a second time with that turned off (indexes kept up to date row by row),
`off` only that way. `--file` imports a given Taste Profile file instead (with the songs' CSV
the generator writes beside it, `FILE.songs.csv`, if there is one), e.g. the one
benchmarks/scale.py --keep FOLDER generated. In the same run (not with `--file`) it times a
bare `COPY` of the same rows into a table indexed exactly like `listening_listen` (the
ceiling) and into an unindexed one.

Uses DATABASE_URL, default postgres://postgres@127.0.0.1:5432/musicsite_bench (created and
migrated if missing; its listening and catalogue tables are emptied before each import).
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench"
# Imports run as in production: with DEBUG on, Django would keep every query's SQL.
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "benchmark-only-" + "x" * 50}


def write_triplets(path: Path, rows: int, seed: int = 7) -> None:
    """`rows` distinct (user, song) pairs with power-law song popularity and small counts.

    Shaped like the real Taste Profile: 48M triplets of 1M users and 384k songs, i.e. about
    48 rows per user and 125 per song.
    """
    rng = np.random.default_rng(seed)
    n_users, n_songs = max(rows // 48, 1), max(rows // 125, 1)
    pairs = np.empty(0, dtype=np.int64)
    while pairs.size < rows:
        users = rng.integers(0, n_users, rows)
        songs = np.minimum(rng.zipf(1.3, rows) - 1, n_songs - 1)
        pairs = np.unique(np.concatenate([pairs, users * n_songs + songs]))
    pairs = rng.permutation(pairs)[:rows]
    frame = pd.DataFrame(
        {
            "user": [f"{u:040x}" for u in (pairs // n_songs)],
            "song": [f"SO{s:016X}" for s in (pairs % n_songs)],
            "plays": rng.geometric(0.35, rows),
        }
    )
    frame.to_csv(path, sep="\t", header=False, index=False)


def django_setup() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database() -> None:
    import psycopg

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "DATABASE_URL": url},
    )


def run_child(script: str, *args: str, **env: str) -> dict:
    """Run a benchmark script's child mode in a fresh process (production settings plus
    `env`); return the JSON it prints last, or stop with its error output."""
    run = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **PRODUCTION, **env},
    )
    if run.returncode:
        sys.exit(f"{Path(script).name} {' '.join(args)} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory since it started (VmHWM); this one's by default.

    Not getrusage's ru_maxrss: Linux carries that across exec, so a child would report the
    memory of the parent that forked it.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def child_processes() -> dict[int, list[int]]:
    """{parent pid: its children's pids}, for every process now running (from /proc)."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def empty_listening_data(connection) -> None:
    """Empty the catalogue and the listening tables (and everything that refers to them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE listening_listen, listening_skip, listening_listener,"
            " listening_importbatch, listening_explorationreport, listening_datasnapshot,"
            " catalog_song, catalog_release, catalog_artist CASCADE"
        )


def import_once(path: Path, *, initial_load: bool = True) -> dict:
    """Run in a fresh process: empty the tables, import `path`, report time and memory."""
    django_setup()
    from django.conf import settings
    from django.db import connection

    settings.LISTENING_INITIAL_LOAD_ROWS = 0 if initial_load else sys.maxsize
    from listening.listen_import import listen_import_create, listen_import_run
    from musicsite.jobs import JobStatus

    empty_listening_data(connection)
    started = time.perf_counter()
    songs = Path(f"{path}.songs.csv")
    options = {"songs_path": str(songs)} if songs.is_file() else {}
    batch = listen_import_create(path=path, format="taste-profile", options=options)
    batch = listen_import_run(batch_id=batch.pk)
    seconds = time.perf_counter() - started
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    return {
        "rows": batch.rows_read,
        "loaded": batch.rows_loaded,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def copy_ceiling() -> dict:
    """Time a bare COPY of the imported rows into an identically indexed table."""
    django_setup()
    from django.db import connection

    columns = "listener_id, song_id, artist_id, played_at, play_count, batch_id"
    results = {}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        buffer = io.BytesIO()
        with raw.copy(f"COPY (SELECT {columns} FROM listening_listen) TO STDOUT") as copy:
            for data in copy:
                buffer.write(data)
        cursor.execute("SELECT count(*) FROM listening_listen")
        rows = cursor.fetchone()[0]
        for name, like in (
            ("indexed", "INCLUDING ALL"),
            ("unindexed", "INCLUDING DEFAULTS INCLUDING IDENTITY"),
        ):
            cursor.execute(f"DROP TABLE IF EXISTS bench_copy_{name}")
            cursor.execute(f"CREATE TABLE bench_copy_{name} (LIKE listening_listen {like})")
            started = time.perf_counter()
            with raw.copy(f"COPY bench_copy_{name} ({columns}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            results[name] = rows / (time.perf_counter() - started)
            cursor.execute(f"DROP TABLE bench_copy_{name}")
    results["rows"] = rows
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--initial-load", choices=["on", "off", "both"], default="on")
    parser.add_argument("--file", type=Path, help="import this triplets file instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--row-by-row", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ceiling", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(import_once(Path(args.child), initial_load=not args.row_by_row)))
        return
    if args.ceiling:
        print(json.dumps(copy_ceiling()))
        return

    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    ensure_database()
    with tempfile.TemporaryDirectory() as folder:
        runs = []
        for size in [0] if args.file else args.sizes:
            path = args.file or Path(folder) / f"triplets-{size}.txt"
            started = time.perf_counter()
            if not args.file:
                write_triplets(path, size)
            written = time.perf_counter() - started
            modes = {"on": [True], "off": [False], "both": [True, False]}[args.initial_load]
            for initial_load in modes:
                flags = [] if initial_load else ["--row-by-row"]
                result = run_child(__file__, "--child", str(path), *flags)
                result["file_mb"] = path.stat().st_size / 2**20
                result["write_seconds"] = written
                runs.append(result)
                how = "indexes after COPY" if initial_load else "indexes row by row"
                print(
                    f"{result['rows']:>10,} rows  file {result['file_mb']:7.1f} MB  import"
                    f" {result['seconds']:7.1f} s"
                    f"  {result['rows'] / result['seconds']:>10,.0f} rows/s"
                    f"  peak RSS {result['peak_rss_mb']:7.0f} MB  ({how})",
                    flush=True,
                )
        # The last import's rows are still in the tables: time the bare COPY of them.
        ceiling = None if args.file else run_child(__file__, "--ceiling")
    if args.initial_load == "both":
        for after, row_by_row in zip(runs[::2], runs[1::2], strict=True):
            print(
                f"{after['rows']:,} rows: indexes after COPY {after['seconds']:.1f} s,"
                f" row by row {row_by_row['seconds']:.1f} s:"
                f" {row_by_row['seconds'] / after['seconds']:.2f}x faster"
            )
    if ceiling is None:
        return
    last = runs[-1]
    speed = last["rows"] / last["seconds"]
    print(
        f"bare COPY of {ceiling['rows']:,} rows, indexed like listening_listen:"
        f" {ceiling['indexed']:>10,.0f} rows/s"
    )
    print(f"bare COPY into an unindexed table:{'':>27}{ceiling['unindexed']:>10,.0f} rows/s")
    print(f"full import / indexed ceiling: {speed / ceiling['indexed']:.0%} (target >= 50%)")
    if len(runs) > 1 and args.initial_load != "both":
        print(
            f"peak memory, largest / smallest file: {runs[-1]['peak_rss_mb']:.0f} MB /"
            f" {runs[0]['peak_rss_mb']:.0f} MB"
            f" for {runs[-1]['rows'] / runs[0]['rows']:.0f}x the rows"
        )


if __name__ == "__main__":
    main()
