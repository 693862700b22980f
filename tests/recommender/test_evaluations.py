"""Evaluation jobs: the row, the Celery task, the staff page, the candidate."""

import xml.etree.ElementTree as ET

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from musicsite.jobs import JobStatus
from recommender import tasks
from recommender.evaluation.protocol import Protocol
from recommender.evaluations import evaluation_create
from recommender.models import Evaluation
from tests.factories import StaffFactory, UserFactory

SETTINGS = {
    "popularity": {},
    "item_knn": {"similarity": "bm25"},
    "als": {"factors": 16, "regularization": 1.0},
}


@pytest.fixture
def listening(db, tmp_path):
    path = tmp_path / "scrobbles.tsv"
    generate(path, "lastfm-1k", n_listeners=150, n_songs=500, n_listens=15_000, seed=21)
    listen_import_run(batch_id=listen_import_create(path=path).pk)


def test_an_evaluation_runs_as_a_task_and_marks_its_candidate(listening):
    evaluation = evaluation_create(
        algorithm_params=SETTINGS, protocol=Protocol(ks=(10, 20), seed=1, bootstrap=200)
    )

    assert tasks.evaluation_run.delay(evaluation.pk).get() == JobStatus.SUCCEEDED

    evaluation.refresh_from_db()
    results = evaluation.results["results"]
    best = max(results, key=lambda label: results[label]["ndcg@10"])
    assert evaluation.candidate == best != "popularity"
    assert evaluation.results["protocol"]["level"] == "song"
    assert evaluation.snapshot.listens > 0
    for name, svg in evaluation.charts.items():
        assert ET.fromstring(svg).tag.endswith("svg"), name


def test_bad_settings_are_refused_before_anything_runs(db):
    with pytest.raises(ValidationError, match="flavour"):
        evaluation_create(algorithm_params={"als": {"flavour": 1}})
    with pytest.raises(ValidationError, match="at least one"):
        evaluation_create(algorithm_params={})
    assert not Evaluation.objects.exists()


def test_the_staff_page_compares_models_and_refuses_others(
    client, listening, django_capture_on_commit_callbacks
):
    client.force_login(StaffFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("evaluation-start"),
            {
                "algorithms": ["popularity", "item_knn"],
                "level": "artist",
                "split": "random",
                "ks": "10,20",
            },
        )
    evaluation = Evaluation.objects.get()
    assert response.status_code == 302
    assert evaluation.status == JobStatus.SUCCEEDED and evaluation.level == "artist"

    page = client.get(reverse("evaluation-detail", args=[evaluation.pk]))

    assert page.status_code == 200
    assert f"{evaluation.candidate} ★".encode() in page.content
    assert b"<svg" in page.content
    assert client.get(reverse("evaluation-list")).status_code == 200
    client.force_login(UserFactory())
    assert client.get(reverse("evaluation-list")).status_code == 302
