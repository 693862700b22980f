"""The blend's scaling choices, measured on HetRec's issue-6 protocol (no Django).

    .venv/bin/python benchmarks/blend_at_scale.py

One run, one split (artist level, random per-listener 80/20 holdout, seed 0, log(1 + plays),
seen items excluded, the whole catalogue ranked), so every ratio below is of figures measured
together:

- sparse_ease (EASE restricted to each item's k strongest co-occurrences, O(items x k)
  memory) against EASE at the blend search's l2 = 2,000, alone;
- the default blend with EASE, with sparse_ease in EASE's place (what `by_size` does above
  EASE's max_items), and without that component at all;
- the blend's rank fusion over each component's top 200 (argpartition, the default) against
  the full argsort of every item (`rrf_depth` None): NDCG@10 and the seconds to score the
  1,884 test listeners.

    .venv/bin/python benchmarks/blend_at_scale.py --fit LISTENERS ITEMS PLAYS

fits sparse_ease alone on a random matrix of that size (items drawn with Zipf-like
popularity, listeners with Zipf-like activity) above EASE's max_items, and prints its seconds,
its weights' size and the process's peak RSS: what EASE's dense matrix cannot do there.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from listening.ingest.formats.hetrec import play_matrix  # noqa: E402
from recommender.algorithms import blend, create  # noqa: E402
from recommender.evaluation.protocol import Protocol, evaluate  # noqa: E402

HETREC = ROOT.parent / "shared" / "data" / "hetrec2011-lastfm-2k"
L2 = blend.EASE_COMPONENT["params"]["l2"]
WITH_SPARSE = [
    {"algorithm": "sparse_ease", "params": {"l2": L2}} if spec["algorithm"] == "ease" else spec
    for spec in blend.DEFAULT_COMPONENTS
]
WITHOUT_EASE = [spec for spec in blend.DEFAULT_COMPONENTS if spec["algorithm"] != "ease"]
WITHOUT_EASE_WEIGHTS = [
    weight
    for spec, weight in zip(blend.DEFAULT_COMPONENTS, blend.DEFAULT_WEIGHTS, strict=True)
    if spec["algorithm"] != "ease"
]
ALGORITHMS = {
    "ease": {"l2": L2},
    "sparse_ease": {"l2": L2},
    "sparse_ease:k=200": {"l2": L2, "k_neighbours": 200},
    "blend": {},
    "blend:full_argsort": {"rrf_depth": None},
    "blend:sparse_ease": {"components": WITH_SPARSE, "weights": blend.DEFAULT_WEIGHTS},
    "blend:no_ease": {"components": WITHOUT_EASE, "weights": WITHOUT_EASE_WEIGHTS},
}


def zipf_matrix(listeners: int, items: int, plays: int, seed: int = 0) -> sp.csr_matrix:
    """log(1 + plays) confidences of `plays` random (listener, item) draws, both Zipf-like."""
    rng = np.random.default_rng(seed)
    item_weights = 1.0 / np.arange(1, items + 1) ** 0.8
    listener_weights = 1.0 / np.arange(1, listeners + 1) ** 0.5
    rows = rng.choice(listeners, size=plays, p=listener_weights / listener_weights.sum())
    columns = rng.choice(items, size=plays, p=item_weights / item_weights.sum())
    counts = sp.csr_matrix(
        (np.ones(plays, dtype=np.float32), (rows, columns)), shape=(listeners, items)
    )
    counts.sum_duplicates()
    counts.data = np.log1p(counts.data)
    return counts


def fit_at_scale(listeners: int, items: int, plays: int) -> None:
    matrix = zipf_matrix(listeners, items, plays)
    print(f"random matrix: {listeners:,} listeners x {items:,} items, {matrix.nnz:,} cells")
    began = time.perf_counter()
    model = create("sparse_ease", l2=L2).fit(matrix)
    seconds = time.perf_counter() - began
    weights = model.similarity
    megabytes = (weights.data.nbytes + weights.indices.nbytes + weights.indptr.nbytes) / 1e6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dense = items**2 * 4 / 1e9
    print(
        f"sparse_ease fit: {seconds:.1f} s, weights {weights.nnz:,} cells ({megabytes:.0f} MB), "
        f"peak RSS {peak:.0f} MB; EASE's dense weights would take {dense:.1f} GB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit", nargs=3, type=int, metavar=("LISTENERS", "ITEMS", "PLAYS"))
    args = parser.parse_args()
    if args.fit:
        fit_at_scale(*args.fit)
        return
    matrix = play_matrix(HETREC)
    print(f"HetRec artist level: {matrix.shape[0]:,} listeners x {matrix.shape[1]:,} artists")
    protocol = Protocol(split="random", test_fraction=0.2, ks=(10, 20), seed=0)
    began = time.perf_counter()
    results = evaluate(matrix, ALGORITHMS, protocol)["results"]
    print(f"\n{'model':22} {'NDCG@10':>7} {'95% CI':>15} {'P@10':>6} {'fit s':>6} {'score s':>7}")
    for label, entry in results.items():
        low, high = entry["ci"]["ndcg@10"]
        print(
            f"{label:22} {entry['ndcg@10']:7.4f} [{low:.3f}, {high:.3f}] "
            f"{entry['precision@10']:6.4f} {entry['fit_seconds']:6.1f} "
            f"{entry['score_seconds']:7.2f}"
        )
    ease, sparse = results["ease"]["ndcg@10"], results["sparse_ease"]["ndcg@10"]
    full, top = results["blend:full_argsort"], results["blend"]
    print(f"\nsparse_ease / ease NDCG@10: {sparse / ease:.3f}")
    print(
        f"blend:sparse_ease / blend NDCG@10: "
        f"{results['blend:sparse_ease']['ndcg@10'] / top['ndcg@10']:.3f}; "
        f"blend:no_ease / blend: {results['blend:no_ease']['ndcg@10'] / top['ndcg@10']:.3f}"
    )
    print(
        f"blend scoring, full argsort / top {blend.Blend.defaults['rrf_depth']}: "
        f"{full['score_seconds']:.2f} s / {top['score_seconds']:.2f} s = "
        f"{full['score_seconds'] / top['score_seconds']:.1f}x; NDCG@10 {full['ndcg@10']:.4f} "
        f"/ {top['ndcg@10']:.4f}"
    )
    print(f"{time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
