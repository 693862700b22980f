"""The operations dashboard: staff only; shows runs, the active set, data, queue, errors."""

import pytest
from django.urls import reverse

from musicsite.jobs import JobStatus
from recommender import pipeline
from recommender.models import PipelineRun, RecommendationSet, SetStatus
from tests.factories import ModelRunFactory, StaffFactory, UserFactory
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
