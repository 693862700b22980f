"""The whole workflow as one job: steps recorded, one at a time, publish only if better."""

from datetime import timedelta

import pytest
from celery import current_app
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from listening.models import DataSnapshot
from musicsite.jobs import JobStatus
from recommender import evaluations, pipeline, tasks, training
from recommender.data import build_matrix
from recommender.models import Evaluation, ModelRun, PipelineRun, RecommendationSet, SetStatus
from recommender.training import artifact_root, model_run_create, model_run_load, model_run_train
from tests.factories import ListenFactory, ModelRunFactory, StaffFactory
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
    assert all(step["status"] == JobStatus.SUCCEEDED for step in run.steps.values())
    assert run.steps["evaluate"]["figures"]["candidate"] == "item_knn"
    assert run.steps["train"]["figures"]["algorithm"] == "item_knn"
    active = RecommendationSet.objects.get(status=SetStatus.ACTIVE)
    assert run.published_set == active and active.run.algorithm == "item_knn"
    assert run.decision.startswith("published item_knn")


def test_the_trained_run_records_its_candidates_held_out_figures(listening, client):
    run = pipeline.pipeline_run(run_id=pipeline.pipeline_create(algorithm_names=FAST).pk)

    trained = ModelRun.objects.get(pk=run.steps["train"]["figures"]["run"])
    figures = run.evaluation.results["results"]["item_knn"]
    assert trained.metrics["evaluation"] == run.evaluation.pk
    assert trained.metrics["split"] == run.evaluation.results["protocol"]["split"]
    assert trained.metrics["metric"] == "ndcg@10"
    assert trained.metrics["values"]["ndcg@10"] == figures["ndcg@10"]
    assert trained.metrics["values"] == {
        name: value
        for name, value in figures.items()
        if isinstance(value, float) and not name.endswith("_seconds")
    }
    assert trained.metrics["ci"] == figures["ci"] and trained.metrics["ci"]["ndcg@10"]
    client.force_login(StaffFactory())
    page = client.get(reverse("admin:recommender_modelrun_change", args=[trained.pk]))
    shown = page.content.decode()
    assert f"evaluation {run.evaluation.pk}</a>" in shown
    low, high = figures["ci"]["ndcg@10"]
    assert f"<th>ndcg@10</th><td>{figures['ndcg@10']:.4f}</td><td>{low:.4f} to {high:.4f}" in shown


def test_the_active_set_stays_unless_the_new_best_beats_it_beyond_its_interval(listening):
    first = pipeline.pipeline_run(run_id=pipeline.pipeline_create(algorithm_names=FAST).pk)
    again = pipeline.pipeline_run(run_id=pipeline.pipeline_create(algorithm_names=FAST).pk)

    assert again.status == JobStatus.SUCCEEDED
    assert again.published_set is None and again.decision.startswith("kept the active set")
    assert again.steps["train"]["status"] == again.steps["publish"]["status"] == "skipped"
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


def test_a_run_another_process_has_started_is_not_started_again(listening, caplog):
    run = pipeline.pipeline_create(algorithm_names=FAST)
    # Another process took it (its first step is on the way).
    PipelineRun.objects.filter(pk=run.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )

    again = pipeline.pipeline_run(run_id=run.pk)

    assert again.status == JobStatus.RUNNING and not DataSnapshot.objects.exists()
    assert (
        tasks.pipeline_run.delay(run.pk).get() == f"not started again: pipeline {run.pk} is running"
    )
    assert f"pipeline {run.pk} was started already (running)" in caplog.text


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
def test_on_workers_its_parts_run_as_a_chain_on_one_snapshot(celery_worker_process, tmp_path):
    import_generated(tmp_path, listeners=300, songs=1000, listens=60_000)
    candidates = ["popularity", "item_knn", "rp3beta", "als"]
    run = pipeline.pipeline_create(algorithm_names=candidates)

    status = tasks.pipeline_run.delay(run.pk).get(timeout=180)

    run.refresh_from_db()
    assert status == run.status == JobStatus.SUCCEEDED, (
        run.error or celery_worker_process.log_path.read_text()[-3000:]
    )
    (winner,) = ModelRun.objects.all()
    assert winner.algorithm == run.evaluation.candidate and DataSnapshot.objects.count() == 1
    assert winner.snapshot == run.evaluation.snapshot
    assert run.published_set.run == winner and run.steps["publish"]["status"] == "succeeded"


def test_between_its_parts_the_steps_say_how_far_each_has_got(listening, client):
    from tests.factories import StaffFactory

    run = pipeline.pipeline_create(algorithm_names=FAST)
    tasks.pipeline_prepare.delay(run.pk)
    tasks.pipeline_evaluate.delay(run.pk)
    run.refresh_from_db()

    steps = {step["name"]: step for step in pipeline.step_rows(run)}
    assert steps["explore"]["status"] == "succeeded" and steps["explore"]["progress"] == 1.0
    assert steps["evaluate"]["status"] == "succeeded"
    assert steps["train"]["status"] == "waiting" and steps["train"]["progress"] == 0.0
    assert run.progress == pytest.approx(3 / 5)
    # Mid-training, the train step's progress is its model run's.
    halfway = ModelRunFactory(status=JobStatus.RUNNING, progress=0.5)
    run.steps["train"].update(
        status="running", run=halfway.pk, started_at=timezone.now().isoformat()
    )
    run.save(update_fields=["steps"])
    assert pipeline.step_rows(run)[3]["progress"] == 0.5
    client.force_login(StaffFactory())
    assert "running 50%" in client.get("/staff/operations/").content.decode()


def test_a_run_reaped_or_cancelled_mid_step_shows_no_step_still_running(listening):
    run = pipeline.pipeline_create(algorithm_names=FAST)
    tasks.pipeline_prepare.delay(run.pk)
    PipelineRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    for part in (tasks.pipeline_evaluate, tasks.pipeline_train, tasks.pipeline_publish):
        assert part.delay(run.pk).get() == JobStatus.CANCELLED

    run.refresh_from_db()
    assert run.status == JobStatus.CANCELLED and run.lock is None
    assert "cancelled before the evaluate step" in run.error
    assert run.steps["evaluate"]["status"] == "waiting" and not ModelRun.objects.exists()

    reaped = pipeline.pipeline_create(algorithm_names=FAST)
    tasks.pipeline_prepare.delay(reaped.pk)
    reaped.refresh_from_db()
    reaped.steps["evaluate"]["status"] = "running"  # its worker died there
    reaped.save(update_fields=["steps"])
    PipelineRun.objects.filter(pk=reaped.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=2)
    )
    assert pipeline.reap_stale() == 1
    reaped.refresh_from_db()
    steps = {step["name"]: step for step in pipeline.step_rows(reaped)}
    assert steps["evaluate"]["status"] == JobStatus.FAILED and steps["evaluate"]["progress"] is None


def _new_listen():
    """A listen by a new listener of a new song: in a matrix, it adds a row and a column."""
    return ListenFactory(play_count=3)


@pytest.mark.parametrize("runner", ["in process", "celery canvas"])
def test_a_run_takes_one_snapshot_and_trains_only_the_winner_on_it(listening, runner):
    snapshots, model_runs = DataSnapshot.objects.count(), ModelRun.objects.count()
    run = pipeline.pipeline_create(algorithm_names=FAST)

    if runner == "in process":
        run = pipeline.pipeline_run(run_id=run.pk)
    else:
        assert tasks.pipeline_run.delay(run.pk).get() == JobStatus.SUCCEEDED
        run.refresh_from_db()

    assert run.status == JobStatus.SUCCEEDED, run.error
    assert DataSnapshot.objects.count() == snapshots + 1
    snapshot = DataSnapshot.objects.latest("pk")
    assert run.steps["snapshot"]["figures"]["snapshot"] == snapshot.pk
    (winner,) = ModelRun.objects.all()[: ModelRun.objects.count() - model_runs]
    assert ModelRun.objects.count() == model_runs + 1  # the losers are never fitted as runs
    assert winner.algorithm == run.evaluation.candidate == "item_knn"
    assert winner.snapshot == run.evaluation.snapshot == snapshot
    assert run.published_set.run == winner
    whole = build_matrix("song", last_listen_id=snapshot.last_listen_id)
    assert (winner.n_listeners, winner.n_items) == whole.shape  # the whole snapshot
    assert run.evaluation.results["data"]["listeners"] == whole.shape[0]


def test_listens_arriving_during_a_run_are_in_neither_the_evaluation_nor_the_winner(listening):
    run = pipeline.pipeline_create(algorithm_names=FAST)
    added = []

    def listen_meanwhile(step: str) -> None:
        if step in ("explore", "evaluate", "train"):  # each step starts after the snapshot
            added.append(_new_listen())

    run = pipeline.pipeline_run(run_id=run.pk, on_progress=listen_meanwhile)

    assert run.status == JobStatus.SUCCEEDED and len(added) == 3
    snapshot = run.evaluation.snapshot
    assert all(listen.pk > snapshot.last_listen_id for listen in added)
    pinned = build_matrix("song", last_listen_id=snapshot.last_listen_id)
    assert build_matrix("song").shape == (pinned.shape[0] + 3, pinned.shape[1] + 3)
    data = run.evaluation.results["data"]
    assert (data["listeners"], data["items"]) == pinned.shape
    winner = ModelRun.objects.get(pk=run.steps["train"]["figures"]["run"])
    _, _, listener_ids, item_ids = model_run_load(winner)
    newcomers = {listen.listener_id for listen in added}
    assert not newcomers & set(listener_ids.tolist()) and len(item_ids) == pinned.shape[1]


def test_on_separate_tasks_every_part_reads_the_same_snapshot(listening):
    run = pipeline.pipeline_create(algorithm_names=FAST)
    tasks.pipeline_prepare.delay(run.pk)
    _new_listen()
    tasks.pipeline_evaluate.delay(run.pk)
    _new_listen()
    tasks.pipeline_train.delay(run.pk)
    assert tasks.pipeline_publish.delay(run.pk).get() == JobStatus.SUCCEEDED

    run.refresh_from_db()
    pinned = build_matrix("song", last_listen_id=run.evaluation.snapshot.last_listen_id)
    data = run.evaluation.results["data"]
    winner = run.published_set.run
    assert (data["listeners"], data["items"]) == pinned.shape
    assert (winner.n_listeners, winner.n_items) == pinned.shape
    assert winner.snapshot == run.evaluation.snapshot and DataSnapshot.objects.count() == 1


def test_the_evaluation_weighs_plays_as_the_winner_is_trained(listening):
    weighting = {"scheme": "log", "alpha": 2.0, "skip_penalty": 3.0, "half_life_days": 30}
    run = pipeline.pipeline_create(algorithm_names=FAST, weighting=weighting)

    run = pipeline.pipeline_run(run_id=run.pk)

    protocol = Evaluation.objects.get(pk=run.evaluation.pk).results["protocol"]
    assert (protocol["weighting"], protocol["alpha"]) == ("log", 2.0)
    assert (protocol["skip_penalty"], protocol["half_life_days"]) == (3.0, 30)
    assert run.published_set.run.weighting == weighting

    # The same comparison on the same snapshot without the run's weighting measures
    # something else: the weighting reached the scores, not only the record.
    plain = evaluations.evaluation_run(
        evaluation_id=evaluations.evaluation_create(
            algorithm_params=run.evaluation.algorithms,
            snapshot=run.evaluation.snapshot,
            protocol=evaluations.protocol_weighted({}),
        ).pk
    )
    weighted = run.evaluation.results["results"]
    assert plain.results["data"] == run.evaluation.results["data"]
    assert {label: r["ndcg@10"] for label, r in plain.results["results"].items()} != {
        label: r["ndcg@10"] for label, r in weighted.items()
    }


def test_on_timed_listening_the_pipeline_chooses_its_winner_on_the_temporal_split(listening):
    run = pipeline.pipeline_run(run_id=pipeline.pipeline_create(algorithm_names=FAST).pk)

    protocol = run.evaluation.results["protocol"]
    assert (protocol["split_asked"], protocol["split"]) == ("auto", "temporal")
    assert protocol["split_reason"] == "all 6,000 listens have a time: temporal"
    assert run.evaluation.snapshot.listens == 6000
    assert run.status == JobStatus.SUCCEEDED
