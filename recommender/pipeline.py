"""The whole workflow as one job: snapshot → exploration → training → evaluation → publication.

One pipeline at a time: a run takes the lock (a unique column) when it is created and gives
it back when it ends; a run whose worker died stops sending heartbeats and is reaped after
STALE_AFTER, so the lock cannot be held forever. Each step's status, times, figures and
error are on the row as it goes. The evaluation's candidate is published only if it beats
the active set's model (evaluated on the same split) beyond its confidence interval;
otherwise the active set stays and `decision` says why.

It runs in three parts so that a Celery canvas can train the candidates in parallel:
`pipeline_prepare` (snapshot, exploration, one ModelRun per candidate), `pipeline_train`
for each candidate, and `pipeline_conclude` once all are trained (evaluation, publication).
`pipeline_run` runs the three in this process, one candidate after another.
"""

import logging
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from listening.exploration.report import exploration_report_create, exploration_report_run
from listening.services import data_snapshot_create
from musicsite.jobs import FINISHED_STATUSES, JobStatus, on_a_live_connection

from . import algorithms, publishing
from .data import LEVELS
from .evaluations import evaluation_create, evaluation_run
from .models import ModelRun, PipelineRun, RecommendationSet, SetStatus
from .training import model_run_create, model_run_train

log = logging.getLogger(__name__)

STEPS = ("snapshot", "explore", "train", "evaluate", "publish")
DEFAULT_ALGORITHMS = ("popularity", "item_knn", "rp3beta", "als")
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
    created_by=None,
) -> PipelineRun:
    """A queued run holding the lock; PipelineBusy when another one holds it."""
    if level not in LEVELS:
        raise ValidationError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    unknown = [name for name in algorithm_names if name not in algorithms.ALGORITHMS]
    if unknown or not algorithm_names:
        raise ValidationError(
            f"name known algorithms (not {unknown}); known: {', '.join(algorithms.ALGORITHMS)}"
        )
    reap_stale()
    try:
        with transaction.atomic():
            return PipelineRun.objects.create(
                algorithms=list(dict.fromkeys(algorithm_names)),
                level=level,
                metric=metric,
                lock=PipelineRun.LOCK,
                heartbeat_at=timezone.now(),
                steps={name: {"status": "waiting"} for name in STEPS},
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

    def __init__(self, run: PipelineRun, say: Callable[[str], None]):
        self.run, self.say = run, say

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
        self.run.steps[name] = {"status": "running", "started_at": timezone.now().isoformat()}
        self.save()

    def succeed(self, name: str, figures: dict) -> dict:
        self.run.steps[name].update(
            status="succeeded",
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
            status="failed", seconds=self._seconds(name), error=f"{type(error).__name__}: {error}"
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


def _stopped(run: PipelineRun, error: Exception) -> PipelineRun:
    """End the run as cancelled (returned) or failed (re-raised), giving the lock back
    (recorded on a new connection if the database connection was what failed)."""
    run.lock = None
    if isinstance(error, PipelineCancelled):
        run.status, run.finished_at, run.error = JobStatus.CANCELLED, timezone.now(), str(error)
        on_a_live_connection(
            lambda: run.save(update_fields=["status", "finished_at", "error", "lock", "steps"])
        )
        return run
    run.mark_failed(
        f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=4)}",
        also=["lock", "steps"],
    )
    raise error


def pipeline_run(*, run_id: int, on_progress: Callable[[str], None] | None = None) -> PipelineRun:
    """Every step in this process, the candidates trained one after another. (The Celery
    task runs the same three parts with the candidates trained in parallel.)"""
    for model_run_id in pipeline_prepare(run_id=run_id, on_progress=on_progress):
        pipeline_train(run_id=run_id, model_run_id=model_run_id, on_progress=on_progress)
    return pipeline_conclude(run_id=run_id, on_progress=on_progress)


def pipeline_prepare(*, run_id: int, on_progress: Callable[[str], None] | None = None) -> list[int]:
    """Snapshot and explore, then start the train step: one ModelRun per candidate, their
    ids returned; none when the run had finished or is cancelled. A failure is recorded
    on the run and raised."""
    run = PipelineRun.objects.get(pk=run_id)
    if run.is_finished:
        return []
    run.mark_running()
    steps = _Steps(run, on_progress or (lambda step: None))
    try:
        steps.do("snapshot", _snapshot)
        steps.do("explore", _explore)
        steps.start("train")
        try:
            candidates = {
                name: model_run_create(algorithm=name, level=run.level).pk
                for name in run.algorithms
            }
        except Exception as error:
            steps.fail("train", error)
            raise
    except Exception as error:
        _stopped(run, error)
        return []
    run.steps["train"]["runs"] = candidates
    steps.save()
    return list(candidates.values())


def pipeline_train(
    *, run_id: int, model_run_id: int, on_progress: Callable[[str], None] | None = None
) -> str:
    """Train one candidate of a running pipeline; its ModelRun row records the outcome.
    Never raises: a failure is logged and reported by `pipeline_conclude`, so the other
    candidates carry on and the chord's callback runs."""
    try:
        return _train_candidate(run_id, model_run_id, on_progress or (lambda step: None))
    except Exception:
        log.exception("pipeline %s: training model run %s failed", run_id, model_run_id)
        return JobStatus.FAILED


def _train_candidate(run_id: int, model_run_id: int, say: Callable[[str], None]) -> str:
    run = PipelineRun.objects.get(pk=run_id)
    if run.status != JobStatus.RUNNING or run.cancel_requested:
        ModelRun.objects.filter(pk=model_run_id, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now()
        )
        return JobStatus.CANCELLED
    share = 1 / len(STEPS) / len(run.algorithms)
    heartbeat = PipelineRun.objects.filter(pk=run_id)

    def beat(step: str) -> None:  # training can be long: keep the run from looking lost
        heartbeat.update(heartbeat_at=timezone.now())
        say(f"train: {step}")

    try:
        status = model_run_train(run_id=model_run_id, on_progress=beat).status
    finally:
        on_a_live_connection(
            lambda: heartbeat.update(heartbeat_at=timezone.now(), progress=F("progress") + share)
        )
    return status


def pipeline_conclude(
    *, run_id: int, on_progress: Callable[[str], None] | None = None
) -> PipelineRun:
    """Once every candidate is trained: end the train step, evaluate, publish (or not)."""
    run = PipelineRun.objects.get(pk=run_id)
    if run.is_finished:
        return run
    steps = _Steps(run, on_progress or (lambda step: None))
    try:
        trained = _trained(run, steps)
        steps.do("evaluate", lambda: _evaluate(run, trained))
        steps.do("publish", lambda: _publish(run, trained))
    except Exception as error:
        return _stopped(run, error)
    run.lock = None
    run.save(update_fields=["lock", "decision", "evaluation", "published_set"])
    run.mark_succeeded()
    return run


def _trained(run: PipelineRun, steps: _Steps) -> dict:
    """End the train step: {algorithm: run id}, or the first failure."""
    candidates = run.steps["train"].get("runs", {})
    outcomes = ModelRun.objects.in_bulk(candidates.values())
    run.refresh_from_db(fields=["cancel_requested"])
    if run.cancel_requested:
        run.steps["train"]["status"] = JobStatus.CANCELLED
        raise PipelineCancelled("cancelled while training")
    try:
        for name, model_run_id in candidates.items():
            outcome = outcomes[model_run_id]
            if outcome.status != JobStatus.SUCCEEDED:
                raise RuntimeError(f"training {name} {outcome.status}: {outcome.error}")
    except Exception as error:
        steps.fail("train", error)
        raise
    return steps.succeed("train", dict(candidates))


def step_rows(run: PipelineRun) -> list[dict]:
    """The run's steps in order, for people: name, status, progress (0 to 1, None where a step
    cannot tell), seconds, and the figures or the error. A running train step's progress
    is the share of its candidates that finished training."""
    rows = []
    for name in STEPS:
        step = run.steps.get(name, {})
        status = step.get("status", "waiting")
        if status == "running" and run.is_finished:  # reaped or stopped mid-step
            status = run.status
        progress = {"succeeded": 1.0, "waiting": 0.0}.get(status)
        if name == "train" and status == "running" and step.get("runs"):
            finished = ModelRun.objects.filter(
                pk__in=step["runs"].values(), status__in=FINISHED_STATUSES
            ).count()
            progress = finished / len(step["runs"])
        rows.append(
            {
                "name": name,
                "status": status,
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
    return {"snapshot": snapshot.pk, "listens": snapshot.listens, "listeners": snapshot.listeners}


def _explore() -> dict:
    report = exploration_report_run(report_id=exploration_report_create().pk)
    return {"report": report.pk, "findings": len(report.findings)}


def _active_model() -> ModelRun | None:
    active = RecommendationSet.objects.filter(status=SetStatus.ACTIVE).select_related("run")
    found = active.first()
    return found.run if found else None


def _evaluate(run: PipelineRun, trained: dict) -> dict:
    """The candidates, and the active set's model as `active`, on one split."""
    contenders = {name: ModelRun.objects.get(pk=trained[name]).params for name in run.algorithms}
    current = _active_model()
    if current is not None and current.level == run.level:
        contenders[f"{current.algorithm}:{ACTIVE_LABEL}"] = current.params
    evaluation = evaluation_run(
        evaluation_id=evaluation_create(
            algorithm_params=contenders, level=run.level, metric=run.metric
        ).pk
    )
    run.evaluation = evaluation
    best = {
        label: round(result[run.metric], 4)
        for label, result in evaluation.results["results"].items()
    }
    return {"evaluation": evaluation.pk, "candidate": evaluation.candidate, run.metric: best}


def _publish(run: PipelineRun, trained: dict) -> dict:
    results = run.evaluation.results["results"]
    candidate = run.evaluation.candidate
    active_label = next((label for label in results if label.endswith(f":{ACTIVE_LABEL}")), None)
    value = results[candidate][run.metric]
    if candidate == active_label:
        run.decision = f"kept the active set: its model is still the best by {run.metric}"
        return {"published": False}
    if active_label is not None:
        low = results[candidate]["ci"][run.metric][0]
        current = results[active_label][run.metric]
        if low <= current:
            run.decision = (
                f"kept the active set: {candidate} ({run.metric} {value:.4f}, 95% CI from "
                f"{low:.4f}) does not beat the active model ({current:.4f}) beyond its interval"
            )
            return {"published": False}
    algorithm = candidate.split(":", 1)[0]
    published = publishing.publish(run_id=trained[algorithm])
    run.published_set = published
    run.decision = f"published {candidate} ({run.metric} {value:.4f})" + (
        ": better than the active model beyond its interval"
        if active_label
        else ": no set was active"
    )
    return {"published": True, "set": published.pk, "listeners": published.listeners_count}
