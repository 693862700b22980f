"""Shared fixtures: the services a test needs, skipped with the reason where absent."""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from musicsite.celery import app as celery_app
from tests.services import OwnRedis

BASE_DIR = Path(__file__).resolve().parent.parent


def _redis_unreachable_reason() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set (the embedded default has no broker)"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at REDIS_URL does not answer: {error}"
    return None


def pytest_collection_modifyitems(config, items):
    redis_reason = _redis_unreachable_reason()
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: DATABASE_URL is not set"))
        if ("redis" in item.keywords or "worker" in item.keywords) and redis_reason:
            item.add_marker(pytest.mark.skip(reason=redis_reason))
        if "worker" in item.keywords and not on_postgres:
            item.add_marker(
                pytest.mark.skip(
                    reason="a worker process cannot share SQLite's in-memory test database"
                )
            )


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ARTIFACT_DIR": tmp_path / "artifacts"}
    # Each test starts with an empty cache: no rate counts or cached lists from the last.
    cache.clear()


@pytest.fixture(autouse=True)
def _celery_in_process(request):
    """Tasks run in-process, unless the test is about a real worker."""
    eager = request.node.get_closest_marker("worker") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, to stop and start (see tests/services.py)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261126)


def _database_url() -> str:
    """The URL of the database this test run uses, for a process of its own."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


class WorkerProcess:
    """A real `celery worker` in its own process, consuming a queue of its own (also its
    default queue, where the tasks it sends go); `concurrency` > 1: a prefork pool."""

    def __init__(self, log_path: Path, concurrency: int = 1, redis_url: str | None = None):
        self.queue = f"test-{uuid.uuid4().hex[:12]}"
        self.nodename = f"{self.queue}@localhost"
        self.log_path = log_path
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": redis_url or settings.REDIS_URL,
            # Files the worker writes stay in the test's own folder.
            "MEDIA_ROOT": str(log_path.parent / "worker-media"),
            # The test's own artifacts: what it trains, the worker serves, and vice versa.
            "RECOMMENDER_ARTIFACT_DIR": str(settings.RECOMMENDER["ARTIFACT_DIR"]),
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
        }
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self._log = open(log_path, "w")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "musicsite",
                "worker",
                *(["--pool=solo"] if concurrency == 1 else [f"--concurrency={concurrency}"]),
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
                "-n",
                self.nodename,
                "-Q",
                self.queue,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()}")
            if celery_app.control.ping(destination=[self.nodename], timeout=0.5):
                return
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def celery_worker_process(request, transactional_db, tmp_path):
    """Start a real worker against this test's database; stop it afterwards. Parametrise
    it indirectly with a number for that many worker processes."""
    worker = WorkerProcess(tmp_path / "worker.log", concurrency=getattr(request, "param", 1))
    # Tasks queued without a queue (delay, delay_on_commit) go to this worker's queue.
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = worker.queue
    try:
        worker.wait_ready()
        yield worker
    finally:
        celery_app.conf.task_default_queue = default_queue
        worker.stop()
