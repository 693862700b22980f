"""The Celery app. Configured from Django settings (every `CELERY_*` name).

Tasks are DjangoTask subclasses, so callers queue them with `delay_on_commit()`:
a worker never picks up a job whose database row is not committed yet.
"""

import os

from celery import Celery

from . import log_ids  # noqa: F401  (its task signals put the task id on log lines)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")

app = Celery("musicsite", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
