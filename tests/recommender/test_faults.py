"""Faults the workflow must survive, with real workers, PostgreSQL and Redis."""

import os
import signal
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client

from musicsite.jobs import JobStatus
from recommender import tasks
from recommender.models import ListenerRecommendations, ModelRun, RecommendationSet, SetStatus
from recommender.reaping import reap_lost_work as reap_lost_jobs
from recommender.training import artifact_root, model_run_create, model_run_train
from tests.listening_data import import_generated, publish_trained
from tests.services import celery_broker, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.mark.worker
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


@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_pages_and_the_api_serve_and_listens_are_kept(
    own_redis, tmp_path, settings
):
    from knox.models import AuthToken

    from catalog.models import Song
    from listening.models import Listen, Listener
    from tests.factories import UserFactory
    from web import fast_reads

    url = own_redis.url
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    settings.REDIS_URL = url
    fast_reads._client = None
    import_generated(tmp_path)
    publish_trained("item_knn", top_n=10)
    user = UserFactory()
    listener = Listener.objects.filter(user__isnull=True).order_by("pk").first()
    listener.user = user
    listener.save()
    api = Client(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    assert api.get("/api/v1/me/recommendations/").status_code == 200  # cached now

    own_redis.stop()
    fast_reads._client = None

    suggestions = api.get("/api/v1/me/recommendations/")
    assert suggestions.status_code == 200 and suggestions.json()["results"]
    song = Song.objects.exclude(listens__listener=listener).first()
    before = Listen.objects.filter(listener=listener).count()
    posted = api.post(
        "/api/v1/me/listens/", {"listens": [{"song": song.pk}]}, content_type="application/json"
    )
    assert posted.status_code == 201
    assert Listen.objects.filter(listener=listener).count() == before + 1
    page = Client()
    page.force_login(user)
    assert page.get("/").status_code == 200
    ready = Client().get("/readyz")  # still serving: degraded, not out of the balancer
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert not ready.json()["checks"]["cache"]["ok"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_refreshes_asked_for_while_redis_is_down_run_once_it_is_back(own_redis, tmp_path):
    from knox.models import AuthToken

    from catalog.models import Song
    from listening.models import Listener
    from recommender.models import PendingRefresh
    from tests.conftest import WorkerProcess
    from tests.factories import UserFactory

    import_generated(tmp_path)
    active = publish_trained("item_knn", top_n=10)
    user = UserFactory()
    listener = Listener.objects.filter(user__isnull=True).order_by("pk").first()
    listener.user = user
    listener.save()
    api = Client(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    row = ListenerRecommendations.objects.filter(
        recommendation_set_id=active, listener=listener, level="song"
    )

    with celery_broker(own_redis.url):
        worker = WorkerProcess(tmp_path / "worker.log", redis_url=own_redis.url)
        try:
            worker.wait_ready()
            own_redis.stop()
            song = Song.objects.exclude(listens__listener=listener).first()
            posted = api.post(
                "/api/v1/me/listens/",
                {"listens": [{"song": song.pk, "play_count": 30}]},
                content_type="application/json",
            )
            assert posted.status_code == 201  # the listen is kept; its refresh waits
            assert PendingRefresh.objects.filter(listener=listener).exists()
            assert row.get().refreshed_at is None

            own_redis.start()
            worker.wait_ready()  # it reconnected
            # What beat sends every minute, to this worker's queue.
            tasks.refresh_pending.apply_async(queue=worker.queue)
            refreshed = wait_for(lambda: row.get().refreshed_at is not None, seconds=30)
            assert refreshed, worker.log_path.read_text()[-3000:]
            assert not PendingRefresh.objects.exists()
        finally:
            worker.stop()


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        # Inside a transaction the activity view is a snapshot, unless cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.worker
def test_a_worker_killed_while_publishing_leaves_the_previous_set_whole_and_a_retry_publishes(
    celery_worker_process, tmp_path
):
    from recommender import publishing, serving

    import_generated(tmp_path)
    previous = publish_trained("item_knn", top_n=10)
    rows = ListenerRecommendations.objects.filter(recommendation_set_id=previous)
    rows_before = rows.count()
    listener_id = rows.values_list("listener_id", flat=True).first()
    list_before = serving.listener_list(listener_id, "song")["items"]
    run = model_run_train(run_id=model_run_create(algorithm="popularity").pk)

    # Holding the active set's row makes the publication wait at the last moment: every row
    # of the new set written, the switch not yet made. The worker is killed there.
    with transaction.atomic():
        list(RecommendationSet.objects.select_for_update().filter(pk=previous))
        tasks.recommendation_set_publish.apply_async(
            args=[run.pk], queue=celery_worker_process.queue
        )
        building = RecommendationSet.objects.filter(run=run)
        switching = wait_for(lambda: _waiting_on_a_lock() and building.exists())
        assert switching, celery_worker_process.log_path.read_text()[-2000:]
        half = building.get()
        assert half.status == SetStatus.BUILDING and half.progress >= 0.95
        assert ListenerRecommendations.objects.filter(recommendation_set=half).exists()
        os.kill(celery_worker_process.process.pid, signal.SIGKILL)
        celery_worker_process.process.wait(timeout=10)

    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE).pk == previous
    assert rows.count() == rows_before
    assert serving.listener_list(listener_id, "song")["items"] == list_before
    reaped = reap_lost_jobs(older_than=timedelta(0))
    assert reaped.get("recommender.RecommendationSet") == 1
    assert not ListenerRecommendations.objects.filter(recommendation_set=half).exists()

    retried = tasks.recommendation_set_publish.apply(args=[run.pk]).get()
    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE).pk == retried != previous
    assert ListenerRecommendations.objects.filter(recommendation_set_id=retried).count() > 0
    assert publishing.rollback().pk == previous  # and the previous set is still whole
    assert rows.count() == rows_before


@contextmanager
def database_restarting():
    """What a PostgreSQL restart does to its clients: every connection to the test database
    is cut, and new ones are refused until the block ends. (Done from the server's own
    `postgres` database: a database cannot shut its own doors.)"""
    import psycopg

    db = connection.settings_dict
    connection.close()
    admin = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    name = db["NAME"]
    try:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        yield
    finally:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        admin.close()


@pytest.mark.worker
def test_a_database_restart_during_training_fails_it_cleanly_and_its_retry_succeeds(
    celery_worker_process, tmp_path
):
    import_generated(tmp_path)
    # A fit of some seconds, so the database goes away while it runs.
    run = model_run_create(algorithm="als", params={"factors": 64, "iterations": 2000})
    tasks.model_run_train.apply_async(args=[run.pk], queue=celery_worker_process.queue)
    row = ModelRun.objects.filter(pk=run.pk)
    assert wait_for(lambda: row.get().progress >= 0.2), celery_worker_process.log_path.read_text()

    with database_restarting():
        down = Client().get("/readyz")
        time.sleep(3)
    assert down.status_code == 503 and not down.json()["checks"]["database"]["ok"]
    assert Client().get("/readyz").json()["checks"]["database"]["ok"]  # connects again
    failed = wait_for(lambda: row.get().status == JobStatus.FAILED, seconds=120)
    log = celery_worker_process.log_path.read_text()
    assert failed, log[-3000:]
    failure = row.get()
    assert "OperationalError" in failure.error or "InterfaceError" in failure.error
    assert not failure.artifact and not (artifact_root() / f"run-{run.pk}").exists()

    # The task is retried after RETRY_SECONDS: the same row is reopened and trained again.
    succeeded = wait_for(lambda: row.get().status == JobStatus.SUCCEEDED, seconds=120)
    assert succeeded, celery_worker_process.log_path.read_text()[-3000:]
    assert row.get().artifact and "Retry in" in celery_worker_process.log_path.read_text()


@pytest.mark.worker
@pytest.mark.parametrize("celery_worker_process", [2], indirect=True)
def test_the_same_pipeline_started_twice_at_once_publishes_once_and_says_so(
    celery_worker_process, tmp_path
):
    from listening.models import DataSnapshot
    from recommender import pipeline
    from recommender.models import PipelineRun

    import_generated(tmp_path, listeners=60, songs=200, listens=6000)
    run = pipeline.pipeline_create(algorithm_names=["popularity", "item_knn"])

    # Two worker processes take the same run at the same moment (a double click, a task
    # sent twice), and the nightly schedule fires meanwhile.
    starts = [tasks.pipeline_run.delay(run.pk), tasks.pipeline_run.delay(run.pk)]
    nightly = tasks.pipeline_nightly.delay()
    answers = [start.get(timeout=240) for start in starts]

    run.refresh_from_db()
    log = celery_worker_process.log_path.read_text()
    assert run.status == JobStatus.SUCCEEDED and run.lock is None, run.error or log[-3000:]
    # One start ran it; the other says it did not, and why.
    assert sorted(answers)[1] == JobStatus.SUCCEEDED, answers
    assert sorted(answers)[0].startswith(f"not started again: pipeline {run.pk} is"), answers
    assert nightly.get(timeout=60).startswith(f"skipped: pipeline {run.pk} is")
    assert PipelineRun.objects.count() == 1
    # One of everything: one snapshot, one winner trained, one publication.
    assert DataSnapshot.objects.count() == 1 and ModelRun.objects.count() == 1
    (published,) = RecommendationSet.objects.all()
    assert published == run.published_set and published.status == SetStatus.ACTIVE
    assert f"pipeline {run.pk} was started already" in log
