"""The staff evaluation pages: the best model by any metric, every metric's interval, the
splits they can start an evaluation on."""

import re

import pytest
from django.urls import reverse

from recommender.models import Evaluation
from tests.factories import EvaluationFactory, StaffFactory, UserFactory


def figures(ndcg, recall, mae=None, ci=None):
    """One model's results: NDCG@10 and recall@20 as given, the rest fixed."""
    result = {
        "ndcg@10": ndcg,
        "precision@10": 0.1,
        "recall@10": 0.2,
        "recall@20": recall,
        "coverage": 0.3,
        "novelty": 9.0,
        "fit_seconds": 1.0,
        "n_listeners": 50,
        "params": {},
        "ci": ci or {},
    }
    if mae is not None:
        result["mae"] = mae
    return result


@pytest.fixture
def compared(db):
    """ease is best by NDCG@10 (and the candidate), als by recall@20, rating by MAE."""
    return EvaluationFactory(
        metric="ndcg@10",
        candidate="ease",
        protocol={"split": "auto", "ks": [10, 20], "seed": 0, "test_fraction": 0.2},
        results={
            "protocol": {
                "split": "temporal",
                "split_asked": "auto",
                "split_reason": "all 6,000 listens have a time: temporal",
                "split_params": {"cutoff": 1735689600.0, "train_plays": 4800, "later_plays": 1200},
                "ks": [10, 20],
            },
            "results": {
                "ease": figures(0.31, 0.40, ci={"ndcg@10": [0.2811, 0.3392]}),
                "als": figures(0.22, 0.55, ci={"recall@20": [0.5123, 0.5876]}),
                "rating": figures(0.05, 0.10, mae=0.71, ci={"precision@10": [0.0612, 0.1388]}),
                "popularity": figures(0.10, 0.20, mae=0.93),
            },
        },
    )


def best_row(page: str) -> str:
    """The label of the row the page highlights as best."""
    rows = re.findall(r'<tr class="[^"]*\bbest\b[^"]*">\s*<td>([^<]+)</td>', page)
    assert len(rows) == 1, rows
    return rows[0].replace("★", "").strip()


def test_staff_choose_the_metric_the_best_model_is_picked_by(client, compared):
    client.force_login(StaffFactory())
    url = reverse("evaluation-detail", args=[compared.pk])

    by_default = client.get(url).content.decode()
    by_recall = client.get(url, {"metric": "recall@20"}).content.decode()
    by_error = client.get(url, {"metric": "mae"}).content.decode()

    assert best_row(by_default) == "ease"  # the evaluation's own metric
    assert best_row(by_recall) == "als"
    assert best_row(by_error) == "rating"  # an error: the lowest is best
    for metric in ("ndcg@10", "recall@20", "mae", "coverage", "novelty", "precision@10"):
        assert f'<option value="{metric}"' in by_default
    assert '<option value="recall@20" selected>' in by_recall
    assert "ease ★" in by_recall  # the candidate stays the one to publish


def test_every_metric_shows_its_interval_where_the_results_have_one(client, compared):
    client.force_login(StaffFactory())

    page = client.get(reverse("evaluation-detail", args=[compared.pk])).content.decode()

    for low, high in (("0.2811", "0.3392"), ("0.5123", "0.5876"), ("0.0612", "0.1388")):
        assert f"[{low} \u2013 {high}]" in page
    assert "Why this split: all 6,000 listens have a time: temporal" in page
    assert "split temporal (asked: auto)" in page
    assert "cut-off at 2025-01-01 00:00 UTC" in page


def test_an_unknown_metric_is_a_clear_400_and_outsiders_are_sent_to_log_in(client, compared):
    url = reverse("evaluation-detail", args=[compared.pk])
    client.force_login(UserFactory())
    assert client.get(url, {"metric": "recall@20"}).status_code == 302
    client.force_login(StaffFactory())

    refused = client.get(url, {"metric": "<script>" * 20})

    assert refused.status_code == 400
    assert b"Unknown metric" in refused.content and b"recall@20" in refused.content


def test_staff_start_an_evaluation_on_any_split_with_its_candidate_metric(
    client, db, django_capture_on_commit_callbacks
):
    client.force_login(StaffFactory())
    form = {"algorithms": ["popularity"], "level": "song", "ks": "10,20", "last_n": "3"}

    with django_capture_on_commit_callbacks():  # queued, not run: the row is what is asked
        client.post(reverse("evaluation-start"), {**form, "split": "last_n", "metric": "recall@20"})
        refused = client.post(
            reverse("evaluation-start"), {**form, "split": "auto", "metric": "recall@50"}
        )

    evaluation = Evaluation.objects.get()
    assert evaluation.protocol["split"] == "last_n" and evaluation.protocol["last_n"] == 3
    assert evaluation.metric == "recall@20"
    assert refused.status_code == 302  # back to the list, saying why
    assert "ranking metric" in str(list(refused.wsgi_request._messages))
    page = client.get(reverse("evaluation-list")).content.decode()
    assert '<option value="auto" selected>' in page and 'value="last_n"' in page


def test_an_evaluation_without_its_own_metric_shows_by_its_first(client, compared):
    """An evaluation made at k = 5 holds no ndcg@10: its page still answers."""
    compared.metric = "ndcg@5"
    compared.save(update_fields=["metric"])
    client.force_login(StaffFactory())
    url = reverse("evaluation-detail", args=[compared.pk])

    response = client.get(url)
    assert response.status_code == 200
    assert best_row(response.content.decode())  # ranked by its first metric, precision@10
    assert '<option value="precision@10" selected>' in response.content.decode()
    assert client.get(url, {"metric": "ndcg@5"}).status_code == 400
