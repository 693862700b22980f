"""Finding jobs whose worker was lost, so no row says "running" forever.

A Celery task cannot run past CELERY_TASK_TIME_LIMIT: the worker kills it. A job row still
running (or a recommendation set still building) longer than that has lost its worker —
killed, out of memory, its machine gone — and is marked failed with that reason. A
publication's half-built rows are deleted; the active set was never touched. Pipelines,
which run longer than any one task, are reaped by their own heartbeat (recommender.pipeline).
"""

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from .jobs import Job, JobStatus

MARGIN = timedelta(minutes=5)


def lost_after() -> timedelta:
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + MARGIN


def reap_lost_jobs(older_than: timedelta | None = None) -> dict[str, int]:
    """Mark every job running for longer than a task may run as failed; counts per model."""
    now = timezone.now()
    limit = now - (older_than if older_than is not None else lost_after())
    reason = (
        f"its worker was lost: still running after {older_than or lost_after()}, longer than "
        "any task may run"
    )
    reaped: dict[str, int] = {}
    for model in apps.get_models():
        if not issubclass(model, Job) or model._meta.label == "recommender.PipelineRun":
            continue
        count = model.objects.filter(status=JobStatus.RUNNING, started_at__lt=limit).update(
            status=JobStatus.FAILED, finished_at=now, error=reason
        )
        if count:
            reaped[model._meta.label] = count
    from recommender.models import ListenerRecommendations, RecommendationSet, SetStatus
    from recommender.pipeline import reap_stale

    building = list(
        RecommendationSet.objects.filter(
            status=SetStatus.BUILDING, created_at__lt=limit
        ).values_list("pk", flat=True)
    )
    if building:
        ListenerRecommendations.objects.filter(recommendation_set__in=building).delete()
        RecommendationSet.objects.filter(pk__in=building).update(
            status=SetStatus.FAILED, error=reason
        )
        reaped["recommender.RecommendationSet"] = len(building)
    pipelines = reap_stale()
    if pipelines:
        reaped["recommender.PipelineRun"] = pipelines
    return reaped
