"""The evaluate command end to end, on the generator's listening data."""

import json

import pytest
from django.core.management import CommandError, call_command

from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run


@pytest.fixture
def listening(db, tmp_path):
    path = tmp_path / "scrobbles.tsv"
    generate(path, "lastfm-1k", n_listeners=150, n_songs=500, n_listens=15_000, seed=21)
    listen_import_run(batch_id=listen_import_create(path=path).pk)


def test_item_knn_and_als_beat_popularity_on_the_generators_data(listening, tmp_path, capsys):
    out = tmp_path / "results.json"

    # Settings for a catalogue this small: few factors, firm regularisation, BM25 neighbours.
    call_command(
        "evaluate",
        "--algorithms",
        "popularity,item_knn,als",
        "--k",
        "10,20",
        "--seed",
        "1",
        "--param",
        "als.factors=16",
        "--param",
        "als.regularization=1.0",
        "--param",
        "item_knn.similarity=bm25",
        "--json",
        str(out),
    )

    comparison = json.loads(out.read_text())
    results = comparison["results"]
    assert comparison["protocol"]["split"] == "random" and comparison["protocol"]["ks"] == [10, 20]
    for name in ("precision@10", "recall@10", "f1@10", "map@10", "ndcg@10", "coverage"):
        assert 0 <= results["als"][name] <= 1
    assert results["item_knn"]["ndcg@10"] > results["popularity"]["ndcg@10"]
    assert results["als"]["ndcg@10"] > results["popularity"]["ndcg@10"]
    assert "ndcg@10" in capsys.readouterr().out


def test_a_temporal_split_evaluates_on_later_listening(listening, tmp_path):
    out = tmp_path / "results.json"

    call_command(
        "evaluate",
        "--algorithms",
        "popularity",
        "--split",
        "temporal",
        "--k",
        "10",
        "--json",
        str(out),
    )

    assert json.loads(out.read_text())["protocol"]["split"] == "temporal"


def test_unknown_algorithms_and_bad_parameters_are_refused(db):
    with pytest.raises(CommandError, match="unknown algorithms"):
        call_command("evaluate", "--algorithms", "magic")
    with pytest.raises(CommandError, match=r"algorithm\.name=value"):
        call_command("evaluate", "--algorithms", "als", "--param", "ease.l2=5")
