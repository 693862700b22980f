"""The curation migrations keep every existing row public and refold the stored keys that
held invisible characters."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("catalog", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_existing_rows_stay_public_and_their_keys_lose_invisible_characters():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("catalog")
    executor.migrate(BEFORE)
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    artist = old.get_model("catalog", "Artist").objects.create(
        name="\u202eNina Simone", name_key="\u202enina simone"
    )
    old.get_model("catalog", "Song").objects.create(
        title="Sinner\u200bman", title_key="sinner\u200bman", artist_id=artist.pk
    )

    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    new = executor.loader.project_state(latest).apps
    artist = new.get_model("catalog", "Artist").objects.get()
    song = new.get_model("catalog", "Song").objects.get()
    assert artist.status == song.status == "public"
    assert artist.submitted_by_id is None
    assert (artist.name_key, song.title_key) == ("nina simone", "sinnerman")
    assert artist.name == "\u202eNina Simone"  # display names keep what came in
