"""The reaper: rows whose worker was lost never stay running or building."""

from datetime import timedelta

import pytest
from django.utils import timezone

from musicsite.jobs import JobStatus
from musicsite.reaper import reap_lost_jobs
from recommender.models import ListenerRecommendations, SetStatus
from recommender.reaping import reap_lost_work
from tests.factories import (
    EvaluationFactory,
    ImportBatchFactory,
    ListenerRecommendationsFactory,
    ModelRunFactory,
    RecommendationSetFactory,
)

pytestmark = pytest.mark.django_db


def test_jobs_running_past_the_task_time_limit_are_failed_and_fresh_ones_left(settings):
    settings.CELERY_TASK_TIME_LIMIT = 3600
    long_ago = timezone.now() - timedelta(hours=3)
    lost = [
        ModelRunFactory(status=JobStatus.RUNNING, started_at=long_ago),
        EvaluationFactory(status=JobStatus.RUNNING, started_at=long_ago),
        ImportBatchFactory(status=JobStatus.RUNNING, started_at=long_ago),
    ]
    fresh = ModelRunFactory(status=JobStatus.RUNNING, started_at=timezone.now())
    done = ModelRunFactory(status=JobStatus.SUCCEEDED, started_at=long_ago)
    half_built = RecommendationSetFactory(status=SetStatus.BUILDING)
    type(half_built).objects.filter(pk=half_built.pk).update(created_at=long_ago)
    ListenerRecommendationsFactory(recommendation_set=half_built)

    assert reap_lost_jobs() == {  # the core's part: job rows only
        "recommender.ModelRun": 1,
        "recommender.Evaluation": 1,
        "listening.ImportBatch": 1,
    }
    for job in lost:
        job.status = JobStatus.RUNNING
        job.save(update_fields=["status"])

    reaped = reap_lost_work()  # what the beat task runs: the recommender's part too

    assert reaped == {
        "recommender.ModelRun": 1,
        "recommender.Evaluation": 1,
        "listening.ImportBatch": 1,
        "recommender.RecommendationSet": 1,
    }
    for job in lost:
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED and "worker was lost" in job.error
    for job in (fresh, done):
        status = job.status
        job.refresh_from_db()
        assert job.status == status
    half_built.refresh_from_db()
    assert half_built.status == SetStatus.FAILED
    assert not ListenerRecommendations.objects.filter(recommendation_set=half_built).exists()
