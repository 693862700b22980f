"""Celery tasks: thin, they take ids and call one service."""

from celery import shared_task

from musicsite.job_task import JobTask

from . import listen_import, services
from .charts import charts_compute
from .exploration import report as exploration
from .models import ExplorationReport, ImportBatch


@shared_task
def data_snapshot_create() -> int:
    """Record the current size of the listening data; returns the snapshot's id."""
    return services.data_snapshot_create().pk


@shared_task(base=JobTask, job_model=ImportBatch)
def listen_import_run(batch: ImportBatch) -> None:
    """Run one ImportBatch; its row records progress, report and any failure."""
    listen_import.listen_import_load(batch)


@shared_task(base=JobTask, job_model=ExplorationReport)
def exploration_report_run(report: ExplorationReport) -> None:
    """Compute one exploration report; its row records figures, charts or the failure."""
    exploration.exploration_report_compute(report)


@shared_task(ignore_result=True)
def charts_refresh() -> None:
    """Recompute the charts of plays (hourly): pages and the API read them from the cache."""
    charts_compute()
