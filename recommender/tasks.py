"""Celery tasks: thin, they take ids and call one service."""

from celery import shared_task

from . import evaluations, training


@shared_task(acks_late=True)
def model_run_train(run_id: int) -> str:
    """Train one ModelRun; its row records progress, timings, artifact or the failure."""
    return training.model_run_train(run_id=run_id).status


@shared_task(acks_late=True)
def evaluation_run(evaluation_id: int) -> str:
    """Run one Evaluation; its row records results, charts, candidate or the failure."""
    return evaluations.evaluation_run(evaluation_id=evaluation_id).status
