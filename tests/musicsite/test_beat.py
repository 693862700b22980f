"""Beat's schedule: seeded from the settings once, and what the admin changed survives a restart."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from celery.utils.imports import symbol_by_name
from django.conf import settings
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from musicsite.celery import app as celery_app
from tests.conftest import _database_url
from tests.services import wait_for

BASE_DIR = Path(__file__).resolve().parents[2]
NIGHTLY = "nightly pipeline"


def _start_beat_in_process() -> None:
    """What `celery beat` does when it starts: make its scheduler (which sets the schedule
    up), as beat's service does."""
    scheduler = symbol_by_name(celery_app.conf.beat_scheduler)(app=celery_app)
    scheduler.close()


def _edit_in_the_admin(name: str, *, hour: str, minute: str) -> None:
    """A new time for an entry, saved as the admin's change form saves it."""
    task = PeriodicTask.objects.get(name=name)
    task.crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*"
    )
    task.save()


def _time_of(name: str) -> tuple[str, str]:
    crontab = PeriodicTask.objects.select_related("crontab").get(name=name).crontab
    return crontab.hour, crontab.minute


# Beat closes the connection between its database reads (`close_old_connections`), which a
# test's surrounding transaction would not survive.
@pytest.mark.django_db(transaction=True)
def test_beat_seeds_every_entry_of_the_settings_once_and_keeps_what_the_admin_changed():
    _start_beat_in_process()
    assert set(settings.CELERY_BEAT_SCHEDULE) <= set(
        PeriodicTask.objects.values_list("name", flat=True)
    )
    assert _time_of(NIGHTLY) == ("2", "30")
    _edit_in_the_admin(NIGHTLY, hour="3", minute="45")
    PeriodicTask.objects.filter(name="hourly charts").update(enabled=False)
    PeriodicTask.objects.filter(name="prune old sets and artifacts").delete()

    _start_beat_in_process()  # a restart, a deploy

    assert _time_of(NIGHTLY) == ("3", "45")
    assert not PeriodicTask.objects.get(name="hourly charts").enabled
    assert PeriodicTask.objects.filter(name="prune old sets and artifacts").exists()  # again


class BeatProcess:
    """`celery -A musicsite beat` as the compose file and `make beat` run it, on this test's
    database and a Redis of the test's own (what it sends goes nowhere else)."""

    def __init__(self, log_path: Path, redis_url: str):
        env = {**os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": redis_url}
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self.log_path = log_path
        self._log = open(log_path, "a")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "musicsite", "beat", "--loglevel=INFO"],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self._log.close()


def _has(name: str) -> bool:
    return PeriodicTask.objects.filter(name=name).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_time_changed_in_the_admin_survives_a_restart_of_a_real_beat(own_redis, tmp_path):
    log = tmp_path / "beat.log"
    first = BeatProcess(log, own_redis.url)
    try:
        assert wait_for(lambda: all(_has(name) for name in settings.CELERY_BEAT_SCHEDULE)), (
            log.read_text()
        )
    finally:
        first.stop()
    _edit_in_the_admin(NIGHTLY, hour="3", minute="45")
    # Deleted, so that its coming back says the restarted beat has set its schedule up.
    PeriodicTask.objects.filter(name="prune old sets and artifacts").delete()

    again = BeatProcess(log, own_redis.url)
    try:
        assert wait_for(lambda: _has("prune old sets and artifacts")), log.read_text()
    finally:
        again.stop()  # and whatever it writes on the way out is written

    assert _time_of(NIGHTLY) == ("3", "45"), log.read_text()
