"""Publishing a model run: every listener's suggestions precomputed into a new set, then
switched on in one transaction (see ../shared/DESIGN.md, "Nothing half-done is ever served").

`publish` builds the lists from the listening data as it is now (so listens since training
count, and not-for-me feedback holds), writes them in bulk into a `building` set, and
`activate`s it: the previous active set is retired in the same transaction, so a reader sees
one full set or the other. Retired sets stay for `rollback` until `prune` removes the oldest.
"""

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Song
from listening.models import Feedback, FeedbackKind
from recommender import algorithms
from recommender.data import InteractionMatrix, build_matrix
from recommender.models import (
    Evaluation,
    ListenerRecommendations,
    ModelRun,
    RecommendationSet,
    SetStatus,
    SimilarItems,
)
from recommender.set_writer import write_lists, write_similar
from recommender.suggestions import NotSupported, Suggestions, charts, cold_start, roll_up, suggest
from recommender.suggestions import similar as similar_items
from recommender.training import model_run_load, weigh

# Fewer distinct items than this and a listener gets the cold-start lists, marked fallback.
MIN_HISTORY = 3
SIMILAR_N = 20
# Artist lists are rolled up from this many song suggestions per listener.
ROLL_UP_DEPTH = 200

Progress = Callable[[str, float], None]


class PublishError(Exception):
    """The run cannot be published (not trained, no data, ...): the message says why."""


def _say(on_progress: Progress | None) -> Progress:
    return on_progress or (lambda step, fraction: None)


def best_run() -> ModelRun:
    """The run to publish for `--best`: the newest trained run of the newest evaluation's
    candidate algorithm, at that evaluation's level."""
    evaluation = (
        Evaluation.objects.filter(status="succeeded").exclude(candidate="").order_by("-pk").first()
    )
    if evaluation is None:
        raise PublishError("no finished evaluation has a candidate: run `evaluate` first")
    algorithm = evaluation.candidate.split(":", 1)[0]
    run = (
        ModelRun.objects.filter(status="succeeded", algorithm=algorithm, level=evaluation.level)
        .order_by("-pk")
        .first()
    )
    if run is None:
        raise PublishError(
            f"evaluation {evaluation.pk} picked {evaluation.candidate} at {evaluation.level} "
            f"level, but no {algorithm} run at that level has been trained: run `train` first"
        )
    return run


def publish(
    *, run_id: int, top_n: int | None = None, on_progress: Progress | None = None
) -> RecommendationSet:
    """Publish run `run_id`: build a new set with every listener's lists and activate it.

    On any failure the set is marked failed with the error, its rows are deleted and the
    active set stays as it was.
    """
    run = ModelRun.objects.get(pk=run_id)
    if run.status != "succeeded" or not run.artifact:
        raise PublishError(f"model run {run.pk} is {run.status}: only a trained run publishes")
    top_n = top_n or settings.RECOMMENDER["TOP_N"]
    new_set = RecommendationSet.objects.create(run=run, top_n=top_n)
    report = _say(on_progress)

    def say(step: str, fraction: float) -> None:
        """Tell the caller, and the set's row (what the admin shows while it builds)."""
        RecommendationSet.objects.filter(pk=new_set.pk).update(progress=fraction)
        report(step, fraction)

    timings: dict[str, float] = {}
    try:
        _build(new_set, say, timings)
        activate(new_set)
    except Exception as error:
        SimilarItems.objects.filter(recommendation_set=new_set).delete()
        ListenerRecommendations.objects.filter(recommendation_set=new_set).delete()
        RecommendationSet.objects.filter(pk=new_set.pk).update(
            status=SetStatus.FAILED, error=f"{type(error).__name__}: {error}"
        )
        raise
    say("published", 1.0)
    prune()
    new_set.refresh_from_db()
    return new_set


def _build(new_set: RecommendationSet, say: Progress, timings: dict[str, float]) -> None:
    run = new_set.run
    model, level, train_listeners, train_items = model_run_load(run)
    say("reading the listening data", 0.05)
    started = time.perf_counter()
    matrix = build_matrix(level)
    if matrix.plays.nnz == 0:
        raise PublishError(f"no listens at {level} level to publish for")
    rows, known_rows = _model_rows(matrix, run, train_listeners, train_items)
    excluded = _not_for_me(matrix.listener_ids, level, train_items)
    timings["read_seconds"] = time.perf_counter() - started

    say(f"ranking for {rows.shape[0]:,} listeners", 0.15)
    started = time.perf_counter()
    depth = max(new_set.top_n, ROLL_UP_DEPTH) if level == "song" else new_set.top_n
    lists = _lists(model, rows, known_rows, excluded, depth, explain=new_set.top_n)
    timings["rank_seconds"] = time.perf_counter() - started

    say("writing the lists", 0.6)
    started = time.perf_counter()
    charts_by_level = {level: _chart_ids(rows, train_items, new_set.top_n)}
    write_lists(new_set, matrix.listener_ids, level, lists, train_items, new_set.top_n)
    if level == "song":
        artist_lists, artist_ids, heard = _artist_lists(
            model, lists, rows, train_items, matrix.listener_ids, new_set.top_n
        )
        write_lists(new_set, matrix.listener_ids, "artist", artist_lists, artist_ids, None)
        charts_by_level["artist"] = _chart_ids(heard, artist_ids, new_set.top_n)
    _lists_from_loves(new_set, matrix.listener_ids)
    timings["write_seconds"] = time.perf_counter() - started

    say("finding similar items", 0.85)
    started = time.perf_counter()
    write_similar(new_set, level, _similar(model, rows), train_items)
    if level == "song":
        write_similar(new_set, "artist", _similar(None, heard), artist_ids)
    timings["similar_seconds"] = time.perf_counter() - started
    RecommendationSet.objects.filter(pk=new_set.pk).update(
        listeners_count=rows.shape[0], charts=charts_by_level, timings=timings, progress=0.95
    )


def _lists_from_loves(new_set: RecommendationSet, listener_ids: np.ndarray) -> None:
    """Listeners with no listens yet but things they love (onboarding) keep the personal
    lists those give them, instead of falling back to the charts."""
    from recommender.refresh import refresh_listener

    loving = set(
        Feedback.objects.live().filter(kind=FeedbackKind.LOVE).values_list("listener_id", flat=True)
    )
    for listener_id in sorted(loving - set(listener_ids.tolist())):
        refresh_listener(listener_id, recommendation_set_id=new_set.pk)


def _model_rows(
    matrix: InteractionMatrix, run: ModelRun, train_listeners: np.ndarray, train_items: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Today's confidences in the model's columns (items it never saw are dropped), and
    each listener's training row (-1 for listeners who arrived since)."""
    columns = matrix.columns_of(train_items)  # model column -> today's column, or -1
    known = columns >= 0
    pick = sp.csr_matrix(
        (np.ones(known.sum(), dtype=np.float32), (columns[known], np.flatnonzero(known))),
        shape=(matrix.shape[1], len(train_items)),
    )
    confidences = weigh(matrix, run.weighting)
    rows = sp.csr_matrix(confidences @ pick)
    rows.eliminate_zeros()
    positions = np.searchsorted(train_listeners, matrix.listener_ids)
    positions = np.minimum(positions, max(len(train_listeners) - 1, 0))
    found = len(train_listeners) > 0
    known_rows = np.where(
        found & (train_listeners[positions] == matrix.listener_ids), positions, -1
    )
    return rows, known_rows


def _not_for_me(listener_ids: np.ndarray, level: str, item_ids: np.ndarray) -> sp.csr_matrix:
    """Live not-for-me feedback as a listeners x items matrix over these sorted ids."""
    return _cells(listener_ids, item_ids, _not_for_me_pairs(level))


def _cells(listener_ids: np.ndarray, item_ids: np.ndarray, pairs: np.ndarray) -> sp.csr_matrix:
    """(listener id, item id) pairs as a 0/1 matrix over these sorted ids; others dropped."""
    rows = np.searchsorted(listener_ids, pairs[:, 0])
    columns = np.searchsorted(item_ids, pairs[:, 1])
    inside = (rows < len(listener_ids)) & (columns < len(item_ids))
    inside[inside] &= (listener_ids[rows[inside]] == pairs[inside, 0]) & (
        item_ids[columns[inside]] == pairs[inside, 1]
    )
    shape = (len(listener_ids), len(item_ids))
    data = np.ones(inside.sum(), dtype=np.float32)
    return sp.csr_matrix((data, (rows[inside], columns[inside])), shape=shape)


def _lists(
    model: algorithms.Recommender,
    rows: sp.csr_matrix,
    known_rows: np.ndarray,
    excluded: sp.csr_matrix,
    k: int,
    explain: int,
) -> Suggestions:
    """The model's lists for listeners with enough history, cold start for the rest (and
    for anyone the model could not rank). Reasons for the first `explain` slots."""
    history = np.diff(rows.indptr)
    lists = suggest(model, rows, k, known_rows=known_rows, excluded=excluded, explain=explain)
    cold = np.flatnonzero((history < MIN_HISTORY) | (lists.items[:, 0] < 0))
    if len(cold):
        lists.place(cold, cold_start(rows[cold], rows, k, excluded=excluded[cold]))
    return lists


def _artist_lists(
    model: algorithms.Recommender,
    songs: Suggestions,
    rows: sp.csr_matrix,
    song_ids: np.ndarray,
    listener_ids: np.ndarray,
    top_n: int,
) -> tuple[Suggestions, np.ndarray, sp.csr_matrix]:
    """Artist lists rolled up from the song lists; (lists, artist ids, listeners x artists
    confidences summed over each artist's songs)."""
    artist_by_song = dict(
        Song.objects.filter(pk__in=song_ids.tolist()).values_list("pk", "artist_id")
    )
    song_artist_ids = np.array([artist_by_song.get(int(pk)) or -1 for pk in song_ids], np.int64)
    artist_ids = np.unique(song_artist_ids[song_artist_ids >= 0])
    artist_of = np.where(song_artist_ids >= 0, np.searchsorted(artist_ids, song_artist_ids), -1)
    has_artist = artist_of >= 0
    to_artist = sp.csr_matrix(
        (
            np.ones(has_artist.sum(), np.float32),
            (np.flatnonzero(has_artist), artist_of[has_artist]),
        ),
        shape=(len(song_ids), len(artist_ids)),
    )
    heard = sp.csr_matrix(rows @ to_artist)
    excluded = _not_for_me(listener_ids, "artist", artist_ids)
    blocked = sp.csr_matrix(heard + excluded)
    lists, best_songs = roll_up(songs, artist_of, top_n, heard_artists=blocked)
    # An artist's reason: the artist of what led to its best song (found here, as the model
    # explained only the songs that are listed).
    modelled = ~lists.fallback
    if modelled.any():
        reasons = model.reasons(rows[modelled], best_songs[modelled])
        lists.reasons[modelled] = np.where(reasons >= 0, artist_of[np.maximum(reasons, 0)], -1)
    return lists, artist_ids, heard


def _not_for_me_pairs(level: str) -> np.ndarray:
    field = f"{level}_id"
    return np.array(
        list(
            Feedback.objects.live()
            .filter(kind=FeedbackKind.NOT_FOR_ME, **{f"{field}__isnull": False})
            .values_list("listener_id", field)
        ),
        dtype=np.int64,
    ).reshape(-1, 2)


def _chart_ids(plays: sp.csr_matrix, item_ids: np.ndarray, top_n: int) -> list[list[float]]:
    """The set's charts at one level, for listeners with no history: [[item id, listeners]]."""
    items, listeners = charts(plays, top_n)
    return [
        [int(item_ids[item]), float(count)] for item, count in zip(items, listeners, strict=True)
    ]


def _similar(model: algorithms.Recommender | None, plays: sp.csr_matrix):
    """(items, scores) of every column's similar items: the model's own where it has them,
    else cosine neighbours on the plays."""
    if model is not None:
        try:
            return similar_items(model, plays.shape[1], SIMILAR_N)
        except NotSupported:
            pass
    neighbours = algorithms.create("item_knn", k_neighbours=SIMILAR_N + 1).fit(plays)
    return similar_items(neighbours, plays.shape[1], SIMILAR_N)


# -- switching sets ----------------------------------------------------------------------------


def activate(new_set: RecommendationSet) -> None:
    """Make `new_set` the active set and retire the current one, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        current = list(
            RecommendationSet.objects.select_for_update().filter(status=SetStatus.ACTIVE)
        )
        RecommendationSet.objects.filter(pk__in=[s.pk for s in current]).update(
            status=SetStatus.RETIRED, retired_at=now
        )
        RecommendationSet.objects.filter(pk=new_set.pk).update(
            status=SetStatus.ACTIVE, activated_at=now, retired_at=None, progress=1.0
        )
    _announce_switch()


def rollback() -> RecommendationSet:
    """Bring back the most recently retired set; the active one is retired."""
    previous = (
        RecommendationSet.objects.filter(status=SetStatus.RETIRED).order_by("-activated_at").first()
    )
    if previous is None:
        raise PublishError("there is no retired set to roll back to")
    activate(previous)
    previous.refresh_from_db()
    return previous


def prune(keep: int | None = None) -> int:
    """Delete retired and failed sets beyond the newest `keep` retired ones; how many."""
    keep = settings.RECOMMENDER["SETS_TO_KEEP"] if keep is None else keep
    retired = RecommendationSet.objects.filter(status=SetStatus.RETIRED).order_by("-retired_at")
    doomed = [s.pk for s in retired[keep:]] + list(
        RecommendationSet.objects.filter(status=SetStatus.FAILED).values_list("pk", flat=True)
    )
    with transaction.atomic():
        # Single DELETE statements: nothing cascades from these rows.
        ListenerRecommendations.objects.filter(recommendation_set__in=doomed).delete()
        SimilarItems.objects.filter(recommendation_set__in=doomed).delete()
        RecommendationSet.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _announce_switch() -> None:
    """Readers cache per set; a new active set id is all they need to move on."""
    from recommender import serving

    serving.forget_active_set()
