"""Celery beat's scheduler: the database's schedule, seeded from the settings, never reset.

django-celery-beat's `DatabaseScheduler` writes every `CELERY_BEAT_SCHEDULE` entry over its
database row each time beat starts (`update_or_create`), so a time an operator changed in
the admin (Periodic tasks) went back to the settings' on the next deploy or restart. Here
the settings only seed: beat creates the entries the database lacks and leaves every
existing one as it is, edited, paused or not. A changed time in the settings therefore
reaches an existing database through the admin (or by deleting the entry: the next start
creates it again from the settings).
"""

import logging

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

log = logging.getLogger(__name__)


class SeedingScheduler(DatabaseScheduler):
    """`DatabaseScheduler` whose start-up (`setup_schedule`: Celery's own entries, then
    `beat_schedule`) adds the missing entries only."""

    def update_from_dict(self, mapping):
        kept = set(
            PeriodicTask.objects.filter(name__in=list(mapping)).values_list("name", flat=True)
        )
        missing = {name: entry for name, entry in mapping.items() if name not in kept}
        if missing:
            log.info("beat: new schedule entries from the settings: %s", ", ".join(missing))
        super().update_from_dict(missing)
