"""The operations dashboard: staff only; shows runs, the active set, data, queue, errors."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from musicsite.jobs import JobStatus
from recommender import pipeline
from recommender.models import PipelineRun, RecommendationSet, SetStatus
from tests.factories import (
    EvaluationFactory,
    ModelRunFactory,
    RecommendationSetFactory,
    StaffFactory,
    UserFactory,
)
from tests.listening_data import import_generated, publish_trained


@pytest.fixture
def staff_client(client, db):
    client.force_login(StaffFactory())
    return client


def test_only_staff_see_it(client, db):
    assert client.get(reverse("operations")).status_code == 302
    client.force_login(UserFactory())
    assert client.get(reverse("operations")).status_code == 302


def test_it_shows_runs_the_active_set_data_and_errors(
    staff_client, tmp_path, django_assert_max_num_queries
):
    import_generated(tmp_path)
    set_id = publish_trained("item_knn")
    run = pipeline.pipeline_create(algorithm_names=["popularity"])
    pipeline.pipeline_run(run_id=run.pk)
    ModelRunFactory(status=JobStatus.FAILED, error="MemoryError: the matrix did not fit")

    with django_assert_max_num_queries(20):
        page = staff_client.get(reverse("operations")).content.decode()

    assert f"Set {set_id} of run" in page and "Snapshot" in page
    assert "MemoryError: the matrix did not fit" in page
    assert f">{run.pk}</a>" in page and "succeeded" in page
    assert "Waiting:" in page


def test_actions_run_the_pipeline_roll_back_and_publish(
    staff_client, tmp_path, django_capture_on_commit_callbacks
):
    import_generated(tmp_path)
    first = publish_trained("item_knn")
    second = publish_trained("popularity")
    url = reverse("operations-action")

    response = staff_client.post(url, {"action": "roll-back"}, follow=True)
    assert f"Set {first} is active again" in response.content.decode()
    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE).pk == first

    run_id = RecommendationSet.objects.get(pk=second).run_id
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"action": "publish", "run": run_id})
    assert RecommendationSet.objects.get(status=SetStatus.ACTIVE).run_id == run_id

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"action": "run-pipeline"})
    assert PipelineRun.objects.get().status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
    busy = pipeline.pipeline_create(algorithm_names=["popularity"])
    refused = staff_client.post(url, {"action": "run-pipeline"}, follow=True)
    assert f"pipeline {busy.pk} is queued" in refused.content.decode()


def _active_set_of(run):
    return RecommendationSetFactory(run=run, status=SetStatus.ACTIVE, activated_at=timezone.now())


def test_it_shows_the_active_models_held_out_figures_the_choosing_metric_first(staff_client):
    evaluation = EvaluationFactory(status=JobStatus.SUCCEEDED)
    run = ModelRunFactory(
        status=JobStatus.SUCCEEDED,
        algorithm="item_knn",
        metrics={
            "evaluation": evaluation.pk,
            "split": "temporal",
            "metric": "ndcg@10",
            "values": {"precision@10": 0.1234, "ndcg@10": 0.2345, "coverage": 0.3456},
            "ci": {"ndcg@10": [0.1987, 0.2654], "precision@10": [0.1, 0.15]},
        },
    )
    _active_set_of(run)

    page = staff_client.get(reverse("operations")).content.decode()

    assert "temporal split" in page
    assert f'href="{reverse("evaluation-detail", args=[evaluation.pk])}"' in page
    names = re.findall(r"<td>(?:<strong>)?([a-z@0-9]+)(?:</strong>)?</td>\s*<td>0\.", page)
    # The choosing metric first; the others as stored (jsonb keeps no key order).
    assert names[0] == "ndcg@10" and sorted(names) == ["coverage", "ndcg@10", "precision@10"]
    assert "0.2345" in page and "0.1987 to 0.2654" in page


def test_it_says_a_run_trained_outside_an_evaluation_was_not_evaluated_and_how_to(staff_client):
    _active_set_of(ModelRunFactory(status=JobStatus.SUCCEEDED, algorithm="als", metrics={}))

    page = staff_client.get(reverse("operations")).content.decode()

    assert "was not evaluated" in page
    assert "manage.py evaluate --algorithms als" in page
    assert reverse("evaluation-list") in page


def test_recent_errors_include_failed_publications(staff_client):
    failed = RecommendationSetFactory(
        status=SetStatus.FAILED, error="OperationalError: the disk is full\nTraceback ..."
    )

    page = staff_client.get(reverse("operations")).content.decode()

    change = reverse("admin:recommender_recommendationset_change", args=[failed.pk])
    assert f'<a href="{change}">{failed.pk}</a>' in page
    assert "OperationalError: the disk is full" in page and "Traceback" not in page


def test_a_long_error_is_shown_whole_behind_its_first_words(staff_client):
    message = "ValueError: " + "the listens file names a column nobody expected; " * 8 + "end."
    ModelRunFactory(status=JobStatus.FAILED, error=message)

    page = staff_client.get(reverse("operations")).content.decode()

    assert "<details><summary>ValueError: the listens file" in page
    assert message in page  # whole, up to its last word
