"""The generator's injected dirt is found exactly by the import's cleaning rules."""

import pytest

from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from listening.models import Listen, Listener
from musicsite.jobs import JobStatus

FILE_NAMES = {
    "lastfm-1k": "scrobbles.tsv",
    "taste-profile": "train_triplets.txt",
    "listenbrainz": "listens.jsonl",
    "spotify": "Streaming_History_Audio_2024.json",
}


@pytest.mark.django_db
@pytest.mark.parametrize("format_name", sorted(FILE_NAMES))
def test_every_kind_of_injected_dirt_is_found_exactly(tmp_path, format_name):
    path = tmp_path / FILE_NAMES[format_name]
    manifest = generate(
        path, format_name, n_listeners=40, n_songs=150, n_listens=4000, seed=11, dirt=0.05
    )
    options = {"songs_path": str(path) + ".songs.csv"} if format_name == "taste-profile" else {}

    batch = listen_import_create(path=path, format=format_name, options=options)
    batch = listen_import_run(batch_id=batch.pk)

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    found = {name: entry["rows"] for name, entry in batch.report["rules"].items()}
    expected = manifest["expected_report"]
    assert {rule: found[rule] for rule in expected} == expected
    assert batch.rows_read == manifest["rows_written"]
    assert sorted(batch.report["flagged_listeners"]) == sorted(manifest["bot_listeners"])
    flagged = Listener.objects.filter(is_flagged=True).values_list("external_id", flat=True)
    assert set(flagged) == set(manifest["bot_listeners"])
    assert Listen.objects.count() == batch.rows_loaded > 0
