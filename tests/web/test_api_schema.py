"""Schemathesis against the live OpenAPI schema: generated requests to every operation, as a
signed-in listener, over real data and a published set. No answer may be a server error,
and every answer must match what the schema says (status code, content type, body)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Song
from listening.models import Listen, Listener
from musicsite.wsgi import application
from tests.factories import UserFactory
from tests.listening_data import import_generated, publish_trained

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
UNLIMITED = {"anon": "1000000/minute", "user": "1000000/minute"}


@pytest.fixture
def published(db, tmp_path, settings):
    import_generated(tmp_path, listeners=20, songs=80, listens=1500, seed=3)
    publish_trained("item_knn", top_n=10)
    # Hundreds of generated requests would meet the rate limits, which are not under test.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": UNLIMITED}


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
    return AuthToken.objects.create(user=user)[1]


# Loaded when the module is collected: making the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=100,
    derandomize=True,  # the same examples every run: CI must not turn red by chance
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_its_schema_says(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
