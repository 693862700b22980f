"""Celery tasks: thin, they take ids and call one service."""

from celery import shared_task

from . import evaluations, pipeline, publishing, refresh, training


@shared_task(acks_late=True)
def model_run_train(run_id: int) -> str:
    """Train one ModelRun; its row records progress, timings, artifact or the failure."""
    return training.model_run_train(run_id=run_id).status


@shared_task(acks_late=True)
def evaluation_run(evaluation_id: int) -> str:
    """Run one Evaluation; its row records results, charts, candidate or the failure."""
    return evaluations.evaluation_run(evaluation_id=evaluation_id).status


@shared_task(acks_late=True)
def recommendation_set_publish(run_id: int, top_n: int | None = None) -> int:
    """Publish one ModelRun; returns the new active set's id (a failure is on the set row)."""
    return publishing.publish(run_id=run_id, top_n=top_n).pk


@shared_task(acks_late=True, ignore_result=True)
def listener_refresh(listener_id: int) -> bool:
    """Refold one listener's suggestions in the active set after new listens or feedback."""
    return refresh.refresh_listener(listener_id)


@shared_task(acks_late=True)
def pipeline_run(run_id: int) -> str:
    """The whole workflow; its row records each step, the decision or the failure."""
    return pipeline.pipeline_run(run_id=run_id).status


@shared_task(acks_late=True)
def pipeline_nightly() -> str:
    """The scheduled pipeline with its defaults; skipped (and said so) while one runs."""
    try:
        run = pipeline.pipeline_create()
    except pipeline.PipelineBusy as busy:
        return f"skipped: {busy}"
    return pipeline.pipeline_run(run_id=run.pk).status


@shared_task(ignore_result=True)
def prune() -> dict:
    """Old sets beyond RECOMMENDER_SETS_TO_KEEP, and the artifacts of old unused runs."""
    return {"sets": publishing.prune(), "artifacts": training.prune_artifacts()}


@shared_task(ignore_result=True)
def reap_lost_jobs() -> dict:
    """Jobs whose worker was lost are marked failed (every 10 minutes)."""
    from musicsite.reaper import reap_lost_jobs as reap

    return reap()
