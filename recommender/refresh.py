"""Refreshing one listener's suggestions after new listens, loves or feedback.

A refresh refolds the listener from their listens (and loves) as they are now with the
active set's model — ALS folds them in, item-to-item models sum their neighbours — and
replaces their rows in the active set. Listens arriving in a burst ask for one refresh
(`request_refresh`); with the broker down the request is logged and kept in the database
(PendingRefresh), and `resend_pending` queues it once the broker is back.
"""

import logging
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from catalog.models import Song
from listening.models import Feedback, FeedbackKind, Listen, Listener, Skip
from musicsite.safe_cache import attempt
from recommender import algorithms
from recommender.data import InteractionMatrix
from recommender.models import (
    ListenerRecommendations,
    ModelRun,
    PendingRefresh,
    RecommendationSet,
    SetStatus,
    SimilarItems,
)
from recommender.seeds import loved_items
from recommender.serving import forget_lists
from recommender.suggestions import Suggestions, roll_up, suggest
from recommender.training import model_run_load, weigh

log = logging.getLogger(__name__)

PENDING_SECONDS = 10
# Fewer distinct items than this: a refresh lists the seeds' similar items, marked fallback.
MIN_HISTORY = 3
ROLL_UP_DEPTH = 200


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


@lru_cache(maxsize=1)
def _model(run_id: int) -> tuple[algorithms.Recommender, np.ndarray, np.ndarray]:
    """The active run's model and id maps, kept per process (loading is the slow part)."""
    model, _level, listener_ids, item_ids = model_run_load(ModelRun.objects.get(pk=run_id))
    return model, listener_ids, item_ids


def _listener_row(listener_id: int, level: str, item_ids: np.ndarray, run) -> sp.csr_matrix:
    """The listener's confidences now, in the model's columns (1 x items): their plays,
    and what they said they love (`seeds`) as one play each."""
    field = f"{level}_id"
    plays = (
        Listen.objects.filter(listener_id=listener_id, **{f"{field}__isnull": False})
        .values(field)
        .annotate(total=Sum("play_count"))
        .values_list(field, "total")
    )
    skip_field = "song_id" if level == "song" else "song__artist_id"
    skips = (
        Skip.objects.filter(listener_id=listener_id, **{f"{skip_field}__isnull": False})
        .values(skip_field)
        .annotate(total=Count("id"))
        .values_list(skip_field, "total")
    )

    # What the listener loves counts as one play, where they have not played it.
    played = dict(plays)
    plays = list(played.items()) + [
        (item, 1) for item in loved_items(listener_id, level) if item not in played
    ]

    def row_of(pairs) -> sp.csr_matrix:
        pairs = np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
        columns = np.searchsorted(item_ids, pairs[:, 0])
        columns = np.minimum(columns, max(len(item_ids) - 1, 0))
        known = (item_ids[columns] == pairs[:, 0]) if len(item_ids) else np.zeros(0, bool)
        values = pairs[known, 1].astype(np.float32)
        return sp.csr_matrix(
            (values, (np.zeros(known.sum(), dtype=np.int64), columns[known])),
            shape=(1, len(item_ids)),
        )

    matrix = InteractionMatrix(level, row_of(plays), row_of(skips), np.array([0]), item_ids)
    return weigh(matrix, run.weighting)


def _not_for_me_row(listener_id: int, level: str, item_ids: np.ndarray) -> sp.csr_matrix:
    field = f"{level}_id"
    refused = np.array(
        list(
            Feedback.objects.live()
            .filter(
                listener_id=listener_id, kind=FeedbackKind.NOT_FOR_ME, **{f"{field}__isnull": False}
            )
            .values_list(field, flat=True)
        ),
        dtype=np.int64,
    )
    columns = np.searchsorted(item_ids, refused)
    inside = columns < len(item_ids)
    inside[inside] &= item_ids[columns[inside]] == refused[inside]
    data = np.ones(inside.sum(), dtype=np.float32)
    return sp.csr_matrix(
        (data, (np.zeros(inside.sum(), dtype=np.int64), columns[inside])),
        shape=(1, len(item_ids)),
    )


def _seed_fallback(set_id: int, level: str, seeds: list[int], refused: set[int], k: int):
    """For a listener with few items: their seeds' similar items, best first (ids)."""
    lists = dict(
        SimilarItems.objects.filter(
            recommendation_set_id=set_id, level=level, item_id__in=seeds
        ).values_list("item_id", "item_ids")
    )
    chosen: dict[int, int] = {}
    for rank in range(max((len(items) for items in lists.values()), default=0)):
        for seed in seeds:
            items = lists.get(seed, [])
            if rank < len(items) and items[rank] not in refused and items[rank] not in seeds:
                chosen.setdefault(items[rank], seed)
    ranked = list(chosen.items())[:k]
    return (
        [item for item, _ in ranked],
        [float(k - i) for i in range(len(ranked))],
        [seed for _, seed in ranked],
    )


def refresh_listener(listener_id: int, recommendation_set_id: int | None = None) -> bool:
    """Recompute the listener's rows in the active set (or the given one, e.g. a set being
    built) from their listens and loves now; True if done."""
    attempt("delete", pending_key(listener_id))
    sets = RecommendationSet.objects.select_related("run")
    if recommendation_set_id is None:
        current = sets.filter(status=SetStatus.ACTIVE).first()
    else:
        current = sets.filter(pk=recommendation_set_id).first()
    if current is None or not Listener.objects.filter(pk=listener_id).exists():
        return False
    run = current.run
    model, train_listeners, item_ids = _model(run.pk)
    level = run.level
    row = _listener_row(listener_id, level, item_ids, run)
    refused_row = _not_for_me_row(listener_id, level, item_ids)
    position = int(np.searchsorted(train_listeners, listener_id))
    known = position < len(train_listeners) and train_listeners[position] == listener_id
    depth = max(current.top_n, ROLL_UP_DEPTH) if level == "song" else current.top_n
    rows: dict[str, tuple[list, list, list, bool]] = {}
    if row.nnz >= MIN_HISTORY:
        lists = suggest(
            model,
            row,
            depth,
            known_rows=np.array([position if known else -1]),
            excluded=refused_row,
        )
    else:
        lists = Suggestions.empty(1, depth)
    if lists.items[0, 0] >= 0:
        rows[level] = _as_ids(lists, item_ids, current.top_n)
    else:
        seeds = item_ids[row.indices].tolist()
        refused = set(item_ids[refused_row.indices].tolist())
        items, scores, reasons = _seed_fallback(current.pk, level, seeds, refused, current.top_n)
        rows[level] = (items, scores, reasons, True)
    if level == "song" and lists.items[0, 0] >= 0:
        rows["artist"] = _artist_row(listener_id, lists, item_ids, current.top_n)
    now = timezone.now()
    with transaction.atomic():
        for row_level, (items, scores, reasons, fallback) in rows.items():
            ListenerRecommendations.objects.update_or_create(
                recommendation_set=current,
                listener_id=listener_id,
                level=row_level,
                defaults={
                    "item_ids": items,
                    "scores": scores,
                    "reasons": reasons,
                    "is_fallback": fallback,
                    "refreshed_at": now,
                },
            )
    forget_lists(listener_id)
    return True


def _as_ids(lists: Suggestions, item_ids: np.ndarray, top_n: int):
    items = lists.items[0, :top_n]
    valid = items >= 0
    reasons = lists.reasons[0, :top_n][valid]
    return (
        item_ids[items[valid]].tolist(),
        np.round(lists.scores[0, :top_n][valid].astype(np.float64), 5).tolist(),
        [int(item_ids[reason]) if reason >= 0 else None for reason in reasons],
        bool(lists.fallback[0]),
    )


def _artist_row(listener_id: int, songs: Suggestions, song_ids: np.ndarray, top_n: int):
    """The listener's artist list rolled up from their fresh song list."""
    columns = np.concatenate([songs.items[0], songs.reasons[0]])
    wanted = song_ids[columns[columns >= 0]]
    artist_by_song = dict(
        Song.objects.filter(pk__in=wanted.tolist()).values_list("pk", "artist_id")
    )
    artist_ids = np.array(sorted({a for a in artist_by_song.values() if a}), dtype=np.int64)
    song_artist = np.full(len(song_ids), -1, dtype=np.int64)
    for song, artist in artist_by_song.items():
        if artist:
            column = int(np.searchsorted(song_ids, song))
            song_artist[column] = int(np.searchsorted(artist_ids, artist))
    heard = set(
        Listen.objects.filter(listener_id=listener_id, artist_id__in=artist_ids.tolist())
        .values_list("artist_id", flat=True)
        .distinct()
    )
    refused = set(
        Feedback.objects.live()
        .filter(listener_id=listener_id, kind=FeedbackKind.NOT_FOR_ME, artist__isnull=False)
        .values_list("artist_id", flat=True)
    )
    blocked = [int(np.searchsorted(artist_ids, a)) for a in heard | (refused & set(artist_ids))]
    heard_row = sp.csr_matrix(
        (np.ones(len(blocked), np.float32), (np.zeros(len(blocked), np.int64), blocked)),
        shape=(1, max(len(artist_ids), 1)),
    )
    artists, _ = roll_up(songs, song_artist, top_n, heard_artists=heard_row)
    return _as_ids(artists, artist_ids, top_n)
