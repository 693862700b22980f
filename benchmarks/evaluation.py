"""Evaluation speed: the metrics of one model's lists for 100k test listeners (no Django).

    .venv/bin/python benchmarks/evaluation.py [--listeners 100000] [--items 50000]

Issue 6: evaluating one model over 100k test listeners with 10 metrics at k = 10 and 20
takes under 10 s beyond the model's own scoring. The lists stand in for a model's output
(the scoring is the model's cost, not the evaluation's): each listener gets 20 distinct
items and 1-60 held-out items, about a third of which land in the top 20, over a catalogue
with a long-tailed popularity and 5,000 artists. Timed, with the product's own code:
`list_metrics` (precision, recall, f1, MAP, NDCG, hit rate, MRR at both ks, coverage,
novelty, popularity bias, artist diversity), the bootstrap intervals of every metric
(1,000 resamples over listeners) and the paired bootstrap against a second model (the
popularity comparison every report carries). Prints each step's seconds and the peak RSS.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender.evaluation.protocol import (
    COMPARED,
    Protocol,
    _intervals,
    list_metrics,
    paired_differences,
)

STEP = 7_919  # a prime: start + j * STEP (mod n_items) gives distinct items for j < n_items


def synthetic_lists(
    n_listeners: int, n_items: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, sp.csr_matrix]:
    """(recommended top k, relevant matrix): both drawn from one per-listener item sequence,
    so lists never repeat an item and some held-out items are hits."""
    starts = rng.integers(0, n_items, size=n_listeners)
    slots = np.arange(k)
    recommended = (starts[:, None] + slots * STEP) % n_items
    n_relevant = rng.integers(1, 61, size=n_listeners)
    rows = np.repeat(np.arange(n_listeners), n_relevant)
    positions = rng.integers(0, 3 * k, size=rows.size)  # a third of them within the top k
    cols = (starts[rows] + positions * STEP) % n_items
    relevant = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n_listeners, n_items)
    )
    relevant.sum_duplicates()
    return recommended.astype(np.int64), relevant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listeners", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    protocol = Protocol(ks=(10, 20))
    recommended, relevant = synthetic_lists(args.listeners, args.items, max(protocol.ks), rng)
    baseline = np.tile(np.arange(max(protocol.ks), dtype=np.int64), (args.listeners, 1))
    n_train_listeners = 4 * args.listeners
    listeners_per_item = np.minimum(rng.zipf(1.3, size=args.items), n_train_listeners)
    item_artist = rng.integers(0, 5_000, size=args.items)
    print(
        f"{args.listeners:,} test listeners, {args.items:,} items, "
        f"{relevant.nnz:,} held-out pairs, ks {list(protocol.ks)}"
    )

    timings: dict[str, float] = {}
    started = time.perf_counter()
    metrics, per_user, _ = list_metrics(
        recommended,
        relevant,
        protocol,
        listeners_per_item,
        n_train_listeners,
        item_artist=item_artist,
    )
    timings["metrics (10 kinds x 2 ks)"] = time.perf_counter() - started

    started = time.perf_counter()
    intervals = _intervals(per_user, protocol, np.random.default_rng(protocol.seed))
    timings[f"bootstrap intervals ({len(intervals)} metrics)"] = time.perf_counter() - started

    _, baseline_per_user, _ = list_metrics(
        baseline, relevant, protocol, listeners_per_item, n_train_listeners
    )
    started = time.perf_counter()
    keys = [f"{metric}@{k}" for k in protocol.ks for metric in COMPARED]
    paired_differences(
        {key: per_user[key] for key in keys},
        {key: baseline_per_user[key] for key in keys},
        np.random.default_rng(protocol.seed),
        protocol.bootstrap,
    )
    timings[f"paired bootstrap vs baseline ({len(COMPARED) * len(protocol.ks)})"] = (
        time.perf_counter() - started
    )

    for step, seconds in timings.items():
        print(f"  {step:44} {seconds:6.2f} s")
    total = sum(timings.values())
    print(f"  {'total beyond scoring':44} {total:6.2f} s  (target < 10 s)")
    print(
        f"ndcg@10 {metrics['ndcg@10']:.4f} [{intervals['ndcg@10'][0]:.4f}, "
        f"{intervals['ndcg@10'][1]:.4f}], coverage {metrics['coverage']:.3f}, "
        f"diversity {metrics['diversity']:.3f}"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
