"""Evaluation jobs: compare algorithms under one protocol and pick the candidate to publish.

An evaluation reads one data snapshot: the one it was created with (a pipeline's), or one it
takes when it starts. Above RECOMMENDER["EVALUATION_SAMPLE"] listeners (50,000 unless set),
the candidates are compared on a sample of that many listeners drawn with the protocol's
seed, every item kept (the whole catalogue is still ranked): a comparison's cost then stops
growing with the listeners, and the winner alone is trained on everyone. The sample's size,
the listeners it was drawn from and its seed are in the results' "data", so the same
snapshot and seed give the same sample again.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.core.exceptions import ValidationError

from listening.models import DataSnapshot
from listening.services import data_snapshot_create
from musicsite.jobs import job_run

from . import algorithms
from . import evaluation_charts as charts
from .data import LEVELS, InteractionMatrix, build_matrix, listen_events, skip_events
from .evaluation.metrics import best_model
from .evaluation.protocol import Protocol, algorithm_of, evaluate
from .evaluation.splits import Interactions
from .models import Evaluation

EVALUATION_SAMPLE = 50_000  # when settings.RECOMMENDER has no such key


def evaluation_sample_size() -> int:
    """How many listeners at most a comparison is made on (0: every listener)."""
    return int(settings.RECOMMENDER.get("EVALUATION_SAMPLE", EVALUATION_SAMPLE))


def listener_sample(n_listeners: int, size: int, seed: int) -> np.ndarray | None:
    """The sorted rows of `size` listeners drawn without replacement with `seed`, or None
    when there are no more than `size` (or `size` is 0): then everyone is evaluated."""
    if size <= 0 or n_listeners <= size:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_listeners, size=size, replace=False))


def _rows_of(events: Interactions | None, rows: np.ndarray) -> Interactions | None:
    """The events of the sampled rows, renumbered to their place in the sample."""
    if events is None:
        return None
    keep = np.isin(events.rows, rows)
    renumbered = np.searchsorted(rows, events.rows[keep])
    return Interactions(renumbered, events.columns[keep], events.values[keep], events.times[keep])


def protocol_weighted(weighting: Mapping[str, Any], **settings: Any) -> Protocol:
    """A protocol that weighs plays as a model run with `weighting` is trained (scheme,
    alpha, skip penalty, half-life): what it measures is what would be served."""
    return Protocol(
        weighting=weighting.get("scheme", "log"),
        alpha=float(weighting.get("alpha", 1.0)),
        skip_penalty=float(weighting.get("skip_penalty", 0.0)),
        half_life_days=weighting.get("half_life_days"),
        **settings,
    )


def evaluation_create(
    *,
    algorithm_params: Mapping[str, Mapping[str, Any]],
    level: str = "song",
    protocol: Protocol | None = None,
    metric: str = "ndcg@10",
    snapshot: DataSnapshot | None = None,
    created_by=None,
) -> Evaluation:
    """Record a comparison to run (on `snapshot`'s listens, if given); algorithms and
    protocol are checked now."""
    if level not in LEVELS:
        raise ValidationError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if not algorithm_params:
        raise ValidationError("name at least one algorithm")
    for label, params in algorithm_params.items():
        try:
            algorithms.create(algorithm_of(label), **params)
        except (TypeError, ValueError) as error:
            raise ValidationError(f"{label}: {error}") from error
    protocol = protocol or Protocol()
    return Evaluation.objects.create(
        level=level,
        algorithms={label: dict(params) for label, params in algorithm_params.items()},
        protocol=protocol.to_dict(),
        metric=metric,
        snapshot=snapshot,
        created_by=created_by,
    )


def evaluation_run(*, evaluation_id: int, matrix: InteractionMatrix | None = None) -> Evaluation:
    """Run an evaluation in this process: `evaluation_compute` in the job lifecycle."""
    return job_run(
        Evaluation, evaluation_id, lambda evaluation: evaluation_compute(evaluation, matrix=matrix)
    )


def evaluation_protocol(evaluation: Evaluation) -> Protocol:
    return Protocol(**{**evaluation.protocol, "ks": tuple(evaluation.protocol["ks"])})


def evaluation_compute(evaluation: Evaluation, *, matrix: InteractionMatrix | None = None) -> None:
    """Split, train, score, compare; the running row gets the results, charts and candidate.

    `matrix`: the evaluation's snapshot's matrix, when the caller has it already (built with
    the protocol's half-life); otherwise it is read, up to the snapshot's last listen.
    Unless the random or k-fold split is asked for, the snapshot's plays (and skips, when
    they weigh) are also read one row per play with their times: "auto" takes the temporal
    split when every one has a time, and a time-based split trains only on what came
    before its cut-off.
    """
    protocol = evaluation_protocol(evaluation)
    if evaluation.snapshot is None:
        evaluation.snapshot = data_snapshot_create()
        evaluation.save(update_fields=["snapshot"])
    last_listen_id = evaluation.snapshot.last_listen_id or 0
    if matrix is None:
        matrix = build_matrix(
            evaluation.level,
            half_life_days=protocol.half_life_days,
            last_listen_id=last_listen_id,
            last_skip_id=evaluation.snapshot.last_skip_id,
        )
    elif not matrix.is_of(evaluation.snapshot):
        raise ValueError(f"the matrix given is not of the evaluation's {evaluation.snapshot}")
    if matrix.plays.nnz == 0:
        raise ValueError(f"no listens at {evaluation.level} level to evaluate")
    plays = timed_skips = None
    if protocol.split not in ("random", "kfold"):
        plays = listen_events(matrix, half_life_days=protocol.half_life_days)
        timed_skips = skip_events(matrix) if protocol.skip_penalty else None
    skips = matrix.skips if protocol.skip_penalty else None
    user_items, plays = without_refused(matrix, plays)
    size = evaluation_sample_size()
    sample = listener_sample(user_items.shape[0], size, protocol.seed)
    if sample is not None:
        user_items = user_items[sample]
        plays, timed_skips = _rows_of(plays, sample), _rows_of(timed_skips, sample)
        skips = sp.csr_matrix(skips)[sample] if skips is not None else None
    comparison = evaluate(
        user_items,
        evaluation.algorithms,
        protocol,
        plays=plays,
        skips=skips,
        skip_events=timed_skips,
    )
    comparison["protocol"]["level"] = evaluation.level
    comparison["data"] = {
        "snapshot": evaluation.snapshot.pk,
        "last_listen_id": last_listen_id,
        "listeners": matrix.shape[0],
        "items": matrix.shape[1],
        "sample": {
            "listeners": matrix.shape[0] if sample is None else len(sample),
            "of": matrix.shape[0],
            "seed": protocol.seed,
            "max": size,
        },
    }
    results = comparison["results"]
    evaluation.results = comparison
    # Lowest wins for an error or a bias (`evaluate --metric mae`), else highest.
    evaluation.candidate = best_model(results, evaluation.metric) or next(iter(results))
    evaluation.charts = _charts(results, protocol)
    evaluation.save(update_fields=["results", "candidate", "charts"])


def without_refused(
    matrix: InteractionMatrix, plays: Interactions | None = None
) -> tuple[sp.csr_matrix, Interactions | None]:
    """The matrix's play counts (and the per-play rows, if given) without the cells the
    listener refused: a model run trains without them and serving never offers them, so an
    evaluation neither trains on them nor counts them as hits."""
    if matrix.refused is None or matrix.refused.nnz == 0:
        return matrix.plays, plays
    refused = matrix.refused != 0
    kept = sp.csr_matrix(matrix.plays - matrix.plays.multiply(refused), dtype=np.float32)
    kept.eliminate_zeros()
    if plays is not None:
        keep = np.asarray(refused[plays.rows, plays.columns]).ravel() == 0
        plays = Interactions(
            plays.rows[keep], plays.columns[keep], plays.values[keep], plays.times[keep]
        )
    return kept, plays


def _charts(results: Mapping[str, Mapping[str, Any]], protocol: Protocol) -> dict[str, str]:
    k = protocol.primary_k
    drawn = {
        f"{metric}_by_k": charts.metric_by_k_chart(results, metric, protocol.ks)
        for metric in ("precision", "recall", "ndcg")
    }
    drawn["ndcg_vs_coverage"] = charts.tradeoff_chart(results, "coverage", f"ndcg@{k}")
    drawn["ndcg_vs_novelty"] = charts.tradeoff_chart(results, "novelty", f"ndcg@{k}")
    return drawn
