"""Log lines carry the request or task id, as text or as JSON lines."""

import io
import json
import logging

import pytest
from django.test import Client

from musicsite.log_ids import JsonLines, WithIds
from recommender import pipeline, tasks
from tests.listening_data import import_generated


@pytest.fixture
def json_log():
    """What the root logger writes during the test, as the JSON-lines handler writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(WithIds())
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.django_db
def test_every_response_names_its_request_and_its_log_lines_carry_it(json_log):
    response = Client().get("/songs/999999999/")  # not found: django.request logs it
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32

    lines = [line for line in json_log() if line["logger"] == "django.request"]
    assert lines and lines[-1]["request_id"] == request_id and lines[-1]["task_id"] == "-"
    assert lines[-1]["level"] == "WARNING" and "Not Found" in lines[-1]["message"]


@pytest.mark.django_db
def test_a_proxys_request_id_is_kept_unless_it_could_forge_a_log_line(json_log):
    kept = Client().get("/healthz", headers={"X-Request-ID": "edge-7f3a.1"})
    assert kept["X-Request-ID"] == "edge-7f3a.1"
    forged = Client().get("/healthz", headers={"X-Request-ID": "x\nERROR fake line"})
    assert forged["X-Request-ID"] != "x\nERROR fake line" and len(forged["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_a_tasks_log_lines_carry_its_id_and_none_after_it(json_log, tmp_path):
    import_generated(tmp_path, listeners=40, songs=100, listens=2000)
    run = pipeline.pipeline_create(algorithm_names=["popularity"])

    result = tasks.pipeline_run.delay(run.pk)
    logging.getLogger("after").info("outside any task")

    lines = json_log()
    started = next(line for line in lines if line["message"].endswith("snapshot started"))
    assert started["task_id"] == result.id and started["request_id"] == "-"
    assert lines[-1]["message"] == "outside any task" and lines[-1]["task_id"] == "-"


def test_the_plain_format_names_both_ids(settings):
    plain = settings.LOGGING["formatters"]["plain"]["format"]
    assert "request=%(request_id)s task=%(task_id)s" in plain
    # And a line written through it says so, with "-" where there is no request or task.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    WithIds().filter(record)
    assert logging.Formatter(plain).format(record).endswith("request=- task=- hello")
