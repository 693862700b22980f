"""The site's background work: rendering the ready pages a switch of sets finds missing.

A rollback (from the admin or the operations page) makes a retired set active again, and
its pages were deleted when it was retired. Rendering them all took the web request that
switched (seconds per thousand listeners with an account); as a task it runs on a worker,
and in the embedded default (tasks in-process) where it always did. Reads meanwhile go
through DRF: correct, and slower.
"""

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

from web import ready_pages

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def ready_pages_render(set_id: int) -> int:
    """Every reader's pages of set `set_id`, if it is still the active set and has none."""
    if ready_pages.missing_pages_of_active_set() != set_id:
        return 0
    return ready_pages.ready_pages_render_all(set_id=set_id)


def on_active_set_changed(sender=None, **kwargs) -> None:
    """The switch is saved: if the active set's pages are missing, render them in a task."""
    set_id = ready_pages.missing_pages_of_active_set()
    if set_id is None:
        return
    try:
        ready_pages_render.delay(set_id)
    except OperationalError:  # no broker: the switch stands; DRF answers until a render
        log.warning("ready pages of set %s not queued", set_id, exc_info=True)
