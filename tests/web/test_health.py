"""The health checks as a deployment's probes see them: a real server in production settings."""

import http.client
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.services import wait_for

BASE_DIR = Path(__file__).resolve().parents[2]
# What an operator puts in .env beside docker-compose.yml (the compose file refuses to start
# without SECRET_KEY); the public name the site is served under.
DOT_ENV = {
    "SECRET_KEY": "x7#k2-production-like-secret-key-that-is-long-and-random-9fQz!vB3mW",
    "ALLOWED_HOSTS": "music.example.org",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def _interpolated(value: str) -> str:
    """Compose's `${NAME:-default}` and `${NAME:?message}`, from DOT_ENV."""

    def one(found: re.Match) -> str:
        name, kind, rest = found.groups()
        if name in DOT_ENV:
            return DOT_ENV[name]
        if kind == "?":
            raise AssertionError(f"compose requires {name}: {rest}")
        return rest or ""

    return VARIABLE.sub(one, str(value))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status(port: int, path: str, host: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    return response.status, response.getheader("Location", "")


@pytest.fixture
def compose_web() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]["web"]


@pytest.fixture
def production_server(compose_web, tmp_path):
    """gunicorn as the compose web service runs it, with its environment (DEBUG off,
    SECURE_SSL_REDIRECT on), on a free local port; the services it names are not here, so
    the database is a file of the test's own and there is no Redis (the checks run need
    neither)."""
    env = {key: _interpolated(value) for key, value in compose_web["environment"].items()}
    assert env["DEBUG"] == "false" and env["SECURE_SSL_REDIRECT"] == "true"
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="",
        MEDIA_ROOT=str(tmp_path / "media"),
        RECOMMENDER_ARTIFACT_DIR=str(tmp_path / "artifacts"),
        ENV_FILE="",
    )
    # The service's command: migrations, then gunicorn; gunicorn alone here, on one worker.
    (script,) = [part for part in shlex.split(compose_web["command"]) if "gunicorn" in part]
    gunicorn = shlex.split(script.split("&&")[-1])
    assert gunicorn[0] == "gunicorn" and "--bind" in gunicorn
    port = _free_port()
    gunicorn[gunicorn.index("--bind") + 1] = f"127.0.0.1:{port}"
    gunicorn[gunicorn.index("--workers") + 1] = "1"
    keep = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG")}
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115  (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", *gunicorn],
        cwd=BASE_DIR,
        env={**keep, "OPENBLAS_NUM_THREADS": "1", **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{(tmp_path / 'gunicorn.log').read_text()}")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        assert wait_for(listening, seconds=60, every=0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_the_compose_web_health_check_passes_against_production_settings(
    compose_web, production_server
):
    port = production_server
    test = compose_web["healthcheck"]["test"]
    assert test[0] == "CMD"
    # The check as compose runs it inside the container, asking gunicorn's bound port
    # (8000 there, a free one here) with the image's python (this one here).
    bound = re.search(r":(\d+)\s", compose_web["command"]).group(1)
    command = [
        sys.executable if part == "python" else part.replace(f":{bound}/", f":{port}/")
        for part in test[1:]
    ]
    assert any(f"127.0.0.1:{port}/healthz" in part for part in command)

    check = subprocess.run(command, capture_output=True, text=True, timeout=10)

    assert check.returncode == 0, check.stderr
    # Only the health paths answer any Host over plain HTTP: a page asked for by the
    # container's address is refused, and the public name is still sent to https.
    assert _status(port, "/", "127.0.0.1")[0] == 400
    status, location = _status(port, "/", "music.example.org")
    assert status == 301 and location == "https://music.example.org/"
    assert _status(port, "/readyz", f"127.0.0.1:{port}")[0] == 200
