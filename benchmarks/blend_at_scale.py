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
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from listening.ingest.formats.hetrec import play_matrix  # noqa: E402
from recommender.algorithms import blend  # noqa: E402
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


def main() -> None:
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
