"""The whole workflow as one job: steps recorded, one at a time, publish only if better."""

import itertools
from datetime import timedelta

import pytest
from celery import current_app
from django.core.management import CommandError, call_command
from django.utils import timezone

from musicsite.jobs import JobStatus
from recommender import pipeline, tasks, training
from recommender.models import ModelRun, PipelineRun, RecommendationSet, SetStatus
from recommender.training import artifact_root, model_run_create, model_run_train
from tests.listening_data import import_generated

FAST = ["popularity", "item_knn"]


@pytest.fixture
def listening(db, tmp_path):
    import_generated(tmp_path, listeners=60, songs=200, listens=6000)


def test_a_pipeline_records_every_step_and_publishes_the_best(listening):
    run = pipeline.pipeline_create(algorithm_names=FAST)
    run = tasks.pipeline_run.delay(run.pk).get() and PipelineRun.objects.get(pk=run.pk)

    assert run.status == JobStatus.SUCCEEDED and run.progress == 1.0 and run.lock is None
    assert set(run.steps) == set(pipeline.STEPS)  # (jsonb keeps no key order)
    assert all(step["status"] == "succeeded" for step in run.steps.values())
    assert run.steps["train"]["figures"].keys() == set(FAST)
    assert run.steps["evaluate"]["figures"]["candidate"] == "item_knn"
    active = RecommendationSet.objects.get(status=SetStatus.ACTIVE)
    assert run.published_set == active and active.run.algorithm == "item_knn"
    assert run.decision.startswith("published item_knn")


def test_the_active_set_stays_unless_the_new_best_beats_it_beyond_its_interval(listening):
    first = pipeline.pipeline_run(run_id=pipeline.pipeline_create(algorithm_names=FAST).pk)
    again = pipeline.pipeline_run(run_id=pipeline.pipeline_create(algorithm_names=FAST).pk)

    assert again.status == JobStatus.SUCCEEDED
    assert again.published_set is None and again.decision.startswith("kept the active set")
    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE) == first.published_set
    assert "item_knn:active" in again.evaluation.results["results"]


def test_one_pipeline_at_a_time_and_a_lost_worker_frees_the_lock(listening, settings):
    held = pipeline.pipeline_create(algorithm_names=FAST)
    with pytest.raises(pipeline.PipelineBusy, match=f"pipeline {held.pk} is queued"):
        pipeline.pipeline_create(algorithm_names=FAST)
    with pytest.raises(CommandError, match="one pipeline at a time"):
        call_command("run_pipeline", "--algorithms", "popularity")

    # Its worker dies: no heartbeat for longer than the limit.
    PipelineRun.objects.filter(pk=held.pk).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=2)
    )
    fresh = pipeline.pipeline_create(algorithm_names=FAST)
    held.refresh_from_db()
    assert held.status == JobStatus.FAILED and "worker was lost" in held.error
    assert fresh.lock == PipelineRun.LOCK


def test_a_cancelled_pipeline_stops_between_steps(listening):
    run = pipeline.pipeline_create(algorithm_names=FAST)
    PipelineRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run = pipeline.pipeline_run(run_id=run.pk)
    assert run.status == JobStatus.CANCELLED and run.lock is None
    assert "cancelled before the snapshot step" in run.error
    assert not RecommendationSet.objects.exists()


def test_a_failed_step_is_recorded_and_the_lock_given_back(db):
    run = pipeline.pipeline_create(algorithm_names=FAST)
    with pytest.raises(ValueError, match="no listens"):
        pipeline.pipeline_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and run.lock is None
    assert run.steps["snapshot"]["status"] == "failed"
    assert run.steps["explore"]["status"] == "waiting"


def test_the_command_runs_it_and_says_what_it_decided(listening, capsys):
    call_command("run_pipeline", "--algorithms", "popularity,item_knn")
    printed = capsys.readouterr().out
    assert "publish   succeeded" in printed and "published item_knn" in printed
    with pytest.raises(CommandError, match="known algorithms"):
        call_command("run_pipeline", "--algorithms", "magic")


def test_the_schedules_name_tasks_that_exist_and_pruning_frees_old_artifacts(listening, settings):
    current_app.loader.import_default_modules()  # what a worker loads when it starts
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in current_app.tasks, entry["task"]
    assert tasks.pipeline_nightly.delay().get() == JobStatus.SUCCEEDED
    busy = pipeline.pipeline_create(algorithm_names=FAST)
    assert tasks.pipeline_nightly.delay().get().startswith(f"skipped: pipeline {busy.pk}")

    runs = [model_run_train(run_id=model_run_create(algorithm="popularity").pk) for _ in range(3)]
    in_use = set(RecommendationSet.objects.values_list("run_id", flat=True))
    assert tasks.prune.delay().get() == {"sets": 0, "artifacts": 0}  # nothing old enough yet
    removed = training.prune_artifacts(keep=1)
    kept = ModelRun.objects.exclude(artifact="")
    assert removed > 0 and set(kept.values_list("pk", flat=True)) == in_use | {runs[-1].pk}
    assert not (artifact_root() / f"run-{runs[0].pk}").exists()


def test_staff_watch_and_cancel_pipelines_in_the_admin(client, db):
    from django.urls import reverse

    from tests.factories import StaffFactory

    client.force_login(StaffFactory())
    run = pipeline.pipeline_create(algorithm_names=FAST)
    page = client.get(reverse("admin:recommender_pipelinerun_change", args=[run.pk]))
    assert page.status_code == 200 and "snapshot" in page.content.decode()
    client.post(
        reverse("admin:recommender_pipelinerun_changelist"),
        {"action": "cancel", "_selected_action": [run.pk]},
    )
    run.refresh_from_db()
    assert run.cancel_requested
    assert pipeline.pipeline_run(run_id=run.pk).status == JobStatus.CANCELLED


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.parametrize("celery_worker_process", [2], indirect=True)
def test_on_workers_the_candidates_train_in_parallel(celery_worker_process, tmp_path):
    import_generated(tmp_path, listeners=300, songs=1000, listens=60_000)
    candidates = ["popularity", "item_knn", "rp3beta", "als"]
    run = pipeline.pipeline_create(algorithm_names=candidates)

    status = tasks.pipeline_run.delay(run.pk).get(timeout=180)

    run.refresh_from_db()
    assert status == run.status == JobStatus.SUCCEEDED, (
        run.error or celery_worker_process.log_path.read_text()[-3000:]
    )
    trained = ModelRun.objects.filter(pk__in=run.steps["train"]["runs"].values())
    assert sorted(trained.values_list("algorithm", flat=True)) == sorted(candidates)
    spans = sorted((model.started_at, model.finished_at) for model in trained)
    overlapping = any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    assert overlapping, f"the candidates trained one after another: {spans}"
    assert run.published_set is not None and run.steps["publish"]["status"] == "succeeded"


def test_while_it_trains_the_steps_say_how_far_each_has_got(listening, client):
    from tests.factories import StaffFactory

    run = pipeline.pipeline_create(algorithm_names=FAST)
    first, second = pipeline.pipeline_prepare(run_id=run.pk)
    pipeline.pipeline_train(run_id=run.pk, model_run_id=first)
    run.refresh_from_db()

    steps = {step["name"]: step for step in pipeline.step_rows(run)}
    assert steps["explore"]["status"] == "succeeded" and steps["explore"]["progress"] == 1.0
    assert steps["train"]["status"] == "running" and steps["train"]["progress"] == 0.5
    assert steps["evaluate"]["status"] == "waiting" and steps["evaluate"]["progress"] == 0.0
    assert run.progress == pytest.approx(2 / 5 + 1 / 5 / 2)
    client.force_login(StaffFactory())
    assert "running 50%" in client.get("/staff/operations/").content.decode()

    pipeline.pipeline_train(run_id=run.pk, model_run_id=second)
    run = pipeline.pipeline_conclude(run_id=run.pk)
    assert run.status == JobStatus.SUCCEEDED
    assert [step["progress"] for step in pipeline.step_rows(run)] == [1.0] * 5


def test_a_run_reaped_or_cancelled_mid_step_shows_no_step_still_running(listening):
    run = pipeline.pipeline_create(algorithm_names=FAST)
    candidates = pipeline.pipeline_prepare(run_id=run.pk)
    PipelineRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    for model_run_id in candidates:
        pipeline.pipeline_train(run_id=run.pk, model_run_id=model_run_id)

    run = pipeline.pipeline_conclude(run_id=run.pk)
    assert run.status == JobStatus.CANCELLED and run.steps["train"]["status"] == "cancelled"
    assert set(ModelRun.objects.filter(pk__in=candidates).values_list("status", flat=True)) == {
        JobStatus.CANCELLED
    }

    reaped = pipeline.pipeline_create(algorithm_names=FAST)
    pipeline.pipeline_prepare(run_id=reaped.pk)
    PipelineRun.objects.filter(pk=reaped.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=2)
    )
    assert pipeline.reap_stale() == 1
    reaped.refresh_from_db()
    steps = {step["name"]: step for step in pipeline.step_rows(reaped)}
    assert steps["train"]["status"] == JobStatus.FAILED and steps["train"]["progress"] is None
