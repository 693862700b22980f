"""The whole workflow as one job: snapshot → exploration → evaluation → training → publication.

One data snapshot per run, bounded by its last listen, read by every step: the exploration
describes it, the evaluation compares every candidate on one split of its matrix (weighing
plays as the winner will be trained: scheme, skip penalty, half-life), only the winner is
trained, on the whole snapshot, and that run is published. So the evaluation's comparison
and the published run name the same snapshot, and no fit is thrown away. The candidate is
trained and published only if it beats the active set's model (evaluated on the same split)
beyond its confidence interval; otherwise the active set stays, training and publishing are
skipped, and `decision` says why.

One pipeline at a time: a run takes the lock (a unique column) when it is created and gives
it back when it ends; a run whose worker died stops sending heartbeats and is reaped after
STALE_AFTER, so the lock cannot be held forever. Each step's status, times, figures and
error are on the row as it goes.

It runs in four parts, each given the running row by the job lifecycle
(`musicsite.jobs.job_run`): `pipeline_prepare` (snapshot, exploration), `pipeline_evaluate`,
`pipeline_train` and `pipeline_publish`. The Celery canvas runs them as a chain of tasks, which
may run in different processes: each reads the same bounded snapshot. `pipeline_run` runs the
four in this process and builds the snapshot's matrix once, for the evaluation and the winner.
"""

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from listening.exploration.report import exploration_report_create, exploration_report_run
from listening.models import DataSnapshot
from listening.services import data_snapshot_create
from musicsite.jobs import JobStatus, job_run, on_a_live_connection

from . import algorithms, publishing
from .algorithms import blend
from .data import LEVELS, InteractionMatrix
from .evaluation.protocol import algorithm_of
from .evaluations import evaluation_create, evaluation_run, protocol_weighted
from .models import ModelRun, PipelineRun, RecommendationSet, SetStatus
from .training import DEFAULT_WEIGHTING, model_run_create, model_run_train, snapshot_matrix

log = logging.getLogger(__name__)

STEPS = ("snapshot", "explore", "evaluate", "train", "publish")
WAITING, SKIPPED = "waiting", "skipped"  # a step's statuses besides JobStatus's
DEFAULT_ALGORITHMS = ("popularity", "item_knn", "rp3beta", "als", "blend")
# Each candidate's settings: those the blend search found for it (benchmarks/blend_choice.py,
# results/quality.md), not the library's defaults. The blend's own defaults are that search's
# winner, sized to the data when it is fitted (`Blend` with `by_size`).
CANDIDATE_PARAMS: dict[str, dict[str, Any]] = {
    "als": dict(blend.ALS_COMPONENT["params"]),
    "rp3beta": dict(blend.RP3BETA_COMPONENT["params"]),
    "ease": dict(blend.EASE_COMPONENT["params"]),
    "sparse_ease": {"l2": blend.EASE_COMPONENT["params"]["l2"]},
}
ACTIVE_LABEL = "active"


class PipelineBusy(Exception):
    """Another pipeline holds the lock."""


class PipelineCancelled(Exception):
    """An operator asked the run to stop; it stops between steps."""


def stale_after() -> timedelta:
    return timedelta(minutes=getattr(settings, "PIPELINE_STALE_MINUTES", 60))


def reap_stale() -> int:
    """Mark runs whose worker stopped sending heartbeats as failed, freeing the lock."""
    limit = timezone.now() - stale_after()
    return (
        PipelineRun.objects.filter(lock=PipelineRun.LOCK)
        .filter(Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, created_at__lt=limit))
        .update(
            status=JobStatus.FAILED,
            lock=None,
            finished_at=timezone.now(),
            error=f"no heartbeat for {stale_after()}: its worker was lost",
        )
    )


def pipeline_create(
    *,
    algorithm_names: Sequence[str] = DEFAULT_ALGORITHMS,
    level: str = "song",
    metric: str = "ndcg@10",
    weighting: Mapping[str, Any] | None = None,
    created_by=None,
) -> PipelineRun:
    """A queued run holding the lock; PipelineBusy when another one holds it. `weighting`
    (over training's defaults, e.g. {"half_life_days": 90}) is how the winner is trained,
    and so how the evaluation weighs plays; the train step keeps it."""
    if level not in LEVELS:
        raise ValidationError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    unknown = [name for name in algorithm_names if name not in algorithms.ALGORITHMS]
    if unknown or not algorithm_names:
        raise ValidationError(
            f"name known algorithms (not {unknown}); known: {', '.join(algorithms.ALGORITHMS)}"
        )
    steps: dict[str, dict] = {name: {"status": WAITING} for name in STEPS}
    steps["train"]["weighting"] = {**DEFAULT_WEIGHTING, **(weighting or {})}
    reap_stale()
    try:
        with transaction.atomic():
            return PipelineRun.objects.create(
                algorithms=list(dict.fromkeys(algorithm_names)),
                level=level,
                metric=metric,
                lock=PipelineRun.LOCK,
                heartbeat_at=timezone.now(),
                steps=steps,
                created_by=created_by,
            )
    except IntegrityError as error:
        holder = PipelineRun.objects.filter(lock=PipelineRun.LOCK).first()
        raise PipelineBusy(
            f"pipeline {holder.pk if holder else '?'} is {holder.status if holder else 'busy'}"
            " (one pipeline at a time): wait for it, or cancel it in the admin"
        ) from error


class _Steps:
    """Records each step on the row as it starts, ends or fails (and the heartbeat)."""

    def __init__(self, run: PipelineRun, say: Callable[[str], None] | None):
        self.run, self.say = run, say or (lambda step: None)

    def save(self, **fields) -> None:
        self.run.heartbeat_at = timezone.now()
        for name, value in fields.items():
            setattr(self.run, name, value)
        on_a_live_connection(
            lambda: self.run.save(update_fields=["steps", "heartbeat_at", "progress", *fields])
        )

    def _seconds(self, name: str) -> float:
        started = datetime.fromisoformat(self.run.steps[name]["started_at"])
        return round((timezone.now() - started).total_seconds(), 2)

    def start(self, name: str) -> None:
        self.run.refresh_from_db(fields=["cancel_requested"])
        if self.run.cancel_requested:
            raise PipelineCancelled(f"cancelled before the {name} step")
        self.say(name)
        log.info("pipeline %s: %s started", self.run.pk, name)
        self.run.steps[name] = {
            **self.run.steps.get(name, {}),
            "status": JobStatus.RUNNING,
            "started_at": timezone.now().isoformat(),
        }
        self.save()

    def succeed(self, name: str, figures: dict) -> dict:
        self.run.steps[name].update(
            status=JobStatus.SUCCEEDED,
            finished_at=timezone.now().isoformat(),
            seconds=self._seconds(name),
            figures=figures,
        )
        self.run.progress = (STEPS.index(name) + 1) / len(STEPS)
        self.save()
        seconds = self.run.steps[name]["seconds"]
        log.info("pipeline %s: %s succeeded in %s s", self.run.pk, name, seconds)
        return figures

    def fail(self, name: str, error: Exception) -> None:
        self.run.steps[name].update(
            status=JobStatus.FAILED,
            seconds=self._seconds(name),
            error=f"{type(error).__name__}: {error}",
        )
        self.save()
        log.warning("pipeline %s: %s failed: %s", self.run.pk, name, self.run.steps[name]["error"])

    def do(self, name: str, work: Callable[[], dict]) -> dict:
        self.start(name)
        try:
            figures = work()
        except Exception as error:
            self.fail(name, error)
            raise
        return self.succeed(name, figures)


def _end(run: PipelineRun, status: str, error: str = "") -> None:
    """End the run (succeeded or cancelled) and give the lock back."""
    run.status, run.finished_at, run.error, run.lock = status, timezone.now(), error, None
    fields = ["status", "finished_at", "error", "lock", "steps", "progress", "heartbeat_at"]
    if status == JobStatus.SUCCEEDED:
        run.progress = 1.0
    run.heartbeat_at = timezone.now()
    on_a_live_connection(
        lambda: run.save(update_fields=[*fields, "decision", "evaluation", "published_set"])
    )


def _part(body: Callable[..., Any]) -> Callable[..., Any]:
    """One part of the pipeline, on its running row: a cancel ends the run as cancelled; a
    failure gives the lock back and is raised (the job lifecycle records it on the row)."""

    @functools.wraps(body)
    def part(run: PipelineRun, **options):
        try:
            return body(run, **options)
        except PipelineCancelled as cancelled:
            _end(run, JobStatus.CANCELLED, str(cancelled))
        except Exception:
            run.lock = None
            on_a_live_connection(lambda: run.save(update_fields=["lock", "steps"]))
            raise
        return None

    return part


def pipeline_start(*, run_id: int) -> bool:
    """Take the queued run (mark it running); False when it was started already.

    The same run may be started twice at once (a task sent or delivered twice, two clicks):
    the row's status changes from queued in one statement, so exactly one start wins and
    the other starts nothing (no second snapshot, evaluation or publication)."""
    now = timezone.now()
    taken = PipelineRun.objects.filter(pk=run_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, error=""
    )
    if not taken:
        status = PipelineRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        log.warning("pipeline %s was started already (%s): not started again", run_id, status)
    return bool(taken)


def pipeline_run(*, run_id: int, on_progress: Callable[[str], None] | None = None) -> PipelineRun:
    """Every part in this process, the snapshot's matrix built once for the evaluation and
    the winner's training. (The Celery canvas runs the same parts as a chain of tasks.)
    A run started already is returned as it is (`pipeline_start`)."""

    def every_part(run: PipelineRun) -> None:
        matrix = None
        pipeline_prepare(run, on_progress=on_progress)
        if run.status == JobStatus.RUNNING:
            matrix = pipeline_evaluate(run, on_progress=on_progress)
        if run.status == JobStatus.RUNNING:
            pipeline_train(run, matrix=matrix, on_progress=on_progress)
        if run.status == JobStatus.RUNNING:
            pipeline_publish(run, on_progress=on_progress)

    if not pipeline_start(run_id=run_id):
        return PipelineRun.objects.get(pk=run_id)
    return job_run(PipelineRun, run_id, every_part, finishes=False)


@_part
def pipeline_prepare(run: PipelineRun, *, on_progress: Callable[[str], None] | None = None):
    """The snapshot every later step reads, and the exploration of it."""
    steps = _Steps(run, on_progress)
    steps.do("snapshot", _snapshot)
    steps.do("explore", lambda: _explore(run))


@_part
def pipeline_evaluate(
    run: PipelineRun,
    *,
    matrix: InteractionMatrix | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> InteractionMatrix:
    """Every candidate (and the active set's model) on one split of the snapshot's matrix,
    which is returned; when the winner would not be published, the run ends here."""
    steps = _Steps(run, on_progress)
    matrix = matrix or pipeline_matrix(run)
    steps.do("evaluate", lambda: _evaluate(run, matrix))
    steps.save(evaluation=run.evaluation, decision=run.decision)
    if not run.steps["evaluate"]["figures"]["publishes"]:
        for name in ("train", "publish"):
            run.steps[name]["status"] = SKIPPED
        _end(run, JobStatus.SUCCEEDED)
    return matrix


@_part
def pipeline_train(
    run: PipelineRun,
    *,
    matrix: InteractionMatrix | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> None:
    """The evaluation's winner alone, trained on the whole snapshot (`matrix`, if the caller
    has it) with the run's weighting, as one ModelRun."""
    steps = _Steps(run, on_progress)
    steps.do("train", lambda: _train(run, matrix, steps.say))


@_part
def pipeline_publish(run: PipelineRun, *, on_progress: Callable[[str], None] | None = None):
    """Publish the trained winner; the run succeeds."""
    steps = _Steps(run, on_progress)
    steps.do("publish", lambda: _publish(run))
    _end(run, JobStatus.SUCCEEDED)


def pipeline_snapshot(run: PipelineRun) -> DataSnapshot:
    """The snapshot the run's snapshot step took."""
    return DataSnapshot.objects.get(pk=run.steps["snapshot"]["figures"]["snapshot"])


def pipeline_weighting(run: PipelineRun) -> dict[str, Any]:
    return {**DEFAULT_WEIGHTING, **run.steps["train"].get("weighting", {})}


def pipeline_matrix(run: PipelineRun) -> InteractionMatrix:
    """The matrix of exactly the run's snapshot (the same in every process that builds it)."""
    return snapshot_matrix(pipeline_snapshot(run), run.level, pipeline_weighting(run))


def step_rows(run: PipelineRun) -> list[dict]:
    """The run's steps in order, for people: name, status, progress (0 to 1, None where a step
    cannot tell), seconds, and the figures or the error. A running train step's progress
    is its model run's."""
    rows = []
    for name in STEPS:
        step = run.steps.get(name, {})
        status = step.get("status", WAITING)
        if status == JobStatus.RUNNING and run.is_finished:  # reaped or stopped mid-step
            status = run.status
        progress = {JobStatus.SUCCEEDED: 1.0, SKIPPED: 1.0, WAITING: 0.0}.get(status)
        if name == "train" and status == JobStatus.RUNNING and step.get("run"):
            progress = ModelRun.objects.filter(pk=step["run"]).values_list("progress", flat=True)[0]
        rows.append(
            {
                "name": name,
                "status": status,
                "running": status == JobStatus.RUNNING,
                "progress": progress,
                "seconds": step.get("seconds"),
                "detail": step.get("error") or step.get("figures") or "",
            }
        )
    return rows


def _snapshot() -> dict:
    snapshot = data_snapshot_create()
    if not snapshot.listens:
        raise ValueError("there are no listens: import some first")
    return {
        "snapshot": snapshot.pk,
        "last_listen_id": snapshot.last_listen_id,
        "listens": snapshot.listens,
        "listeners": snapshot.listeners,
    }


def _explore(run: PipelineRun) -> dict:
    created = exploration_report_create(snapshot=pipeline_snapshot(run))
    report = exploration_report_run(report_id=created.pk)
    return {"report": report.pk, "findings": len(report.findings)}


def _active_model() -> ModelRun | None:
    active = RecommendationSet.objects.filter(status=SetStatus.ACTIVE).select_related("run")
    found = active.first()
    return found.run if found else None


def _evaluate(run: PipelineRun, matrix: InteractionMatrix) -> dict:
    """The candidates, and the active set's model as `active`, on one split; whether the
    winner is to be trained and published (if not, `decision` says why)."""
    contenders = {name: dict(CANDIDATE_PARAMS.get(name, {})) for name in run.algorithms}
    if "blend" in contenders:
        contenders["blend"] = _blend_sized_for(matrix)
    current = _active_model()
    if current is not None and current.level == run.level:
        contenders[f"{current.algorithm}:{ACTIVE_LABEL}"] = current.params
    evaluation = evaluation_create(
        algorithm_params=contenders,
        level=run.level,
        metric=run.metric,
        protocol=protocol_weighted(pipeline_weighting(run)),
        snapshot=pipeline_snapshot(run),
    )
    run.evaluation = evaluation_run(evaluation_id=evaluation.pk, matrix=matrix)
    results = run.evaluation.results["results"]
    best = {label: round(result[run.metric], 4) for label, result in results.items()}
    return {
        "evaluation": run.evaluation.pk,
        "candidate": run.evaluation.candidate,
        "publishes": _beats_the_active_set(run),
        run.metric: best,
    }


def _blend_sized_for(matrix: InteractionMatrix) -> dict[str, Any]:
    """The default blend's params as it will be trained on the whole `matrix`: the blend
    sizes itself to the matrix it is fitted on, and the evaluation may fit it on a sample of
    listeners (fewer plays), so the components are fixed here from the whole snapshot's size,
    and the model evaluated is the model trained. {} when the defaults stand as they are."""
    components, weights = blend.sized_components(
        blend.DEFAULT_COMPONENTS, blend.DEFAULT_WEIGHTS, matrix.shape[1], matrix.plays.nnz
    )
    if components == blend.DEFAULT_COMPONENTS and weights == blend.DEFAULT_WEIGHTS:
        return {}
    return {"components": components, "weights": weights}


def _beats_the_active_set(run: PipelineRun) -> bool:
    """Whether the candidate beats the active set's model beyond its interval (or no set is
    active); if not, `decision` says why the active set stays."""
    results = run.evaluation.results["results"]
    candidate = run.evaluation.candidate
    active_label = next((label for label in results if label.endswith(f":{ACTIVE_LABEL}")), None)
    value = results[candidate][run.metric]
    if candidate == active_label:
        run.decision = f"kept the active set: its model is still the best by {run.metric}"
        return False
    if active_label is not None:
        low = results[candidate]["ci"][run.metric][0]
        current = results[active_label][run.metric]
        if low <= current:
            run.decision = (
                f"kept the active set: {candidate} ({run.metric} {value:.4f}, 95% CI from "
                f"{low:.4f}) does not beat the active model ({current:.4f}) beyond its interval"
            )
            return False
    return True


def _train(run: PipelineRun, matrix: InteractionMatrix | None, say: Callable[[str], None]) -> dict:
    candidate = run.evaluation.candidate
    model_run = model_run_create(
        algorithm=algorithm_of(candidate),
        params=run.evaluation.algorithms[candidate],
        level=run.level,
        weighting=pipeline_weighting(run),
        snapshot=pipeline_snapshot(run),
        # The run carries how its candidate measured, for whoever looks at the run alone.
        metrics=run.evaluation.run_metrics(candidate),
    )
    run.steps["train"]["run"] = model_run.pk
    heartbeat = PipelineRun.objects.filter(pk=run.pk)
    heartbeat.update(steps=run.steps)

    def beat(step: str) -> None:  # training can be long: keep the run from looking lost
        heartbeat.update(heartbeat_at=timezone.now())
        say(f"train: {step}")

    trained = model_run_train(run_id=model_run.pk, matrix=matrix, on_progress=beat)
    if trained.status != JobStatus.SUCCEEDED:
        raise RuntimeError(f"training {candidate} {trained.status}: {trained.error}")
    return {"run": trained.pk, "algorithm": trained.algorithm, "snapshot": trained.snapshot_id}


def _publish(run: PipelineRun) -> dict:
    results = run.evaluation.results["results"]
    candidate = run.evaluation.candidate
    value = results[candidate][run.metric]
    active = any(label.endswith(f":{ACTIVE_LABEL}") for label in results)
    published = publishing.publish(run_id=run.steps["train"]["figures"]["run"])
    run.published_set = published
    run.decision = f"published {candidate} ({run.metric} {value:.4f})" + (
        ": better than the active model beyond its interval" if active else ": no set was active"
    )
    return {"published": True, "set": published.pk, "listeners": published.listeners_count}
