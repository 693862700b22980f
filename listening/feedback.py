"""A listener's love or not-for-me on a song or an artist."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from listening import events
from listening.models import Feedback, FeedbackKind, FeedbackOrigin, Listener


def feedback_give(
    listener: Listener,
    *,
    kind: str,
    song_id: int | None = None,
    artist_id: int | None = None,
    expires_at: datetime | None = None,
    refresh: bool = True,
    origin: str = FeedbackOrigin.SAID,
) -> Feedback:
    """Record (or replace) the listener's word on one song or artist.

    Announced through `events.feedback_given`: the recommender takes a not-for-me item out
    of the listener's active suggestions at once (and, for an artist, their songs too), and
    later publications and refreshes keep it out while it holds; a love counts like a play
    of the item, so their suggestions are refreshed (queued; `refresh=False` for a caller
    that refreshes them itself).
    """
    if (song_id is None) == (artist_id is None):
        raise ValueError("feedback is on one song or one artist")
    if kind not in FeedbackKind.values:
        raise ValueError(f"kind must be one of {', '.join(FeedbackKind.values)}")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("expires_at must be in the future")
    target = {"song_id": song_id} if song_id is not None else {"artist_id": artist_id}
    with transaction.atomic():
        feedback, _ = Feedback.objects.update_or_create(
            listener=listener,
            **target,
            defaults={"kind": kind, "expires_at": expires_at, "origin": origin},
        )
    events.feedback_given.send(
        sender=Feedback,
        listener_id=listener.pk,
        kind=kind,
        song_id=song_id,
        artist_id=artist_id,
        queue_refresh=refresh,
    )
    return feedback


def feedback_withdraw(
    listener: Listener, *, song_id: int | None = None, artist_id: int | None = None
) -> bool:
    """Take back the listener's love or not-for-me on one song or artist (the "Undo"); False
    when there was none.

    Announced through `events.feedback_withdrawn`: the recommender refreshes the listener's
    suggestions as after giving feedback, so a withdrawn love stops counting and a withdrawn
    not-for-me may be suggested again.
    """
    if (song_id is None) == (artist_id is None):
        raise ValueError("feedback is on one song or one artist")
    target = {"song_id": song_id} if song_id is not None else {"artist_id": artist_id}
    deleted, _ = Feedback.objects.filter(listener=listener, **target).delete()
    if not deleted:
        return False
    events.feedback_withdrawn.send(
        sender=Feedback, listener_id=listener.pk, song_id=song_id, artist_id=artist_id
    )
    return True
