"""Celery tasks: thin, they take ids and call one service."""

from celery import chord, group, shared_task
from celery.result import allow_join_result

from musicsite.jobs import DATABASE_LOST

from . import evaluations, pipeline, publishing, refresh, training
from .models import Evaluation, ModelRun, PipelineRun

# A job that failed because the database went away (a restart, a failover) is tried again.
RETRIES = 3
RETRY_SECONDS = 10


def _retrying_when_the_database_is_lost(task, model, pk: int, work) -> str:
    """`work()`'s status; on a lost database connection the job's row says it failed and
    the task is retried, which reopens the row and does the work again."""
    try:
        if task.request.retries:
            model.objects.get(pk=pk).reopen()
        return work()
    except DATABASE_LOST as lost:
        if task.request.is_eager:  # in-process there is no queue to wait in: fail now
            raise
        raise task.retry(exc=lost, countdown=RETRY_SECONDS) from lost


@shared_task(bind=True, acks_late=True, max_retries=RETRIES)
def model_run_train(self, run_id: int) -> str:
    """Train one ModelRun; its row records progress, timings, artifact or the failure."""
    return _retrying_when_the_database_is_lost(
        self, ModelRun, run_id, lambda: training.model_run_train(run_id=run_id).status
    )


@shared_task(bind=True, acks_late=True, max_retries=RETRIES)
def evaluation_run(self, evaluation_id: int) -> str:
    """Run one Evaluation; its row records results, charts, candidate or the failure."""
    return _retrying_when_the_database_is_lost(
        self,
        Evaluation,
        evaluation_id,
        lambda: evaluations.evaluation_run(evaluation_id=evaluation_id).status,
    )


@shared_task(acks_late=True)
def recommendation_set_publish(run_id: int, top_n: int | None = None) -> int:
    """Publish one ModelRun; returns the new active set's id (a failure is on the set row)."""
    return publishing.publish(run_id=run_id, top_n=top_n).pk


@shared_task(acks_late=True, ignore_result=True)
def listener_refresh(listener_id: int) -> bool:
    """Refold one listener's suggestions in the active set after new listens or feedback."""
    return refresh.refresh_listener(listener_id)


@shared_task(ignore_result=True)
def refresh_pending() -> int:
    """Queue the refreshes requested while the broker was down (every minute)."""
    return refresh.resend_pending()


@shared_task(bind=True, acks_late=True)
def pipeline_run(self, run_id: int) -> str:
    """The whole workflow as a canvas: snapshot and exploration here, then a chord of one
    training task per candidate (in parallel, as many as the workers' processes allow)
    whose callback evaluates and publishes. The row records each step and the decision."""
    candidates = pipeline.pipeline_prepare(run_id=run_id)  # (a failure raises, recorded)
    if not candidates:  # had finished, or was cancelled before training
        return PipelineRun.objects.get(pk=run_id).status
    training = group(pipeline_train.si(run_id, model_run_id) for model_run_id in candidates)
    return _replace(self, chord(training, pipeline_conclude.si(run_id)))


@shared_task(acks_late=True)
def pipeline_train(run_id: int, model_run_id: int) -> str:
    """One candidate of a pipeline; never raises, so the chord's callback runs. (Not
    retried when the database is lost: the pipeline ends failed, and says so.)"""
    return pipeline.pipeline_train(run_id=run_id, model_run_id=model_run_id)


@shared_task(acks_late=True)
def pipeline_conclude(run_id: int) -> str:
    """A pipeline's evaluation and publication, once its candidates are trained."""
    return pipeline.pipeline_conclude(run_id=run_id).status


@shared_task(bind=True, acks_late=True)
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
    """Jobs whose worker was lost are marked failed (every 10 minutes)."""
    from musicsite.reaper import reap_lost_jobs as reap

    return reap()
