"""The Celery wiring: in-process by default, a real worker through Redis when configured."""

import pytest

from listening import tasks
from listening.models import DataSnapshot
from musicsite.celery import app as celery_app
from tests.factories import ListenFactory


@pytest.mark.django_db
def test_tasks_run_in_process_in_the_embedded_default():
    ListenFactory.create_batch(3)

    result = tasks.data_snapshot_create.delay()

    assert DataSnapshot.objects.get(pk=result.get()).listens == 3


@pytest.mark.django_db
def test_a_task_queued_inside_a_transaction_waits_for_the_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tasks.data_snapshot_create.delay_on_commit()
        assert not DataSnapshot.objects.exists()

    for callback in callbacks:
        callback()
    assert DataSnapshot.objects.count() == 1


def test_every_task_uses_json():
    assert celery_app.conf.task_serializer == "json"
    assert celery_app.conf.accept_content == ["json"]


@pytest.mark.worker
def test_a_real_worker_runs_a_task_sent_through_redis(celery_worker_process):
    ListenFactory.create_batch(5)

    result = tasks.data_snapshot_create.apply_async(queue=celery_worker_process.queue)
    snapshot_id = result.get(timeout=60)

    assert DataSnapshot.objects.get(pk=snapshot_id).listens == 5
    log = celery_worker_process.log_path.read_text()
    assert "listening.tasks.data_snapshot_create" in log
    # The worker's own line about the task carries the task's id (musicsite/log_ids.py).
    assert any(f"task={result.id} " in line and "succeeded" in line for line in log.splitlines())


@pytest.mark.worker
def test_a_real_worker_runs_an_import_batch(celery_worker_process, tmp_path):
    from listening.listen_import import listen_import_create
    from listening.models import ImportBatch, Listen

    path = tmp_path / "scrobbles.tsv"
    path.write_text(
        "user_1\t2009-05-04T23:08:57Z\t\tLow\t\tWords\n"
        "user_1\t2009-05-04T23:12:01Z\t\tLow\t\tSunflower\n"
    )
    batch = listen_import_create(path=path)

    status = tasks.listen_import_run.apply_async(
        args=[batch.pk], queue=celery_worker_process.queue
    ).get(timeout=60)

    assert status == "succeeded"
    batch = ImportBatch.objects.get(pk=batch.pk)
    assert (batch.rows_loaded, batch.progress) == (2, 1.0)
    assert Listen.objects.count() == 2
