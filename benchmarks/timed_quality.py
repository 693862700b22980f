"""Quality on timed listening: the split the evaluation used before issue 16 against the new.

    .venv/bin/python benchmarks/timed_quality.py [--listeners 2000 --songs 3000 --listens 150000]

The demo's data (`demo_setup`'s defaults: the generator's Last.fm 1K scrobbles, seed 2026, 2%
dirt), imported by the real import into a fresh SQLite database of its own, then at song level
the pipeline's candidates (and EASE) under three protocols on one snapshot:

1. `random`: the old default (a per-listener 80/20 holdout of cells, seed 0), which the
   pipeline chose its winner by, though every listen has a time;
2. `temporal, cells`: the old temporal split, reproduced here as it was: each listener-song
   cell placed by its FIRST play, at the 0.8 quantile of the cells' first-play times, and
   trained on the cell's TOTAL play count, later plays included; and (2b) the plays split at
   that same cut-off, which isolates the leak;
3. `auto`: the new default, through the evaluation job itself: every listen has a time, so
   the temporal split, of plays: training counts only the plays before the cut-off (the 0.8
   quantile of the plays' times), the test holds each listener's new songs from it on.

Prints each table and how many training cells of the old temporal split held plays from after
its cut-off.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ALGORITHMS = {"popularity": {}, "item_knn": {}, "rp3beta": {}, "als": {}, "ease": {}}
COLUMNS = ("ndcg@10", "precision@10", "recall@10", "map@10", "coverage")


def table(title: str, comparison: dict) -> str:
    protocol = comparison["protocol"]
    lines = [f"{title}: split {protocol['split']} ({protocol.get('split_reason', '')})"]
    lines.append(f"{'algorithm':<12}" + "".join(f"{name:>14}" for name in COLUMNS) + "  listeners")
    for label, result in comparison["results"].items():
        values = "".join(f"{result[name]:>14.4f}" for name in COLUMNS)
        lines.append(f"{label:<12}{values}  {result['n_listeners']:>9}")
    return "\n".join(lines)


def old_temporal(matrix, plays, protocol):
    """The pre-issue-16 temporal split: cells by first play, trained on total counts."""
    import pandas as pd

    from recommender.evaluation.splits import temporal_split

    frame = pd.DataFrame({"row": plays.rows, "col": plays.columns, "time": plays.times})
    first = frame.dropna().groupby(["row", "col"], as_index=False)["time"].min()
    coo = matrix.plays.tocoo()
    keyed = pd.DataFrame({"row": coo.row, "col": coo.col, "value": coo.data})
    cells = keyed.merge(first, on=["row", "col"])
    split = temporal_split(
        cells["row"].to_numpy(),
        cells["col"].to_numpy(),
        cells["value"].to_numpy(),
        cells["time"].to_numpy(),
        shape=matrix.shape,
        quantile=protocol.temporal_quantile,
    )
    cutoff = split.params["cutoff"]
    later = frame[frame["time"] >= cutoff][["row", "col"]].drop_duplicates()
    train = split.train.tocoo()
    trained = pd.DataFrame({"row": train.row, "col": train.col})
    leaking = len(trained.merge(later, on=["row", "col"]))
    return split, leaking, cutoff


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", type=int, default=2_000)
    parser.add_argument("--songs", type=int, default=3_000)
    parser.add_argument("--listens", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="timed_quality_"))
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'db.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import django

    django.setup()
    from django.core.management import call_command

    from listening.generator import generate
    from listening.listen_import import listen_import_create, listen_import_run
    from recommender.data import build_matrix, listen_events
    from recommender.evaluation.protocol import Protocol, evaluate, evaluate_split
    from recommender.evaluation.splits import temporal_split
    from recommender.evaluations import evaluation_create, evaluation_run

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    path = folder / "demo-scrobbles.tsv"
    generate(
        path,
        "lastfm-1k",
        n_listeners=args.listeners,
        n_songs=args.songs,
        n_listens=args.listens,
        seed=args.seed,
        dirt=0.02,
    )
    batch = listen_import_run(batch_id=listen_import_create(path=path, format="lastfm-1k").pk)
    print(f"imported {batch.rows_loaded:,} listens in {time.perf_counter() - started:.1f} s")

    matrix = build_matrix("song")
    plays = listen_events(matrix)
    print(f"matrix {matrix.shape[0]:,} x {matrix.shape[1]:,}, {matrix.plays.nnz:,} cells,")
    print(f"{len(plays):,} listens, {plays.untimed:,} without a time")

    protocol = Protocol(ks=(10, 20), seed=0)
    started = time.perf_counter()
    old_random = evaluate(matrix.plays, ALGORITHMS, Protocol(split="random", ks=(10, 20)))
    print(f"\n{table('1. old default', old_random)}\n({time.perf_counter() - started:.0f} s)")

    started = time.perf_counter()
    split, leaking, cutoff = old_temporal(matrix, plays, Protocol(split="temporal"))
    by_model = evaluate_split(split, ALGORITHMS, protocol)
    cells = {
        "protocol": {"split": "temporal", "split_reason": "cells by first play, total counts"},
        "results": {
            label: {**result.metrics, "n_listeners": len(result.users)}
            for label, result in by_model.items()
        },
    }
    print(f"\n{table('2. old temporal', cells)}\n({time.perf_counter() - started:.0f} s)")
    print(f"training cells holding plays from at or after the cut-off: {leaking:,}")
    print(f"of {split.train.nnz:,} training cells; cut-off {cutoff:.0f} (Unix seconds)")

    # The leak alone: the same cut-off, plays split instead of cells.
    started = time.perf_counter()
    columns = (plays.rows, plays.columns, plays.values, plays.times)
    same_cutoff = temporal_split(*columns, shape=matrix.shape, cutoff=cutoff)
    by_model = evaluate_split(same_cutoff, ALGORITHMS, protocol)
    honest = {
        "protocol": {"split": "temporal", "split_reason": "plays, at the old cut-off"},
        "results": {
            label: {**result.metrics, "n_listeners": len(result.users)}
            for label, result in by_model.items()
        },
    }
    print(
        f"\n{table('2b. plays at that cut-off', honest)}\n({time.perf_counter() - started:.0f} s)"
    )

    started = time.perf_counter()
    evaluation = evaluation_create(algorithm_params=ALGORITHMS, protocol=protocol)
    evaluation = evaluation_run(evaluation_id=evaluation.pk)
    new = evaluation.results
    print(f"\n{table('3. new default', new)}\n({time.perf_counter() - started:.0f} s)")
    params = new["protocol"]["split_params"]
    old_best = max(old_random["results"], key=lambda m: old_random["results"][m]["ndcg@10"])
    print(
        f"cut-off {params['cutoff']:.0f}; {params['train_plays']:,} plays train,"
        f" {params['later_plays']:,} come after; candidate {evaluation.candidate}"
        f" (the old default's: {old_best})"
    )


if __name__ == "__main__":
    main()
