"""Celery tasks: thin, they take ids and call one service. The only module that queues them.

Every task that runs a job row is a `JobTask` (musicsite/job_task.py): it is sent the row's
id, its body is given the running row, and the lifecycle, retries included, is the base's.
"""

import logging

from celery import chain, chord, group, shared_task
from celery.contrib.django.task import DjangoTask
from celery.result import allow_join_result
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnreachable

from musicsite.job_task import JobTask
from musicsite.safe_cache import attempt

from . import evaluations, pipeline, publishing, reaping, refresh, training
from .models import Evaluation, ModelRun, PendingRefresh, PipelineRun

log = logging.getLogger(__name__)

# The parts of a pipeline run once, in order; the database being lost fails the pipeline
# (and says so) rather than retrying a part: the lock was given back.
PIPELINE_PART = {"base": JobTask, "job_model": PipelineRun, "finishes_job": False}
NOT_RETRIED = {"autoretry_for": (), "max_retries": 0}


@shared_task(base=JobTask, job_model=ModelRun)
def model_run_train(run: ModelRun) -> None:
    """Train one ModelRun; its row records progress, timings, artifact or the failure."""
    training.model_run_fit(run=run)


@shared_task(base=JobTask, job_model=Evaluation)
def evaluation_run(evaluation: Evaluation) -> None:
    """Run one Evaluation; its row records results, charts, candidate or the failure."""
    evaluations.evaluation_compute(evaluation)


def model_search_start(**search) -> list[ModelRun]:
    """`training.model_search_create`'s runs, trained in parallel as a Celery group once
    the transaction commits."""
    runs = training.model_search_create(**search)
    transaction.on_commit(lambda: group(model_run_train.s(run.pk) for run in runs).apply_async())
    return runs


@shared_task(bind=True)
def recommendation_set_publish(
    self, run_id: int, top_n: int | None = None, block_listeners: int | None = None
) -> int:
    """Publish one ModelRun; returns the new active set's id (a failure is on the set row).

    In-process (eager), the listener blocks run here one after another. On a worker, the
    publication is prepared here and this task becomes a chord of its blocks, spread over
    the workers, whose callback activates the set (`publication_chord`)."""
    blocks = {"block_listeners": block_listeners} if block_listeners else {}
    if self.request.is_eager:
        return publishing.publish(run_id=run_id, top_n=top_n, **blocks).pk
    prepared = publishing.publication_prepare(run_id=run_id, top_n=top_n, **blocks)
    return self.replace(publication_chord(prepared.pk, prepared.block_count))


def publication_chord(set_id: int, block_count: int):
    """A prepared set's blocks as one group across the workers, and the activation once
    every one of them is in."""
    return chord(
        (publication_block.si(set_id, index) for index in range(block_count)),
        publication_finish.si(set_id),
    )


class PublicationTask(DjangoTask):
    """A part of a publication run by a worker. Acknowledged late and given back when its
    worker process dies (CELERY_TASK_ACKS_LATE, CELERY_TASK_REJECT_ON_WORKER_LOST), so a
    SIGKILLed block is redelivered; any failure but a `PublishError` (the set is gone, or
    no longer building) is retried; one that fails for good fails the set, so it is never
    activated."""

    autoretry_for = (Exception,)
    dont_autoretry_for = (publishing.PublishError,)
    max_retries = 3
    retry_backoff = 2  # seconds before the first retry, doubled for each next one
    retry_jitter = False

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        publishing.publication_fail(set_id=args[0], error=exc)


@shared_task(base=PublicationTask)
def publication_block(set_id: int, index: int) -> int:
    """Rank and write block `index` of a prepared set; how many listeners it holds."""
    return len(publishing.publication_block(set_id=set_id, index=index))


@shared_task(base=PublicationTask)
def publication_finish(set_id: int) -> int:
    """Activate a set once every block is in, catch up, prune; the set's id."""
    return publishing.publication_finish(set_id=set_id)


@shared_task(ignore_result=True)
def listener_refresh(listener_id: int) -> bool:
    """Refold one listener's suggestions in the active set after new listens or feedback."""
    return refresh.refresh_listener(listener_id)


@shared_task(ignore_result=True)
def refresh_pending() -> int:
    """Queue the refreshes requested while the broker was down (every minute)."""
    return resend_pending()


def request_refresh(listener_id: int) -> bool:
    """Queue one refresh of the listener after the transaction commits, unless one is
    already waiting (listens in a burst coalesce); True when queued. Without a cache, every
    request queues."""
    key = refresh.pending_key(listener_id)
    if not attempt("add", key, 1, refresh.PENDING_SECONDS, default=True):
        return False
    transaction.on_commit(lambda: _send_refresh(listener_id))
    return True


def _send_refresh(listener_id: int) -> bool:
    """Queue the refresh; with the broker down, keep it in the database for
    `resend_pending` (the listens are stored either way, and the request succeeds)."""
    try:
        listener_refresh.delay(listener_id)
    except BrokerUnreachable:
        log.warning("refresh of listener %s kept for later: the broker is unavailable", listener_id)
        attempt("delete", refresh.pending_key(listener_id))
        PendingRefresh.objects.bulk_create(
            [PendingRefresh(listener_id=listener_id)], ignore_conflicts=True
        )
        return False
    return True


RESEND_BATCH = 5000


def resend_pending() -> int:
    """Queue the refreshes the broker missed while it was down, oldest first; how many.
    Stops at the first that still cannot be queued (the rest wait for the next run)."""
    waiting = PendingRefresh.objects.order_by("requested_at").values_list("listener_id", flat=True)
    sent = []
    for listener_id in waiting[:RESEND_BATCH]:
        if not _send_refresh(listener_id):
            break
        sent.append(listener_id)
    PendingRefresh.objects.filter(listener_id__in=sent).delete()
    return len(sent)


@shared_task(bind=True)
def pipeline_run(self, run_id: int) -> str:
    """The whole workflow as a chain of its parts (each may run on another worker, and
    reads the same bounded snapshot); the row records each step and the decision. Returns
    the run's status once the chain has ended, or why it was not started (it was already)."""
    if not pipeline.pipeline_start(run_id=run_id):
        status = PipelineRun.objects.values_list("status", flat=True).get(pk=run_id)
        return f"not started again: pipeline {run_id} is {status}"
    parts = (pipeline_prepare, pipeline_evaluate, pipeline_train, pipeline_publish)
    return _replace(self, chain(part.si(run_id) for part in parts))


@shared_task(**PIPELINE_PART, **NOT_RETRIED)
def pipeline_prepare(run: PipelineRun) -> None:
    """A pipeline's snapshot and its exploration."""
    pipeline.pipeline_prepare(run)


@shared_task(**PIPELINE_PART, **NOT_RETRIED)
def pipeline_evaluate(run: PipelineRun) -> None:
    """A pipeline's candidates compared on one split of its snapshot."""
    pipeline.pipeline_evaluate(run)


@shared_task(**PIPELINE_PART, **NOT_RETRIED)
def pipeline_train(run: PipelineRun) -> None:
    """A pipeline's winner trained on its whole snapshot."""
    pipeline.pipeline_train(run)


@shared_task(**PIPELINE_PART, **NOT_RETRIED)
def pipeline_publish(run: PipelineRun) -> None:
    """A pipeline's trained winner published."""
    pipeline.pipeline_publish(run)


@shared_task(bind=True)
def pipeline_nightly(self) -> str:
    """The scheduled pipeline with its defaults; skipped (and said so) while one runs."""
    try:
        run = pipeline.pipeline_create()
    except pipeline.PipelineBusy as busy:
        return f"skipped: {busy}"
    return _replace(self, pipeline_run.si(run.pk))


def _replace(task, signature):
    """`task.replace(signature)`. Eager (in-process) Celery runs the signature and joins its
    results inside the task, which it refuses unless told; on a worker `replace` only sends
    the signature and never waits."""
    with allow_join_result():
        return task.replace(signature)


@shared_task(ignore_result=True)
def prune() -> dict:
    """Old sets beyond RECOMMENDER_SETS_TO_KEEP, and the artifacts of old unused runs."""
    return {"sets": publishing.prune(), "artifacts": training.prune_artifacts()}


@shared_task(ignore_result=True)
def reap_lost_jobs() -> dict:
    """Jobs, publications and pipelines whose worker was lost are marked failed (every 10
    minutes)."""
    return reaping.reap_lost_work()
