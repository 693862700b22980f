"""Refreshing one listener's suggestions after new listens, loves or feedback.

A refresh refolds the listener from their listens (and loves) as they are now with the
active set's model — ALS folds them in, item-to-item models sum their neighbours — and
replaces their rows in the active set, built by the one builder publishing uses
(`listener_lists.lists_build`: same cold start, same roll-up). Listens arriving in a burst
ask for one refresh (`request_refresh`); with the broker down the request is logged and
kept in the database (PendingRefresh), and `resend_pending` queues it once the broker is
back.
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnreachable

from listening.models import Listener
from musicsite.safe_cache import attempt
from recommender.listener_data import lists_refold
from recommender.models import PendingRefresh, RecommendationSet, SetStatus
from recommender.serving import forget_lists

log = logging.getLogger(__name__)

PENDING_SECONDS = 10


def pending_key(listener_id: int) -> str:
    return f"recommender:refresh-pending:{listener_id}"


def request_refresh(listener_id: int) -> bool:
    """Queue one refresh of the listener after the transaction commits, unless one is
    already waiting (listens in a burst coalesce); True when queued. Without a cache, every
    request queues."""
    added = attempt("add", pending_key(listener_id), 1, PENDING_SECONDS, default=True)
    if not added:
        return False
    transaction.on_commit(lambda: _send_refresh(listener_id))
    return True


def _send_refresh(listener_id: int) -> bool:
    """Queue the refresh; with the broker down, keep it in the database for
    `resend_pending` (the listens are stored either way, and the request succeeds)."""
    from recommender.tasks import listener_refresh

    try:
        listener_refresh.delay(listener_id)
    except BrokerUnreachable:
        log.warning("refresh of listener %s kept for later: the broker is unavailable", listener_id)
        attempt("delete", pending_key(listener_id))
        PendingRefresh.objects.bulk_create(
            [PendingRefresh(listener_id=listener_id)], ignore_conflicts=True
        )
        return False
    return True


RESEND_BATCH = 5000


def resend_pending() -> int:
    """Queue the refreshes the broker missed while it was down, oldest first; how many.
    Stops at the first that still cannot be queued (the rest wait for the next run)."""
    waiting = PendingRefresh.objects.order_by("requested_at").values_list("listener_id", flat=True)
    sent = []
    for listener_id in waiting[:RESEND_BATCH]:
        if not _send_refresh(listener_id):
            break
        sent.append(listener_id)
    PendingRefresh.objects.filter(listener_id__in=sent).delete()
    return len(sent)


def refresh_listener(listener_id: int, recommendation_set_id: int | None = None) -> bool:
    """Recompute the listener's rows in the active set (or the given one) from their
    listens and loves now, as publishing would (`listener_data.lists_refold`); True if done."""
    attempt("delete", pending_key(listener_id))
    sets = RecommendationSet.objects.select_related("run")
    if recommendation_set_id is None:
        current = sets.filter(status=SetStatus.ACTIVE).first()
    else:
        current = sets.filter(pk=recommendation_set_id).first()
    if current is None or not Listener.objects.filter(pk=listener_id).exists():
        return False
    lists_refold(current, [listener_id])
    forget_lists(listener_id)
    return True
