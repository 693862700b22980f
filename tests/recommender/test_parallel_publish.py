"""Publishing in listener blocks: in-process one after another, or a chord across workers."""

import os
import re
import signal
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from django.db import connection, transaction

from listening.models import Listener
from musicsite.celery import app as celery_app
from recommender import publish_blocks, publishing, serving, tasks
from recommender.events import lists_written
from recommender.models import ListenerRecommendations, RecommendationSet, SetStatus
from recommender.training import model_run_create, model_run_train
from tests.listening_data import import_generated
from tests.services import wait_for

FIELDS = ("listener_id", "level", "item_ids", "scores", "reasons", "is_fallback")


@pytest.fixture
def listening(db, tmp_path):
    import_generated(tmp_path)


def trained(algorithm: str = "item_knn", **params) -> int:
    run = model_run_create(algorithm=algorithm, params=params, level="song", seed=1)
    return model_run_train(run_id=run.pk).pk


def lists_of(set_id: int) -> list[tuple]:
    return list(
        ListenerRecommendations.objects.filter(recommendation_set_id=set_id)
        .order_by("listener_id", "level")
        .values_list(*FIELDS)
    )


@pytest.fixture
def retried_in_process():
    """Tasks applied in-process retry in-process too, and report a failure in their result
    instead of raising it (as a worker would record it)."""
    previous = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = previous


@contextmanager
def receiving(receiver):
    lists_written.connect(receiver, weak=False)
    try:
        yield
    finally:
        lists_written.disconnect(receiver)


def test_the_in_process_publication_writes_its_blocks_in_order_and_announces_each_once(
    listening,
):
    run_id = trained()
    whole = publishing.publish(run_id=run_id, top_n=10)  # one block: 40 listeners
    announced = []

    def receiver(sender, set_id, listener_ids, **kwargs):
        written = ListenerRecommendations.objects.filter(
            recommendation_set_id=set_id, listener_id__in=listener_ids, level="song"
        )
        status = RecommendationSet.objects.values_list("status", flat=True).get(pk=set_id)
        announced.append((set_id, list(listener_ids), written.count(), status))

    with receiving(receiver):
        set_id = tasks.recommendation_set_publish.delay(run_id, 10, 15).get()

    blocks = RecommendationSet.objects.get(pk=set_id)
    assert (blocks.status, blocks.block_count, blocks.blocks_done) == (
        SetStatus.ACTIVE,
        3,
        [0, 1, 2],
    )
    listeners = sorted(Listener.objects.values_list("pk", flat=True))
    assert [len(ids) for _, ids, _, _ in announced] == [15, 15, 10]
    assert [one for _, ids, _, _ in announced for one in ids] == listeners
    # Each announcement came with its block's lists in the set, still building: not served.
    assert all(
        (announced_set, count, status) == (set_id, len(ids), SetStatus.BUILDING)
        for announced_set, ids, count, status in announced
    )
    # Blocks of 15 make the same lists as one block of everyone.
    assert lists_of(set_id) == lists_of(whole.pk)
    assert blocks.timings["rank_seconds"] > 0 and blocks.listeners_count == len(listeners)


def test_a_receiver_that_raises_fails_the_publication_and_the_active_set_stays(listening):
    run_id = trained()
    active = publishing.publish(run_id=run_id, top_n=10)
    blocks_seen = []

    def receiver(sender, set_id, listener_ids, **kwargs):
        blocks_seen.append(listener_ids)
        if len(blocks_seen) == 2:
            raise RuntimeError("ready pages could not be rendered")

    with receiving(receiver), pytest.raises(RuntimeError, match="ready pages"):
        publishing.publish(run_id=run_id, top_n=10, block_listeners=15)

    failed = RecommendationSet.objects.exclude(pk=active.pk).get()
    assert failed.status == SetStatus.FAILED and "ready pages" in failed.error
    assert not ListenerRecommendations.objects.filter(recommendation_set=failed).exists()
    assert serving.active_set().id == active.pk and len(blocks_seen) == 2


def test_a_block_task_whose_receiver_raises_is_retried_and_writes_its_listeners_once(
    listening, retried_in_process, monkeypatch
):
    # Every array of the saved inputs read back memory-mapped, as big ones are.
    monkeypatch.setattr(publish_blocks, "MAPPED_BYTES", 1)
    run_id = trained()
    whole = publishing.publish(run_id=run_id, top_n=10)
    prepared = publishing.publication_prepare(run_id=run_id, top_n=10, block_listeners=15)
    calls = Counter()

    def receiver(sender, set_id, listener_ids, **kwargs):
        calls[listener_ids[0]] += 1
        if calls[listener_ids[0]] == 1:  # each block's first delivery fails, after writing
            raise ConnectionError("the cache went away")

    with receiving(receiver):
        for index in range(prepared.block_count):
            assert tasks.publication_block.apply(args=[prepared.pk, index]).successful()
        tasks.publication_block.apply(args=[prepared.pk, 0]).get()  # delivered again: replaces

    assert list(calls.values()) == [3, 2, 2]
    prepared.refresh_from_db()
    assert prepared.status == SetStatus.BUILDING and prepared.blocks_done == [0, 1, 2]
    assert prepared.progress == pytest.approx(0.95)
    assert tasks.publication_finish.apply(args=[prepared.pk]).get() == prepared.pk
    assert serving.active_set().id == prepared.pk
    assert lists_of(prepared.pk) == lists_of(whole.pk)
    assert not publish_blocks.inputs_path(prepared.pk).exists()


def test_saved_inputs_map_their_big_arrays_and_give_back_the_same_blocks(listening, monkeypatch):
    monkeypatch.setattr(publish_blocks, "MAPPED_BYTES", 1)
    prepared = publishing.publication_prepare(run_id=trained(), top_n=10, block_listeners=15)

    inputs = publish_blocks.inputs_load(prepared.pk)

    assert isinstance(inputs.rows.data, np.memmap) and isinstance(inputs.listener_ids, np.memmap)
    folder = publish_blocks.inputs_path(prepared.pk)
    assert len(list(folder.glob("*.npy"))) >= 10
    assert [inputs.block(index) for index in range(inputs.block_count)] == [
        slice(0, 15),
        slice(15, 30),
        slice(30, 40),
    ]
    assert (inputs.rows[15:30].toarray() == np.asarray(inputs.rows.toarray())[15:30]).all()


def test_a_block_that_fails_for_good_fails_the_set_which_is_never_activated(
    listening, retried_in_process
):
    run_id = trained()
    active = publishing.publish(run_id=run_id, top_n=10)
    prepared = publishing.publication_prepare(run_id=run_id, top_n=10, block_listeners=15)

    def receiver(sender, set_id, listener_ids, **kwargs):
        raise ConnectionError("the cache is gone for good")

    assert tasks.publication_block.apply(args=[prepared.pk, 0]).successful()
    with receiving(receiver):
        outcome = tasks.publication_block.apply(args=[prepared.pk, 1])
    assert outcome.failed() and isinstance(outcome.result, ConnectionError)

    prepared.refresh_from_db()
    assert prepared.status == SetStatus.FAILED and "gone for good" in prepared.error
    assert not ListenerRecommendations.objects.filter(recommendation_set=prepared).exists()
    finishing = tasks.publication_finish.apply(args=[prepared.pk])
    assert finishing.failed() and isinstance(finishing.result, publishing.PublishError)
    assert serving.active_set().id == active.pk


def _waiting_on_locks() -> int:
    """Backends of the test database waiting for a lock, now (a transaction otherwise sees
    the activity as it was at its first look)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a prefork worker's pool)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def _deliveries(log: str) -> Counter:
    """How many times the worker received each publication block task, by task id."""
    return Counter(re.findall(r"publication_block\[([0-9a-f-]{36})\] received", log))


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.parametrize("celery_worker_process", [2], indirect=True)
def test_two_workers_publish_in_blocks_and_a_block_killed_mid_way_is_redelivered_unseen(
    celery_worker_process, tmp_path
):
    import_generated(tmp_path)
    run_id = trained()
    previous = publishing.publish(run_id=run_id, top_n=10)
    listener_id = Listener.objects.order_by("pk").values_list("pk", flat=True).first()
    old_list = serving.listener_list(listener_id, "song")["items"]
    prepared = publishing.publication_prepare(run_id=run_id, top_n=10, block_listeners=10)
    assert prepared.block_count == 4

    # Holding the new set's row, every block waits mid-way, as it writes its rows (their
    # foreign key takes a share of the same lock): nothing committed, nothing counted. One
    # of the two pool processes is killed there.
    with transaction.atomic():
        list(RecommendationSet.objects.select_for_update().filter(pk=prepared.pk))
        tasks.publication_chord(prepared.pk, prepared.block_count).apply_async()
        log = celery_worker_process.log_path
        assert wait_for(lambda: _waiting_on_locks() >= 2), log.read_text()[-3000:]
        pool = _children(celery_worker_process.process.pid)
        assert len(pool) == 2, pool
        os.kill(pool[0], signal.SIGKILL)
        assert wait_for(lambda: "SIGKILL" in log.read_text(), seconds=30), log.read_text()
        # Its block goes back to the queue (behind the others: the pool takes it once a
        # waiting block is through). Nothing of the new set is served meanwhile.
        assert wait_for(lambda: _waiting_on_locks() >= 2), log.read_text()[-3000:]
        assert serving.active_set().id == previous.pk
        assert serving.listener_list(listener_id, "song")["items"] == old_list
        assert RecommendationSet.objects.get(pk=prepared.pk).status == SetStatus.BUILDING

    activated = wait_for(
        lambda: RecommendationSet.objects.get(pk=prepared.pk).status == SetStatus.ACTIVE,
        seconds=120,
    )
    assert activated, log.read_text()[-3000:]
    done = RecommendationSet.objects.get(pk=prepared.pk)
    assert done.blocks_done == [0, 1, 2, 3] and done.progress == 1.0
    deliveries = _deliveries(log.read_text())
    assert len(deliveries) == 4 and sorted(deliveries.values()) == [1, 1, 1, 2]
    # Complete and exact: what one process publishes for the same run and data.
    assert lists_of(prepared.pk) == lists_of(publishing.publish(run_id=run_id, top_n=10).pk)
    previous.refresh_from_db()
    assert previous.status == SetStatus.RETIRED


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.parametrize("celery_worker_process", [2], indirect=True)
def test_the_publish_task_on_workers_prepares_then_becomes_a_chord_of_blocks(
    celery_worker_process, tmp_path
):
    import_generated(tmp_path)
    run_id = trained()
    in_process = publishing.publish(run_id=run_id, top_n=10)

    set_id = tasks.recommendation_set_publish.delay(run_id, 10, 10).get(timeout=120)

    published = RecommendationSet.objects.get(pk=set_id)
    assert (published.status, published.block_count, published.blocks_done) == (
        SetStatus.ACTIVE,
        4,
        [0, 1, 2, 3],
    )
    assert lists_of(set_id) == lists_of(in_process.pk)
    log = celery_worker_process.log_path.read_text()
    assert len(_deliveries(log)) == 4
