"""Finding jobs whose worker was lost, so no row says "running" forever.

A Celery task cannot run past CELERY_TASK_TIME_LIMIT: the worker kills it. A job row still
running longer than that has lost its worker — killed, out of memory, its machine gone —
and is marked failed with that reason. Jobs that run longer than any one task (a pipeline's
steps span several) are reaped by their own rule and left out here; each app reaps its own
other leftovers (recommender.reaping: half-built publications, pipelines).
"""

from collections.abc import Collection
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from .jobs import Job, JobStatus

MARGIN = timedelta(minutes=5)


def lost_after() -> timedelta:
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + MARGIN


def lost_reason(older_than: timedelta) -> str:
    return f"its worker was lost: still running after {older_than}, longer than any task may run"


def reap_lost_jobs(
    older_than: timedelta | None = None, *, reaped_elsewhere: Collection[type[Job]] = ()
) -> dict[str, int]:
    """Mark every job running for longer than a task may run as failed; counts per model
    label. `reaped_elsewhere`: job models with a rule of their own, left alone."""
    older_than = older_than if older_than is not None else lost_after()
    now = timezone.now()
    reaped: dict[str, int] = {}
    for model in apps.get_models():
        if not issubclass(model, Job) or model in reaped_elsewhere:
            continue
        count = model.objects.filter(
            status=JobStatus.RUNNING, started_at__lt=now - older_than
        ).update(status=JobStatus.FAILED, finished_at=now, error=lost_reason(older_than))
        if count:
            reaped[model._meta.label] = count
    return reaped
