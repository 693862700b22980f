"""The evaluate command end to end, on the generator's listening data."""

import json

import pytest
from django.core.management import CommandError, call_command

from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from tests.factories import ListenerFactory, ListenFactory, SongFactory


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
    # Every generated scrobble has a time, so the default is the temporal split.
    protocol = comparison["protocol"]
    assert (protocol["split_asked"], protocol["split"]) == ("auto", "temporal")
    assert protocol["split_reason"] == "all 15,000 listens have a time: temporal"
    assert protocol["ks"] == [10, 20]
    for name in ("precision@10", "recall@10", "f1@10", "map@10", "ndcg@10", "coverage"):
        assert 0 <= results["als"][name] <= 1
    assert results["item_knn"]["ndcg@10"] > results["popularity"]["ndcg@10"]
    assert results["als"]["ndcg@10"] > results["popularity"]["ndcg@10"]
    out = capsys.readouterr().out
    assert "ndcg@10" in out and "Split temporal (all 15,000 listens have a time" in out


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


def test_last_n_holds_out_each_listeners_latest_items(listening, tmp_path):
    out = tmp_path / "results.json"

    call_command(
        "evaluate",
        *("--algorithms", "popularity", "--split", "last_n", "--last-n", "3", "--k", "10"),
        *("--json", str(out)),
    )

    comparison = json.loads(out.read_text())
    assert comparison["protocol"]["split"] == "last_n"
    assert comparison["protocol"]["last_n"] == 3
    assert comparison["protocol"]["split_params"] == {"n": 3}
    # Per listener, not by a global cut-off: nearly every listener is tested (a temporal
    # split tests only those active after its cut-off).
    assert comparison["results"]["popularity"]["n_listeners"] >= 0.95 * 150


def test_a_time_based_split_of_listens_without_times_is_refused_with_their_count(
    listening, tmp_path
):
    listener, songs = ListenerFactory(), SongFactory.create_batch(2)
    for song in songs:  # aggregated counts, as a Taste Profile import gives
        ListenFactory(listener=listener, song=song, played_at=None, play_count=4)
    out = tmp_path / "results.json"

    for split in ("temporal", "last_n"):
        with pytest.raises(CommandError, match="2 of 15,002 listens have none"):
            call_command("evaluate", "--algorithms", "popularity", "--split", split)
    call_command("evaluate", "--algorithms", "popularity", "--k", "10", "--json", str(out))

    protocol = json.loads(out.read_text())["protocol"]
    assert (protocol["split_asked"], protocol["split"]) == ("auto", "random")
    assert protocol["split_reason"] == "2 of 15,002 listens have no time: random"


def test_unknown_algorithms_and_bad_parameters_are_refused(db):
    with pytest.raises(CommandError, match="unknown algorithms"):
        call_command("evaluate", "--algorithms", "magic")
    with pytest.raises(CommandError, match="last_n must be at least 1"):
        call_command("evaluate", "--algorithms", "popularity", "--last-n", "0")
    with pytest.raises(CommandError, match=r"algorithm\.name=value"):
        call_command("evaluate", "--algorithms", "als", "--param", "ease.l2=5")
