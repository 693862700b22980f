"""Trigram indexes on the match keys, so a search for a word anywhere in a name ("forest" in
"lucky forest": `name_key LIKE '%forest%'`) is an index scan at hundreds of thousands of rows,
not a scan of the table. PostgreSQL only (pg_trgm); SQLite answers the same LIKE by a scan,
which is fast enough at the embedded mode's sizes.
"""

from django.db import migrations

INDEXES = [
    ("catalog_artist_name_key_trgm", "catalog_artist", "name_key"),
    ("catalog_song_title_key_trgm", "catalog_song", "title_key"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_curation_status_and_submitter")]

    operations = [migrations.RunPython(create, drop)]
