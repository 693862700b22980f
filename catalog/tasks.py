"""Celery tasks of the catalogue."""

from celery import shared_task

from .charts import charts_compute


@shared_task(ignore_result=True)
def charts_refresh() -> None:
    """Recompute the charts (hourly): pages and the API read them from the cache."""
    charts_compute()
