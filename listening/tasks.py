"""Celery tasks: thin, they take ids and call one service."""

from celery import shared_task

from . import listen_import, services
from .charts import charts_compute
from .exploration import report


@shared_task
def data_snapshot_create() -> int:
    """Record the current size of the listening data; returns the snapshot's id."""
    return services.data_snapshot_create().pk


@shared_task(acks_late=True)
def listen_import_run(batch_id: int) -> str:
    """Run one ImportBatch; its row records progress, report and any failure."""
    return listen_import.listen_import_run(batch_id=batch_id).status


@shared_task(acks_late=True)
def exploration_report_run(report_id: int) -> str:
    """Compute one exploration report; its row records figures, charts or the failure."""
    return report.exploration_report_run(report_id=report_id).status


@shared_task(ignore_result=True)
def charts_refresh() -> None:
    """Recompute the charts of plays (hourly): pages and the API read them from the cache."""
    charts_compute()
