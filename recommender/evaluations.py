"""Evaluation jobs: compare algorithms under one protocol and pick the candidate to publish."""

import time
import traceback
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from listening.services import data_snapshot_create

from . import algorithms
from . import evaluation_charts as charts
from .data import LEVELS, build_matrix, first_play_times
from .evaluation.protocol import Protocol, algorithm_of, evaluate
from .models import Evaluation


def evaluation_create(
    *,
    algorithm_params: Mapping[str, Mapping[str, Any]],
    level: str = "song",
    protocol: Protocol | None = None,
    metric: str = "ndcg@10",
    created_by=None,
) -> Evaluation:
    """Record a comparison to run; algorithms and protocol are checked now."""
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
        created_by=created_by,
    )


def evaluation_run(*, evaluation_id: int) -> Evaluation:
    """Split, train, score, compare; store the results, charts and the candidate."""
    evaluation = Evaluation.objects.get(pk=evaluation_id)
    if evaluation.is_finished:
        return evaluation
    evaluation.mark_running()
    started = time.perf_counter()
    try:
        protocol = Protocol(**{**evaluation.protocol, "ks": tuple(evaluation.protocol["ks"])})
        evaluation.snapshot = data_snapshot_create()
        matrix = build_matrix(evaluation.level)
        if matrix.plays.nnz == 0:
            raise ValueError(f"no listens at {evaluation.level} level to evaluate")
        times = first_play_times(matrix) if protocol.split == "temporal" else None
        comparison = evaluate(matrix.plays, evaluation.algorithms, protocol, times=times)
        comparison["protocol"]["level"] = evaluation.level
        results = comparison["results"]
        evaluation.results = comparison
        evaluation.candidate = max(
            results, key=lambda label: results[label].get(evaluation.metric, 0)
        )
        evaluation.charts = _charts(results, protocol)
    except Exception as error:
        evaluation.mark_failed(
            f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=4)}", also=["snapshot"]
        )
        raise
    evaluation.compute_seconds = time.perf_counter() - started
    evaluation.save(update_fields=["snapshot", "results", "candidate", "charts", "compute_seconds"])
    evaluation.mark_succeeded()
    return evaluation


def _charts(results: Mapping[str, Mapping[str, Any]], protocol: Protocol) -> dict[str, str]:
    k = protocol.primary_k
    drawn = {
        f"{metric}_by_k": charts.metric_by_k_chart(results, metric, protocol.ks)
        for metric in ("precision", "recall", "ndcg")
    }
    drawn["ndcg_vs_coverage"] = charts.tradeoff_chart(results, "coverage", f"ndcg@{k}")
    drawn["ndcg_vs_novelty"] = charts.tradeoff_chart(results, "novelty", f"ndcg@{k}")
    return drawn
