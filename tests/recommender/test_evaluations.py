"""Evaluation jobs: the row, the Celery task, the staff page, the candidate."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import scipy.sparse as sp
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Sum
from django.urls import reverse

from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from listening.models import Listen
from musicsite.jobs import JobStatus
from recommender import tasks
from recommender.data import build_matrix, listen_events
from recommender.evaluation.protocol import Protocol, evaluate_split, make_splits
from recommender.evaluation.splits import Split
from recommender.evaluations import evaluation_create, evaluation_run
from recommender.models import Evaluation
from tests.factories import ListenerFactory, SongFactory, StaffFactory, UserFactory

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


# -- time-based splits on real rows ---------------------------------------------------------

DAY = 86_400
START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def shifting_tastes(db):
    """Listeners whose taste turns at day 100: a split there must not see the turn.

    Sixty "teachers" play 8 songs of one group (A: songs 0-19, B: 20-39), twice each,
    before day 90. Sixty "shifters" play 2 A songs and one B song once before day 90; from
    day 100 on they replay that B song 30 times and play 3 new B songs (their test items).
    A split that puts the B song's later plays into training shows every shifter's turn.
    """
    rng = np.random.default_rng(4)
    songs = SongFactory.create_batch(40)
    listeners = ListenerFactory.create_batch(120)
    group_a, group_b = np.arange(20), np.arange(20, 40)
    plays = []  # (listener index, song index, day)
    for index in range(60):
        for song in rng.choice(group_a if index % 2 else group_b, 8, replace=False):
            plays += [(index, song, rng.uniform(0, 90)) for _ in range(2)]
    for index in range(60, 120):
        plays += [(index, song, rng.uniform(0, 90)) for song in rng.choice(group_a, 2, False)]
        turn = rng.choice(group_b, 4, replace=False)
        plays.append((index, turn[0], rng.uniform(0, 90)))
        plays += [(index, turn[0], rng.uniform(100, 110)) for _ in range(30)]
        plays += [(index, song, rng.uniform(100, 110)) for song in turn[1:]]
    Listen.objects.bulk_create(
        Listen(
            listener=listeners[listener],
            song=songs[song],
            artist_id=songs[song].artist_id,
            played_at=START + timedelta(seconds=round(day * DAY)),
        )
        for listener, song, day in plays
    )
    return plays


def _cells(plays, keep) -> sp.csr_matrix:
    """The play counts per (listener, song) of the plays `keep` accepts."""
    kept = [(listener, song) for listener, song, day in plays if keep(listener, song, day)]
    rows, cols = (np.array(column, dtype=np.int64) for column in zip(*kept, strict=True))
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(120, 40))
    matrix.sum_duplicates()
    return matrix


def test_a_temporal_evaluation_trains_on_no_play_from_after_its_cutoff(shifting_tastes):
    protocol = Protocol(split="temporal", temporal_quantile=0.37, ks=(10,), bootstrap=50)
    evaluation = evaluation_create(algorithm_params={"ease": {}}, protocol=protocol)

    evaluation_run(evaluation_id=evaluation.pk)

    evaluation.refresh_from_db()
    measured = evaluation.results["results"]["ease"]["ndcg@10"]
    cutoff = evaluation.results["protocol"]["split_params"]["cutoff"]
    day = (cutoff - START.timestamp()) / DAY
    assert 100 < day < 101  # just after the turn: most of the shifters' replays come later
    # The same model on two hand-made splits at that cut-off: the test items (each
    # listener's new songs from it on) are the same; training holds the earlier plays
    # only, or (the leak) every play of the songs first heard before it.
    test = _cells(shifting_tastes, lambda listener, song, when: when >= day)
    earlier = _cells(shifting_tastes, lambda listener, song, when: when < day)
    test = test - test.multiply(earlier != 0)
    test.eliminate_zeros()
    every = _cells(shifting_tastes, lambda *play: True)
    leaky = every.multiply(earlier != 0).tocsr()
    scored = {
        name: evaluate_split(Split(train, test, name), {"ease": {}}, protocol)["ease"]
        for name, train in (("honest", earlier), ("leaky", leaky))
    }
    honest, leaked = (scored[name].metrics["ndcg@10"] for name in ("honest", "leaky"))
    assert leaked > honest + 0.1  # the leak visibly flatters the model on this data
    assert measured == pytest.approx(honest, abs=1e-6)


def test_the_training_of_a_temporal_split_holds_exactly_the_plays_before_the_cutoff(
    shifting_tastes,
):
    matrix = build_matrix("song")
    plays = listen_events(matrix)

    split = make_splits(matrix.plays, Protocol(split="temporal"), plays=plays)[0]

    cutoff = datetime.fromtimestamp(split.params["cutoff"], tz=UTC)
    before = (
        Listen.objects.filter(played_at__lt=cutoff)
        .values_list("listener_id", "song_id")
        .annotate(plays=Sum("play_count"))
    )
    expected = np.zeros(matrix.shape, dtype=np.float32)
    for listener, song, count in before:
        expected[
            matrix.rows_of(np.array([listener]))[0], matrix.columns_of(np.array([song]))[0]
        ] = count
    np.testing.assert_array_equal(split.train.toarray(), expected)
    later = Listen.objects.filter(played_at__gte=cutoff)
    straddling = later.filter(
        song_id__in=Listen.objects.filter(
            played_at__lt=cutoff, listener_id=OuterRef("listener_id")
        ).values("song_id")
    )
    assert straddling.exists()  # cells played on both sides: their later plays stay out


def test_by_an_error_or_a_bias_the_candidate_is_the_lowest(listening):
    evaluation = evaluation_create(
        algorithm_params={"popularity": {}, "item_knn": {}},
        protocol=Protocol(ks=(10,), seed=1, bootstrap=50),
        metric="popularity_bias",
    )
    evaluation = evaluation_run(evaluation_id=evaluation.pk)

    results = evaluation.results["results"]
    assert results["popularity"]["popularity_bias"] > results["item_knn"]["popularity_bias"]
    assert evaluation.candidate == "item_knn"
