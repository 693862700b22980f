"""Real services a test controls: a Redis server of its own, this process's broker."""

import socket
import subprocess
import time
from contextlib import contextmanager

import redis

from musicsite.celery import app as celery_app


def wait_for(condition, seconds: float = 60.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


class OwnRedis:
    """A Redis server of the test's own (stopping it disturbs nothing else), which can be
    stopped and started again on the same port (fixture: `own_redis`)."""

    def __init__(self, folder):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.server = None
        self.start()

    def start(self) -> None:
        self.server = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
        )
        assert wait_for(lambda: _pings(redis.Redis.from_url(self.url)), seconds=10)

    def stop(self) -> None:
        self.server.kill()
        self.server.wait()


@contextmanager
def celery_broker(url: str):
    """This process's Celery app sends to `url` (as a web process configured so would)."""

    def point_at(broker: str) -> None:
        celery_app.conf.broker_url = broker
        celery_app._pool = None  # the connection pools were made for the previous broker
        celery_app.amqp._producer_pool = None

    previous = celery_app.conf.broker_url
    point_at(url)
    try:
        yield
    finally:
        point_at(previous)
