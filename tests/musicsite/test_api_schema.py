"""Schemathesis against the live OpenAPI schema: generated requests to every operation, as a
signed-in listener, over real data and a published set. No answer may be a server error,
and every answer must match what the schema says (status code, content type, body)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework import throttling
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Song
from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from listening.models import Listen, Listener
from musicsite.wsgi import application
from recommender import publishing
from recommender.training import model_run_create, model_run_train
from tests.factories import UserFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
UNLIMITED = {"anon": "1000000/minute", "user": "1000000/minute"}


@pytest.fixture
def published(db, tmp_path, monkeypatch):
    path = tmp_path / "scrobbles.tsv"
    generate(path, "lastfm-1k", n_listeners=20, n_songs=80, n_listens=1500, seed=3)
    listen_import_run(batch_id=listen_import_create(path=path).pk)
    run = model_run_create(algorithm="item_knn")
    model_run_train(run_id=run.pk)
    publishing.publish(run_id=run.pk, top_n=10)
    # Hundreds of generated requests would meet the rate limits, which are not under test.
    monkeypatch.setattr(throttling.SimpleRateThrottle, "THROTTLE_RATES", UNLIMITED)


@pytest.fixture
def same_connection():
    """Requests go straight to the WSGI app, whose request signals close the database
    connection after each one (the test's transaction with it); Django's test client
    disconnects them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(published, same_connection) -> str:
    user = UserFactory(username="schemathesis")
    listener = Listener.objects.for_user(user)
    for song in Song.objects.all()[:5]:
        Listen.objects.create(listener=listener, song=song, artist_id=song.artist_id)
    return Token.objects.create(user=user).key


# Loaded when the module is collected: making the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_its_schema_says(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
