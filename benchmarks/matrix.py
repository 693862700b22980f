"""Matrix benchmark: the listener x song matrix from a 10M-listen PostgreSQL database.

    .venv/bin/python benchmarks/matrix.py [--listens 10000000] [--rebuild]

Builds the database once with the generator (Last.fm 1K format) and the real import, then in
a fresh process times `recommender.data.build_matrix` at both levels and prints the
process's peak memory. Target (issue 5): 10M listens in under 30 s, within 2 GB.
Uses DATABASE_URL, default postgres://postgres@127.0.0.1:5432/musicsite_bench_10m.
"""

import argparse
import json
import os
import time

from explore import build, ensure_generated
from ingest import django_setup, peak_rss_mb, run_child

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_10m"


def measure() -> dict:
    django_setup()
    from recommender.data import build_matrix

    result = {}
    for level in ("song", "artist"):
        started = time.perf_counter()
        matrix = build_matrix(level)
        result[level] = {
            "seconds": time.perf_counter() - started,
            "shape": list(matrix.shape),
            "nnz": int(matrix.plays.nnz),
            "plays": float(matrix.plays.sum()),
        }
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listens", type=int, default=10_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if args.build:
        print(json.dumps(build(int(args.build))))
        return
    if args.measure:
        print(json.dumps(measure()))
        return

    ensure_generated(__file__, args.listens, rebuild=args.rebuild)
    result = run_child(__file__, "--measure")
    for level in ("song", "artist"):
        figures = result[level]
        print(
            f"{level} matrix: {figures['shape'][0]:,} x {figures['shape'][1]:,},"
            f" {figures['nnz']:,} pairs, {figures['plays']:,.0f} plays in"
            f" {figures['seconds']:.1f} s (target < 30 s)"
        )
    print(f"peak memory of the process: {result['peak_rss_mb']:.0f} MB (target < 2048 MB)")


if __name__ == "__main__":
    main()
