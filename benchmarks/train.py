"""Training benchmark: the ALS job against a bare implicit fit, and every algorithm on HetRec.

    .venv/bin/python benchmarks/train.py [--skip-hetrec]

1. On the 5M-listen database that benchmarks/explore.py builds (run it first), the whole
   training job (snapshot, matrix from the database, weighting, fit, save) in one process,
   and in another a bare `implicit` ALS fit of the same weighted matrix already in memory,
   with the same parameters. Target (issue 5): the job at most 30% slower than the bare fit.
2. Fit time of every algorithm at artist level on the real HetRec 2011 Last.fm data
   (../shared/data/hetrec2011-lastfm-2k), imported once into its own database.
"""

import argparse
import json
import os
import time
from pathlib import Path

from ingest import django_setup, ensure_database, peak_rss_mb, run_child

ROOT = Path(__file__).resolve().parent.parent
EDA_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_eda"
HETREC_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_hetrec"
HETREC = ROOT.parent / "shared" / "data" / "hetrec2011-lastfm-2k"
ALS_PARAMS = {"factors": 64, "iterations": 15, "regularization": 0.05}


def job() -> dict:
    django_setup()
    from recommender.training import model_run_create, model_run_train

    started = time.perf_counter()
    run = model_run_train(run_id=model_run_create(algorithm="als", params=ALS_PARAMS).pk)
    return {
        "seconds": time.perf_counter() - started,
        "timings": run.timings,
        "peak_rss_mb": peak_rss_mb(),
        "shape": [run.n_listeners, run.n_items],
    }


def bare() -> dict:
    django_setup()
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from recommender.algorithms.weighting import confidence
    from recommender.data import build_matrix

    matrix = build_matrix("song")
    user_items = confidence(matrix.plays, scheme="log", alpha=1.0, skips=matrix.skips)
    model = AlternatingLeastSquares(random_state=0, **ALS_PARAMS)
    with threadpool_limits(1, "blas"):
        started = time.perf_counter()
        model.fit(user_items, show_progress=False)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "nnz": int(user_items.nnz)}


def hetrec() -> dict:
    django_setup()
    from listening.listen_import import listen_import_create, listen_import_run
    from listening.models import Listen
    from musicsite.jobs import JobStatus
    from recommender import algorithms
    from recommender.algorithms.weighting import confidence
    from recommender.data import build_matrix

    if not Listen.objects.exists():
        batch = listen_import_run(batch_id=listen_import_create(path=HETREC).pk)
        assert batch.status == JobStatus.SUCCEEDED, batch.error
    matrix = build_matrix("artist")
    user_items = confidence(matrix.plays, scheme="log", alpha=1.0, skips=matrix.skips)
    times = {}
    for name in sorted(algorithms.ALGORITHMS):
        model = algorithms.create(name, seed=0)
        started = time.perf_counter()
        model.fit(user_items)
        times[name] = time.perf_counter() - started
    return {"shape": list(matrix.shape), "nnz": int(matrix.plays.nnz), "fit_seconds": times}


def child(mode: str, url: str) -> dict:
    return run_child(__file__, f"--{mode}", DATABASE_URL=url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-hetrec", action="store_true")
    for mode in ("job", "bare", "hetrec"):
        parser.add_argument(f"--{mode}", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for mode, function in (("job", job), ("bare", bare), ("hetrec", hetrec)):
        if getattr(args, mode):
            print(json.dumps(function()))
            return

    os.environ["DATABASE_URL"] = EDA_URL
    ensure_database()  # migrated to this code's schema; built by benchmarks/explore.py
    measured_job = child("job", EDA_URL)
    measured_bare = child("bare", EDA_URL)
    overhead = measured_job["seconds"] / measured_bare["seconds"] - 1
    shape = measured_job["shape"]
    timings = ", ".join(
        f"{k.removesuffix('_seconds')} {v:.1f} s" for k, v in measured_job["timings"].items()
    )
    print(
        f"ALS job on {shape[0]:,} listeners x {shape[1]:,} songs"
        f" ({measured_bare['nnz']:,} pairs): {measured_job['seconds']:.1f} s ({timings})"
    )
    print(f"job peak memory: {measured_job['peak_rss_mb']:.0f} MB")
    print(f"bare implicit fit of the same matrix: {measured_bare['seconds']:.1f} s")
    print(f"job overhead over the bare fit: {overhead:.0%} (target <= 30%)")
    if not args.skip_hetrec and HETREC.is_dir():
        os.environ["DATABASE_URL"] = HETREC_URL
        ensure_database()
        result = child("hetrec", HETREC_URL)
        print(
            f"HetRec artist level: {result['shape'][0]:,} listeners x {result['shape'][1]:,}"
            f" artists, {result['nnz']:,} pairs; fit seconds:"
        )
        for name, seconds in result["fit_seconds"].items():
            print(f"  {name:<12}{seconds:8.2f}")


if __name__ == "__main__":
    main()
