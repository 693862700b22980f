"""The pipeline's default candidates: the blend among them, each with the blend search's
settings, compared on a seeded sample of listeners and the winner alone trained on all."""

import numpy as np
import pytest

from musicsite.jobs import JobStatus
from recommender import evaluations, pipeline
from recommender.algorithms import blend, create
from recommender.data import build_matrix
from recommender.evaluation.protocol import algorithm_of
from recommender.models import ModelRun, RecommendationSet, SetStatus
from recommender.training import model_run_load
from tests.listening_data import import_generated


@pytest.fixture
def listening(db, tmp_path):
    # Enough listeners and repeat listening for the linear and factor models to learn from.
    import_generated(tmp_path, listeners=200, songs=400, listens=20000, seed=5)


def test_the_blend_is_a_default_candidate_and_each_candidate_has_the_searched_settings():
    assert "blend" in pipeline.DEFAULT_ALGORITHMS
    assert pipeline.CANDIDATE_PARAMS["als"] == {"factors": 24, "regularization": 2.0, "alpha": 2.0}
    assert pipeline.CANDIDATE_PARAMS["rp3beta"] == {"alpha": 1.2, "beta": 0.6}
    assert pipeline.CANDIDATE_PARAMS["ease"] == {"l2": 2000}


def test_the_pipeline_publishes_the_candidate_with_the_best_measured_metric(listening):
    run = pipeline.pipeline_run(run_id=pipeline.pipeline_create().pk)

    assert run.status == JobStatus.SUCCEEDED, run.error
    results = run.evaluation.results["results"]
    assert set(results) == set(pipeline.DEFAULT_ALGORITHMS)
    assert results["als"]["params"]["factors"] == 24  # the searched settings, not implicit's
    best = max(results, key=lambda label: results[label]["ndcg@10"])
    assert run.evaluation.candidate == best
    active = RecommendationSet.objects.get(status=SetStatus.ACTIVE)
    assert active == run.published_set and active.run.algorithm == algorithm_of(best)
    # On this listening the blend measures best, so it is the blend that is trained and served.
    assert best == "blend", str({label: round(r["ndcg@10"], 4) for label, r in results.items()})
    model, *_ = model_run_load(active.run)
    assert [part.name for part in model.components] == [
        spec["algorithm"] for spec in blend.DEFAULT_COMPONENTS
    ]
    assert active.listeners_count == run.evaluation.snapshot.listeners


def test_a_sample_of_listeners_is_drawn_with_the_seed_and_drawn_again_the_same():
    first = evaluations.listener_sample(1_000, 100, seed=3)
    assert len(first) == 100 and len(set(first.tolist())) == 100
    assert np.all(np.diff(first) > 0) and first.max() < 1_000
    np.testing.assert_array_equal(evaluations.listener_sample(1_000, 100, seed=3), first)
    assert evaluations.listener_sample(1_000, 100, seed=4).tolist() != first.tolist()
    assert evaluations.listener_sample(100, 100, seed=3) is None  # no more than the sample
    assert evaluations.listener_sample(1_000, 0, seed=3) is None  # 0: everyone


def test_above_the_sample_size_candidates_are_compared_on_the_recorded_sample(listening, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "EVALUATION_SAMPLE": 50}
    run = pipeline.pipeline_run(run_id=pipeline.pipeline_create(algorithm_names=["item_knn"]).pk)

    assert run.status == JobStatus.SUCCEEDED, run.error
    data = run.evaluation.results["data"]
    everyone = run.evaluation.snapshot.listeners
    assert data["sample"] == {"listeners": 50, "of": everyone, "seed": 0, "max": 50}
    assert run.evaluation.results["results"]["item_knn"]["n_listeners"] <= 50
    # The same snapshot and seed: the same sample, so the same figures.
    again = evaluations.evaluation_run(
        evaluation_id=evaluations.evaluation_create(
            algorithm_params=run.evaluation.algorithms,
            snapshot=run.evaluation.snapshot,
            protocol=evaluations.evaluation_protocol(run.evaluation),
        ).pk
    )
    assert again.results["data"] == data
    assert again.results["results"]["item_knn"]["ndcg@10"] == pytest.approx(
        run.evaluation.results["results"]["item_knn"]["ndcg@10"]
    )
    # Only the winner is trained, and on every listener of the snapshot.
    winner = ModelRun.objects.get(pk=run.steps["train"]["figures"]["run"])
    assert winner.n_listeners == everyone


def test_the_blend_is_evaluated_as_the_whole_snapshot_sizes_it(listening, monkeypatch):
    whole = build_matrix("song")
    assert pipeline._blend_sized_for(whole) == {}  # small: the defaults stand
    monkeypatch.setattr(blend, "LARGE_PLAYS", whole.plays.nnz - 1)
    sized = pipeline._blend_sized_for(whole)
    names = [spec["algorithm"] for spec in sized["components"]]
    assert names == ["ease", *["als"] * blend.LARGE_ALS_RUNS, "rp3beta"]
    # A sample of the listeners has fewer plays, but the blend fitted on it is the same.
    sample = whole.plays[: whole.shape[0] // 4]
    fitted = create("blend", **sized).fit(sample)
    assert fitted.params["components"] == sized["components"]
    assert fitted.params["weights"] == pytest.approx(sized["weights"])
