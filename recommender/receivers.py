"""The recommender's answers to what the listening layer announces (listening/events.py).

Connected once, in RecommenderConfig.ready. With tasks.py, the only place that queues the
recommender's tasks. A receiver only asks for work: a refresh is
queued (bursts coalesce, see `tasks.request_refresh`), a not-for-me item leaves the
active lists at once so the next page does not show it.
"""

from listening.events import feedback_given, feedback_withdrawn, listens_recorded
from listening.models import FeedbackKind

from . import serving, tasks


def on_listens_recorded(sender, *, listener_id: int, **kwargs) -> None:
    tasks.request_refresh(listener_id)


def on_feedback_given(
    sender,
    *,
    listener_id: int,
    kind: str,
    song_id: int | None,
    artist_id: int | None,
    queue_refresh: bool,
    **kwargs,
) -> None:
    if kind == FeedbackKind.NOT_FOR_ME:
        serving.drop_from_lists(listener_id, song_id=song_id, artist_id=artist_id)
    elif queue_refresh:  # a love folds in like a play (recommender.seeds)
        tasks.request_refresh(listener_id)


def on_feedback_withdrawn(sender, *, listener_id: int, **kwargs) -> None:
    # Refolded as after a word given: a love no longer counts, a not-for-me item may return.
    tasks.request_refresh(listener_id)


def connect() -> None:
    listens_recorded.connect(on_listens_recorded, dispatch_uid="recommender-listens")
    feedback_given.connect(on_feedback_given, dispatch_uid="recommender-feedback")
    feedback_withdrawn.connect(on_feedback_withdrawn, dispatch_uid="recommender-feedback-undo")
