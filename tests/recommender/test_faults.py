"""Faults the workflow must survive, with real workers, PostgreSQL and Redis."""

import os
import signal
import time
from datetime import timedelta

import pytest

from musicsite.jobs import JobStatus
from musicsite.reaper import reap_lost_jobs
from recommender import tasks
from recommender.models import ListenerRecommendations, ModelRun, RecommendationSet, SetStatus
from recommender.training import model_run_create
from tests.listening_data import import_generated, publish_trained

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def wait_for(condition, seconds: float = 60.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def test_a_worker_killed_while_training_leaves_an_honest_failure_and_the_active_set(
    celery_worker_process, tmp_path
):
    import_generated(tmp_path)
    active = publish_trained("item_knn", top_n=10)
    rows_before = ListenerRecommendations.objects.filter(recommendation_set_id=active).count()
    # Thousands of iterations: long enough to be caught mid-fit.
    run = model_run_create(algorithm="als", params={"factors": 64, "iterations": 20_000})
    tasks.model_run_train.apply_async(args=[run.pk], queue=celery_worker_process.queue)

    fitting = wait_for(lambda: ModelRun.objects.get(pk=run.pk).progress >= 0.2)
    assert fitting, celery_worker_process.log_path.read_text()[-2000:]
    os.kill(celery_worker_process.process.pid, signal.SIGKILL)
    celery_worker_process.process.wait(timeout=10)

    run.refresh_from_db()
    assert run.status == JobStatus.RUNNING  # what the row says until it is reaped
    reaped = reap_lost_jobs(older_than=timedelta(0))
    run.refresh_from_db()
    assert reaped == {"recommender.ModelRun": 1}
    assert run.status == JobStatus.FAILED and "worker was lost" in run.error
    assert not run.artifact
    current = RecommendationSet.objects.get(status=SetStatus.ACTIVE)
    assert current.pk == active
    assert ListenerRecommendations.objects.filter(recommendation_set=current).count() == rows_before
