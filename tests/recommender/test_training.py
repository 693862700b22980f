"""Training runs end to end: the service, the Celery task, the command, the admin, a search."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from musicsite.jobs import JobStatus
from recommender import algorithms, tasks
from recommender.data import build_matrix
from recommender.models import ModelRun
from recommender.training import (
    artifact_root,
    model_run_create,
    model_run_load,
    model_run_train,
    search_grid,
)
from tests.factories import StaffFactory

SMALL_ALS = {"factors": 8, "iterations": 3}


@pytest.fixture
def listening(db, tmp_path):
    path = tmp_path / "scrobbles.tsv"
    generate(path, "lastfm-1k", n_listeners=30, n_songs=120, n_listens=3000, seed=8)
    listen_import_run(batch_id=listen_import_create(path=path).pk)


@pytest.mark.parametrize("level", ["song", "artist"])
def test_a_run_trains_through_the_task_and_its_artifact_serves(listening, level):
    run = model_run_create(algorithm="als", params=SMALL_ALS, level=level, seed=3)

    assert tasks.model_run_train.delay(run.pk).get() == JobStatus.SUCCEEDED

    run.refresh_from_db()
    matrix = build_matrix(level)
    assert (run.n_listeners, run.n_items) == matrix.shape
    assert run.snapshot.listens > 0
    assert set(run.timings) == {"matrix_seconds", "fit_seconds", "save_seconds"}
    assert run.progress == 1.0
    model, saved_level, listener_ids, _ = model_run_load(run)
    assert saved_level == level
    assert np.array_equal(listener_ids, matrix.listener_ids)
    rows = np.arange(3)
    items, _ = model.recommend(rows, matrix.plays[rows], k=5)
    assert items.shape == (3, 5)
    seen = matrix.plays[rows].toarray() > 0
    for row, suggested in zip(rows, items, strict=True):
        suggested = suggested[suggested >= 0]  # -1 pads when fewer items are unheard
        assert len(suggested) and not seen[row, suggested].any()


def test_a_run_with_nothing_to_learn_fails_honestly_and_leaves_no_artifact(db):
    run = model_run_create(algorithm="popularity")

    with pytest.raises(ValueError, match="no listens"):
        model_run_train(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert "no listens" in run.error
    assert run.artifact == ""
    assert not (artifact_root() / f"run-{run.pk}").exists()


def test_a_run_refuses_a_matrix_of_another_snapshot(listening):
    from listening.services import data_snapshot_create
    from recommender.training import snapshot_matrix
    from tests.factories import SkipFactory

    snapshot = data_snapshot_create()
    stale = snapshot_matrix(snapshot, "song", {})
    SkipFactory()  # a skip after it: the next snapshot reads one skip more
    run = model_run_create(algorithm="popularity", snapshot=data_snapshot_create())

    with pytest.raises(ValueError, match="not of the run's"):
        model_run_train(run_id=run.pk, matrix=stale)

    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and run.artifact == ""


def test_unknown_algorithms_and_parameters_are_refused_before_queuing(db):
    with pytest.raises(ValidationError, match="als"):
        model_run_create(algorithm="magic")
    with pytest.raises(ValidationError, match="flavour"):
        model_run_create(algorithm="als", params={"flavour": "vanilla"})
    with pytest.raises(ValidationError, match="level"):
        model_run_create(algorithm="als", level="album")
    assert not ModelRun.objects.exists()


def test_the_command_trains_and_reports(listening, capsys):
    call_command("train", "item_knn", "--level", "artist", "--param", "similarity=bm25")

    out = capsys.readouterr().out
    run = ModelRun.objects.get()
    assert f"Run {run.pk}: item_knn at artist level" in out
    assert run.params == {"similarity": "bm25"} and run.status == JobStatus.SUCCEEDED


def test_the_command_explains_a_bad_parameter(db):
    with pytest.raises(CommandError, match="factorz"):
        call_command("train", "als", "--param", "factorz=3")


def test_a_grid_search_records_every_trial_as_a_run(listening, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "train",
            "als",
            "--param",
            "iterations=2",
            "--grid",
            "factors=4,8",
            "--grid",
            "regularization=0.01,0.1",
        )

    runs = ModelRun.objects.order_by("pk")
    assert runs.count() == 4
    assert len({run.search for run in runs}) == 1
    assert {(run.params["factors"], run.params["regularization"]) for run in runs} == {
        (4, 0.01),
        (4, 0.1),
        (8, 0.01),
        (8, 0.1),
    }
    assert {run.status for run in runs} == {JobStatus.SUCCEEDED}


def test_a_grid_is_bounded():
    with pytest.raises(ValidationError, match="at most"):
        search_grid({"a": list(range(5)), "b": list(range(5))})


def test_staff_start_a_run_from_the_admin(client, listening, django_capture_on_commit_callbacks):
    client.force_login(StaffFactory())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:recommender_modelrun_add"),
            {
                "algorithm": "popularity",
                "level": "song",
                "params": '{"by": "listeners"}',
                "seed": 0,
                "weighting_scheme": "raw",
            },
        )

    assert response.status_code == 302, response.content[:2000]
    run = ModelRun.objects.get()
    assert run.status == JobStatus.SUCCEEDED
    assert run.weighting["scheme"] == "raw" and run.params == {"by": "listeners"}
    page = client.get(reverse("admin:recommender_modelrun_change", args=[run.pk]))
    assert b"fit_seconds" in page.content


def test_the_admin_refuses_a_bad_parameter(client, db):
    client.force_login(StaffFactory())

    response = client.post(
        reverse("admin:recommender_modelrun_add"),
        {
            "algorithm": "als",
            "level": "song",
            "params": '{"factorz": 2}',
            "seed": 0,
            "weighting_scheme": "log",
        },
    )

    assert response.status_code == 200
    assert b"factorz" in response.content
    assert not ModelRun.objects.exists()


@pytest.mark.worker
def test_a_real_worker_trains_a_run(celery_worker_process, tmp_path, settings):
    path = tmp_path / "scrobbles.tsv"
    generate(path, "lastfm-1k", n_listeners=20, n_songs=80, n_listens=1500, seed=2)
    listen_import_run(batch_id=listen_import_create(path=path).pk)
    run = model_run_create(algorithm="popularity")

    status = tasks.model_run_train.apply_async(
        args=[run.pk], queue=celery_worker_process.queue
    ).get(timeout=120)

    assert status == JobStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.n_listeners == 20 and run.artifact


SMALL_PARAMS = {
    "als": SMALL_ALS,
    "bpr": {"factors": 8, "iterations": 5},
    "rating": {"factors": 4, "epochs": 3},
    "ncf": {"factors": 4, "layers": [8, 4], "epochs": 1},
    "blend": {
        "components": [{"algorithm": "popularity"}, {"algorithm": "als", "params": SMALL_ALS}]
    },
}


@pytest.mark.parametrize("level", ["song", "artist"])
@pytest.mark.parametrize("algorithm", sorted(algorithms.ALGORITHMS))
def test_every_algorithm_trains_as_a_job_at_both_levels(listening, algorithm, level):
    run = model_run_create(algorithm=algorithm, params=SMALL_PARAMS.get(algorithm), level=level)

    run = model_run_train(run_id=run.pk)

    assert run.status == JobStatus.SUCCEEDED, run.error
    model, saved_level, listener_ids, item_ids = model_run_load(run)
    assert saved_level == level
    assert (len(listener_ids), len(item_ids)) == (run.n_listeners, run.n_items)
    items, _ = model.recommend(np.arange(2), build_matrix(level).plays[:2], k=3)
    assert items.shape == (2, 3)
