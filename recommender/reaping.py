"""What a lost worker leaves behind in the recommender, found and cleaned (every 10 minutes).

Job rows running past the task time limit are failed by the core reaper; a publication
still building that long has its half-built rows deleted and is failed (the active set was
never touched); a pipeline, whose steps span several tasks, is reaped when its heartbeat
stops (`pipeline.reap_stale`).
"""

from datetime import timedelta

from django.utils import timezone

from musicsite.reaper import lost_after, lost_reason, reap_lost_jobs

from .models import ListenerRecommendations, PipelineRun, RecommendationSet, SetStatus
from .pipeline import reap_stale


def reap_lost_work(older_than: timedelta | None = None) -> dict[str, int]:
    """Every lost job, half-built set and stale pipeline marked failed; counts per model."""
    older_than = older_than if older_than is not None else lost_after()
    reaped = reap_lost_jobs(older_than, reaped_elsewhere=[PipelineRun])
    building = list(
        RecommendationSet.objects.filter(
            status=SetStatus.BUILDING, created_at__lt=timezone.now() - older_than
        ).values_list("pk", flat=True)
    )
    if building:
        ListenerRecommendations.objects.filter(recommendation_set__in=building).delete()
        RecommendationSet.objects.filter(pk__in=building).update(
            status=SetStatus.FAILED, error=lost_reason(older_than)
        )
        reaped[RecommendationSet._meta.label] = len(building)
    pipelines = reap_stale()
    if pipelines:
        reaped[PipelineRun._meta.label] = pipelines
    return reaped
