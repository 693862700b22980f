import pytest
from django.core.management import call_command
from django.db import connection

OUR_APPS = ["recommender", "listening", "catalog"]  # dependents first


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # Raises SystemExit(1) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_migrations_apply_from_zero():
    for app in OUR_APPS:
        call_command("migrate", app, "zero", verbosity=0)
    tables = set(connection.introspection.table_names())
    assert "listening_listen" not in tables
    assert "catalog_song" not in tables

    call_command("migrate", verbosity=0)
    tables = set(connection.introspection.table_names())
    assert {"catalog_song", "listening_listen", "recommender_recommendationset"} <= tables
