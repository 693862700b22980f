"""Refreshing one listener's suggestions after new listens, loves or feedback.

A refresh refolds the listener from their listens (and loves) as they are now with the
active set's model — ALS folds them in, item-to-item models sum their neighbours — and
replaces their rows in the active set, built by the one builder publishing uses
(`listener_lists.lists_build`: same cold start, same roll-up). Queueing a refresh is
tasks.py's (`request_refresh`: listens in a burst ask for one; with the broker down the
request is kept in the database, PendingRefresh, and `resend_pending` queues it once the
broker is back); this module only does the work.
"""

from listening.models import Listener
from musicsite.safe_cache import attempt
from recommender.listener_data import lists_refold
from recommender.models import RecommendationSet, SetStatus
from recommender.serving import forget_lists

# A refresh asked for within this many seconds of a waiting one is the same refresh.
PENDING_SECONDS = 10


def pending_key(listener_id: int) -> str:
    return f"recommender:refresh-pending:{listener_id}"


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
