"""How the default blend was chosen: validation only, averaged over five splits (no Django).

    .venv/bin/python benchmarks/blend_choice.py [--splits 5]

Five validation splits are carved out of the TRAINING part of quality.py's HetRec split
(`validation_split`, seeds 0 to 4, the carving `protocol.tune` uses); one split of ~1,900
listeners is too noisy to choose weights on. On each, EASE, RP3beta (four settings) and ten
ALS runs (seeds 1 to 10, as the blend seeds them) are fitted once and score the validation
listeners once, each turned into reciprocal ranks as the blend fuses them. Each
configuration (how many ALS runs share the ALS weight, RP3beta's alpha and beta, and the
three weights) is then ranked, and the configurations are ordered by their mean validation
NDCG@10. The winner, and only the winner, is then scored on the test split, through the
product's own `blend` with its defaults. This is the last stage of a longer search
(component grids, other components and fusions; results/quality.md).
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
    ALS_RUNS,
    DEFAULT_COMPONENTS,
    DEFAULT_WEIGHTS,
    reciprocal_ranks,
)
from recommender.algorithms.weighting import confidence  # noqa: E402
from recommender.evaluation.metrics import ranking_metrics  # noqa: E402
from recommender.evaluation.protocol import Protocol, evaluate, make_splits  # noqa: E402
from recommender.evaluation.splits import validation_split  # noqa: E402

HETREC = ROOT.parent / "shared" / "data" / "hetrec2011-lastfm-2k"
PROTOCOL = Protocol(split="random", test_fraction=0.2, ks=(10, 20), seed=0)
EASE = {"algorithm": "ease", "params": {"l2": 2000}}
ALS = {"algorithm": "als", "params": {"factors": 24, "regularization": 2.0, "alpha": 2.0}}
RP3BETA = {  # (alpha, beta): the single model's choice first, then along the blend's ascent
    setting: {"algorithm": "rp3beta", "params": {"alpha": setting[0], "beta": setting[1]}}
    for setting in ((0.8, 0.4), (1.0, 0.5), (1.2, 0.6), (1.5, 0.6))
}
RUNS = (1, 5, 10)
# The earlier defaults, scored beside the grid for comparison: one ALS run, then ten.
PREVIOUS = {(1, (0.8, 0.4), 0.5, 1.0, 1.0): "one ALS run", (10, (0.8, 0.4), 0.5, 1.0, 1.5): "ten"}
GRID = list(itertools.product(RUNS, RP3BETA, (0.5, 0.75, 1.0), (0.75, 1.0, 1.25), (1.5, 2.0))) + [
    config for config in PREVIOUS if config[0] == 1
]


def fused(train: sp.csr_matrix, spec: dict, seed: int, users, rows) -> np.ndarray:
    """The component's reciprocal ranks (c = 60, played items last), as the blend sums them."""
    model = create(spec["algorithm"], seed=seed, **spec["params"]).fit(train)
    return reciprocal_ranks(model._scores(users, rows), rows, 60.0)


def as_blend(runs: int, rp3: tuple, w_ease: float, w_rp3: float, w_als: float) -> dict:
    """The configuration as the blend's params (component i seeded with i: ALS gets 1..runs)."""
    components = [EASE, *[ALS] * runs, RP3BETA[rp3]]
    return {"components": components, "weights": [w_ease, *[w_als / runs] * runs, w_rp3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    train = make_splits(play_matrix(HETREC), PROTOCOL)[0].train
    found: dict[tuple, list[float]] = {}
    for seed in range(args.splits):
        holdout = validation_split(train, PROTOCOL.test_fraction, seed)
        weighted = confidence(sp.csr_matrix(holdout.train, dtype=np.float32), scheme="log")
        users = np.flatnonzero(np.diff(holdout.test.indptr) > 0)
        rows, relevant = weighted[users], sp.csr_matrix(holdout.test[users])
        seen = rows.tocoo()
        ease = fused(weighted, EASE, 0, users, rows)
        # RP3beta is deterministic: the seed is unused.
        rp3 = {setting: fused(weighted, spec, 0, users, rows) for setting, spec in RP3BETA.items()}
        als_runs = [fused(weighted, ALS, run, users, rows) for run in range(1, max(RUNS) + 1)]
        als_means = {runs: sum(als_runs[:runs]) / np.float32(runs) for runs in RUNS}
        del als_runs
        for runs, setting, w_ease, w_rp3, w_als in GRID:
            total = w_ease * ease + w_rp3 * rp3[setting] + w_als * als_means[runs]
            total[seen.row, seen.col] = -np.inf
            ids, _ = top_k(total, 10)
            ndcg = ranking_metrics(ids, relevant, (10,))["ndcg@10"]
            found.setdefault((runs, setting, w_ease, w_rp3, w_als), []).append(ndcg)
        print(f"validation split {seed} done ({time.perf_counter() - started:.0f} s)", flush=True)

    ranked = sorted(found.items(), key=lambda item: -np.mean(item[1]))
    print(f"\nmean validation NDCG@10 over {args.splits} splits (top 10 of {len(ranked)}):")
    for (runs, setting, w_ease, w_rp3, w_als), values in ranked[:10]:
        per_split = " ".join(f"{value:.4f}" for value in values)
        print(
            f"  {np.mean(values):.4f}  ALS runs {runs:2}  rp3beta {setting}  weights ease {w_ease} "
            f"rp3beta {w_rp3} als {w_als}  (splits {per_split})"
        )
    for config, name in PREVIOUS.items():
        per_split = " ".join(f"{value:.4f}" for value in found[config])
        print(
            f"  {np.mean(found[config]):.4f}  a previous default ({name}): {config}  "
            f"(splits {per_split})"
        )
    winner = as_blend(*ranked[0][0])
    default = winner["weights"] == DEFAULT_WEIGHTS and json.dumps(
        winner["components"], sort_keys=True
    ) == json.dumps(DEFAULT_COMPONENTS, sort_keys=True)
    print(f"\nwinner: {ranked[0][0]}; the product's default (ALS_RUNS={ALS_RUNS}): {default}")
    if not default:
        print("the winner is not the product's default: not scoring anything on test")
        return

    report = evaluate(play_matrix(HETREC), {"popularity": {}, "blend": {}}, PROTOCOL)
    for label, entry in report["results"].items():
        low, high = entry["ci"]["ndcg@10"]
        print(
            f"test split: {label:11} NDCG@10 {entry['ndcg@10']:.4f} [{low:.3f}, {high:.3f}]  "
            f"P@10 {entry['precision@10']:.4f}"
        )
    print(f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
