"""What every background job's row has: status, timings, progress, error.

Imports, training runs, evaluations and publications inherit this, so the admin shows
them all alike and a crashed worker leaves an honest record instead of a silent gap.
"""

import logging
import time
import traceback
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection, models
from django.utils import timezone

log = logging.getLogger(__name__)

# What a lost database connection raises (a restart, a failover, a network cut).
DATABASE_LOST = (OperationalError, InterfaceError)
RECORD_ATTEMPTS = 6


def on_a_live_connection(save: Callable[[], None], wait_seconds: float = 1.0) -> None:
    """Run `save`; if the connection was lost, open a new one and try again, waiting a
    little longer each time (a restarting server refuses connections for a few seconds).
    So a job that failed because the database went away still records why."""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            return save()
        except DATABASE_LOST:
            if connection.in_atomic_block or attempt == RECORD_ATTEMPTS - 1:
                raise
            connection.close()
            time.sleep(wait_seconds * (attempt + 1))


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="Share done, from 0 to 1.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def has_failed(self) -> bool:
        return self.status == JobStatus.FAILED

    @property
    def duration_seconds(self) -> float | None:
        """Wall time from start to finish (or to now, while it runs)."""
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    def mark_running(self) -> None:
        self.status, self.started_at, self.error = JobStatus.RUNNING, timezone.now(), ""
        self.save(update_fields=["status", "started_at", "error"])

    def mark_succeeded(self) -> None:
        self.status, self.progress, self.finished_at = JobStatus.SUCCEEDED, 1.0, timezone.now()
        self.save(update_fields=["status", "progress", "finished_at"])

    def mark_failed(self, error: str) -> None:
        """Record the failure, on a new connection if the database connection was what
        failed."""
        self.status, self.finished_at, self.error = JobStatus.FAILED, timezone.now(), error
        on_a_live_connection(lambda: self.save(update_fields=["status", "finished_at", "error"]))

    def reopen(self) -> bool:
        """A failed job back to queued, to be retried; False if it had not failed."""
        reopened = (
            type(self)
            .objects.filter(pk=self.pk, status=JobStatus.FAILED)
            .update(status=JobStatus.QUEUED, progress=0.0, finished_at=None)
        )
        self.refresh_from_db()
        return bool(reopened)


J = TypeVar("J", bound=Job)


def failure_text(error: BaseException) -> str:
    """What a failed job's row says: the error on the first line (what lists and commands
    show), then its whole traceback, with the errors it arose from."""
    return f"{type(error).__name__}: {error}\n" + "".join(traceback.format_exception(error))


def job_run(
    model: type[J],
    job_id: int,
    work: Callable[[J], object],
    *,
    finishes: bool = True,
) -> J:
    """The one lifecycle of a job row, around `work(job)`; the row, as it ended.

    A finished row is returned untouched (a task delivered twice does the work once). The
    row is marked running (unless an earlier step of a job spanning several tasks did), and
    the run is timed. A failure is recorded with its traceback, on a new connection if the
    database connection was what failed, and raised. When `work` returns, the row succeeds
    unless `work` ended it itself (an import that was cancelled, a pipeline that was) or,
    with `finishes=False`, a later task finishes it.
    `musicsite.job_task.JobTask` runs every job task through this; services called in
    process (commands, the in-process pipeline) use it directly.
    """
    job = model.objects.get(pk=job_id)
    if job.is_finished:
        return job
    if job.status != JobStatus.RUNNING:
        job.mark_running()
    label, started = f"{model._meta.label} {job_id}", time.perf_counter()
    try:
        work(job)
    except Exception as error:
        job.mark_failed(failure_text(error))
        log.warning("%s failed after %.1f s: %s", label, time.perf_counter() - started, error)
        raise
    seconds = time.perf_counter() - started
    if job.status == JobStatus.RUNNING and finishes:
        if any(field.name == "compute_seconds" for field in model._meta.concrete_fields):
            job.compute_seconds = seconds
            job.save(update_fields=["compute_seconds"])
        job.mark_succeeded()
    log.info("%s %s in %.1f s", label, job.status, seconds)
    return job
