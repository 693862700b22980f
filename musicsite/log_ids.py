"""Every log line says which request or task wrote it, optionally as one JSON object a line.

`RequestIdMiddleware` takes the id a proxy sent in X-Request-ID (or makes one) and returns it
in the response; Celery's task signals set the task id around each task. `WithIds` puts
both on every record (`-` where there is none), for the plain format and for `JsonLines`
(LOG_FORMAT=json), which log collectors read without parsing text.
"""

import contextvars
import json
import logging
import re
import threading
import uuid

from celery.signals import task_postrun, task_prerun
from django.core.signals import request_finished
from django.dispatch import receiver

current_request_id = contextvars.ContextVar("request_id", default="-")
current_task_id = contextvars.ContextVar("task_id", default="-")

# What we accept from a proxy: short and printable, so it cannot forge or break log lines.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdMiddleware:
    HEADER = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sent = request.headers.get(self.HEADER, "")
        current = sent if ACCEPTED_ID.fullmatch(sent) else uuid.uuid4().hex
        # Kept until the request finishes: Django logs 4xx/5xx responses after the
        # middleware returns.
        current_request_id.set(current)
        response = self.get_response(request)
        response[self.HEADER] = current
        return response


@receiver(request_finished)
def _request_finished(**kwargs) -> None:
    current_request_id.set("-")


# Tasks nest when they run in-process (eager), so each restores the id it replaced.
_task_tokens = threading.local()


@task_prerun.connect
def _task_started(task_id: str | None = None, **kwargs) -> None:
    stack = _task_tokens.__dict__.setdefault("stack", [])
    stack.append(current_task_id.set(task_id or "-"))


@task_postrun.connect
def _task_ended(**kwargs) -> None:
    stack = _task_tokens.__dict__.get("stack")
    if stack:
        current_task_id.reset(stack.pop())


class WithIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        record.task_id = current_task_id.get()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "task_id": getattr(record, "task_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
