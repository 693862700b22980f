"""How the default blend was chosen: validation only, averaged over five splits (no Django).

    .venv/bin/python benchmarks/blend_choice.py [--splits 5]

Five validation splits are carved out of the TRAINING part of quality.py's HetRec split
(`validation_split`, seeds 0 to 4, the carving `protocol.tune` uses); one split of ~1,900
listeners is too noisy to choose weights on. On each, every component is fitted once and
scores the validation listeners once; each fusion (the product's own `reciprocal_ranks` and
`zscore`) and weighting is then ranked, and the configurations are ordered by their mean
validation NDCG@10. The winner, and only the winner, is then scored on the test split.
This is the last stage of a longer search (ALS, EASE and RP3beta grids first;
results/quality.md).
"""

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from listening.ingest.formats.hetrec import play_matrix  # noqa: E402
from recommender.algorithms import create  # noqa: E402
from recommender.algorithms.base import top_k  # noqa: E402
from recommender.algorithms.blend import (  # noqa: E402
    DEFAULT_COMPONENTS,
    DEFAULT_WEIGHTS,
    reciprocal_ranks,
    zscore,
)
from recommender.algorithms.weighting import confidence  # noqa: E402
from recommender.evaluation.metrics import ranking_metrics  # noqa: E402
from recommender.evaluation.protocol import Protocol, evaluate, make_splits  # noqa: E402
from recommender.evaluation.splits import validation_split  # noqa: E402

HETREC = ROOT.parent / "shared" / "data" / "hetrec2011-lastfm-2k"
PROTOCOL = Protocol(split="random", test_fraction=0.2, ks=(10, 20), seed=0)
EASE = {"algorithm": "ease", "params": {"l2": 2000.0}}
RP3BETA = {"algorithm": "rp3beta", "params": {"alpha": 0.8, "beta": 0.4}}
ALS_CHOICES = {
    "als 64 (defaults)": {"algorithm": "als", "params": {}},
    "als 24/2.0/2.0": {
        "algorithm": "als",
        "params": {"factors": 24, "regularization": 2.0, "alpha": 2.0},
    },
}
FUSIONS = {"rrf": lambda scores, seen: reciprocal_ranks(scores, seen, 60.0), "zscore": None}
WEIGHTS = [
    [w_ease, 1.0, w_rp3]
    for w_ease, w_rp3 in itertools.product([0.0, 0.25, 0.5, 1.0], [0.0, 0.75, 1.0, 2.0, 3.0])
]


def component_scores(train: sp.csr_matrix, spec: dict, seed: int, users, rows) -> np.ndarray:
    model = create(spec["algorithm"], seed=seed, **spec["params"]).fit(train)
    return np.asarray(model._scores(users, rows), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    train = make_splits(play_matrix(HETREC), PROTOCOL)[0].train
    found: dict[str, list[float]] = {}
    for seed in range(args.splits):
        holdout = validation_split(train, PROTOCOL.test_fraction, seed)
        weighted = confidence(sp.csr_matrix(holdout.train, dtype=np.float32), scheme="log")
        users = np.flatnonzero(np.diff(holdout.test.indptr) > 0)
        rows, relevant = weighted[users], sp.csr_matrix(holdout.test[users])
        seen = rows.tocoo()
        # Component i of a blend is seeded with the blend's seed (0) + i.
        fitted = {"ease": component_scores(weighted, EASE, 0, users, rows)}
        fitted["rp3beta"] = component_scores(weighted, RP3BETA, 2, users, rows)
        for name, spec in ALS_CHOICES.items():
            fitted[name] = component_scores(weighted, spec, 1, users, rows)
        for fusion, als in itertools.product(FUSIONS, ALS_CHOICES):
            fuse = FUSIONS[fusion] or (lambda scores, _seen: zscore(scores))
            parts = [fuse(fitted[name], rows) for name in ("ease", als, "rp3beta")]
            for weights in WEIGHTS:
                total = sum(w * part for w, part in zip(weights, parts, strict=True) if w)
                total = np.asarray(total, dtype=np.float32)
                total[seen.row, seen.col] = -np.inf
                ids, _ = top_k(total, 10)
                ndcg = ranking_metrics(ids, relevant, (10,))["ndcg@10"]
                found.setdefault(json.dumps([fusion, als, weights]), []).append(ndcg)
        print(f"validation split {seed} done ({time.perf_counter() - started:.0f} s)", flush=True)

    ranked = sorted(found.items(), key=lambda item: -np.mean(item[1]))
    print(f"\nmean validation NDCG@10 over {args.splits} splits (top 10 of {len(ranked)}):")
    for key, values in ranked[:10]:
        fusion, als, weights = json.loads(key)
        print(f"  {np.mean(values):.4f}  {fusion:6} {als:18} weights {weights}")
    fusion, als, weights = json.loads(ranked[0][0])
    winner = {"components": [EASE, ALS_CHOICES[als], RP3BETA], "weights": weights}
    winner["fusion"] = fusion
    default = (
        fusion == "rrf"
        and weights == DEFAULT_WEIGHTS
        and ALS_CHOICES[als]["params"] == DEFAULT_COMPONENTS[1]["params"]
    )
    print(f"\nwinner: {fusion}, {als}, weights {weights}; the product's default: {default}")

    report = evaluate(play_matrix(HETREC), {"popularity": {}, "blend:winner": winner}, PROTOCOL)
    for label, entry in report["results"].items():
        low, high = entry["ci"]["ndcg@10"]
        print(
            f"test split: {label:13} NDCG@10 {entry['ndcg@10']:.4f} [{low:.3f}, {high:.3f}]  "
            f"P@10 {entry['precision@10']:.4f}"
        )
    print(f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
