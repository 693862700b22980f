"""The job task base: one lifecycle for every job row a task runs."""

from contextlib import contextmanager

import pytest
from celery import shared_task
from celery.exceptions import Retry
from django.db import OperationalError

from musicsite.job_task import JobTask
from musicsite.jobs import JobStatus
from recommender import tasks
from recommender.models import ModelRun
from tests.factories import ModelRunFactory

pytestmark = pytest.mark.django_db
attempts: list[str] = []


@shared_task(base=JobTask, job_model=ModelRun, name="tests.training_that_loses_its_database_once")
def training_that_loses_its_database_once(run: ModelRun) -> None:
    attempts.append(run.status)
    if len(attempts) == 1:
        raise OperationalError("server closed the connection unexpectedly")
    run.artifact = "trained"
    run.save(update_fields=["artifact"])


@pytest.fixture(autouse=True)
def no_attempts_yet():
    attempts.clear()


def test_a_finished_row_is_left_as_it_is():
    done = ModelRunFactory(status=JobStatus.SUCCEEDED, started_at=None)

    assert tasks.model_run_train.delay(done.pk).get() == JobStatus.SUCCEEDED

    done.refresh_from_db()
    assert done.started_at is None and not done.artifact


def test_a_failure_is_recorded_with_its_traceback():
    run = model_run = ModelRunFactory(algorithm="popularity", params={})

    with pytest.raises(ValueError, match="no listens"):
        tasks.model_run_train.delay(model_run.pk)

    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and run.finished_at and run.started_at
    assert run.error.startswith("ValueError: no listens at song level")
    assert "Traceback (most recent call last)" in run.error and "model_run_fit" in run.error


def test_in_process_a_lost_database_fails_at_once():
    run = ModelRunFactory()

    with pytest.raises(OperationalError):
        training_that_loses_its_database_once.delay(run.pk)

    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and "OperationalError" in run.error
    assert attempts == [JobStatus.RUNNING]  # no retry: there is no queue to wait in


@contextmanager
def sent_not_run():
    """Tasks sent go to an in-memory queue that nothing reads, as to a broker."""
    from musicsite.celery import app

    def configure(eager: bool, broker: str) -> None:
        app.conf.task_always_eager, app.conf.broker_url = eager, broker
        app._pool = None  # the connection pools were made for the previous broker
        app.amqp._producer_pool = None

    previous = app.conf.task_always_eager, app.conf.broker_url
    configure(False, "memory://")
    try:
        yield
    finally:
        configure(*previous)


def as_a_worker_runs(task, run_id: int, retries: int):
    task.push_request(
        id=f"attempt-{retries}",
        retries=retries,
        is_eager=False,
        called_directly=False,
        args=[run_id],
        kwargs={},
    )
    try:
        return task(run_id)
    finally:
        task.pop_request()


def test_on_a_worker_a_lost_database_is_retried_and_the_row_reopened():
    run = ModelRunFactory()
    task = training_that_loses_its_database_once

    with sent_not_run(), pytest.raises(Retry, match="Retry in 10s: OperationalError"):
        as_a_worker_runs(task, run.pk, retries=0)
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and "server closed the connection" in run.error

    # The retry, delivered after its countdown: the failed row is reopened and run again.
    assert as_a_worker_runs(task, run.pk, retries=1) == JobStatus.SUCCEEDED
    run.refresh_from_db()
    assert attempts == [JobStatus.RUNNING, JobStatus.RUNNING]
    assert run.status == JobStatus.SUCCEEDED and run.artifact == "trained" and not run.error
    assert task.max_retries == 3
