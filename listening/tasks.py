"""Celery tasks: thin, they take ids and call one service."""

from celery import shared_task

from . import services


@shared_task
def data_snapshot_create() -> int:
    """Record the current size of the listening data; returns the snapshot's id."""
    return services.data_snapshot_create().pk
