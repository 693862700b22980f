"""Celery tasks: thin, they take ids and call one service."""

from celery import shared_task

from . import training


@shared_task(acks_late=True)
def model_run_train(run_id: int) -> str:
    """Train one ModelRun; its row records progress, timings, artifact or the failure."""
    return training.model_run_train(run_id=run_id).status
