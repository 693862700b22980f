"""Publishing a model run: every listener's suggestions precomputed into a new set, then
switched on in one transaction (see ../shared/DESIGN.md, "Nothing half-done is ever served").

`publish` builds the lists from the listening data as it is now (so listens since training
count, and not-for-me feedback holds), writes them in bulk into a `building` set, and
`activate`s it: the previous active set is retired in the same transaction, so a reader sees
one full set or the other. Retired sets stay for `rollback` until `prune` removes the oldest.

Lists come from `listener_lists.lists_build`, the builder a refresh uses too. An artist-level
run's set serves songs too: each listener's song list is made from their artist list, of each
artist's most-listened songs in the same read of the data (kept with the set for refreshes).
What listeners do while a publication builds is not lost: it notes where it read the data
(`read_point`: the newest listen and skip ids, and the live feedback) and, right after
activation, refolds in the new set everyone who listened, skipped or gave, changed or
withdrew feedback since (their refreshes meanwhile went to the old set). Listen ids come from
a sequence, so a listen whose transaction took an id below the read point but committed
after the read is the one case missed (it counts at the listener's next listen or the next
publication).
"""

import logging
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from musicsite.jobs import JobStatus
from recommender import algorithms
from recommender.data import InteractionMatrix, build_matrix, refused_pairs
from recommender.evaluation.protocol import algorithm_of
from recommender.listener_data import (
    PublishedModel,
    ReadPoint,
    artist_songs,
    changed_since,
    confidence_rows,
    held_cells,
    lists_refold,
    published_model_load,
    read_point,
    song_artists,
)
from recommender.listener_lists import (
    ArtistSongs,
    best_songs_by_artist,
    cells,
    depth_of,
    lists_build,
    positions,
)
from recommender.models import (
    ArtistTopSongs,
    Evaluation,
    ListenerRecommendations,
    ModelRun,
    RecommendationSet,
    SetStatus,
    SimilarItems,
)
from recommender.seeds import live_loves, loved_pairs
from recommender.set_writer import write_artist_songs, write_lists, write_similar
from recommender.suggestions import NotSupported, charts, neighbour_links
from recommender.suggestions import similar as similar_items
from recommender.training import DEFAULT_WEIGHTING, model_run_create, model_run_train

log = logging.getLogger(__name__)

SIMILAR_N = 20
# Listeners refolded per query batch when catching up after activation.
CATCH_UP_BATCH = 500

Progress = Callable[[str, float], None]


class PublishError(Exception):
    """The run cannot be published (not trained, no data, ...): the message says why."""


def _say(on_progress: Progress | None) -> Progress:
    return on_progress or (lambda step, fraction: None)


def best_run(*, on_progress: Callable[[str], None] | None = None) -> ModelRun:
    """The run to publish for `--best`: the newest finished evaluation's candidate as it was
    evaluated — a trained run of exactly its algorithm, parameters (defaults filled in),
    level and weighting, one trained on the evaluation's snapshot first, else the newest.
    With none, one is trained now with exactly those, on the evaluation's snapshot. Either
    way the run records the evaluation's figures for it (`Evaluation.run_metrics`)."""
    evaluation = (
        Evaluation.objects.filter(status=JobStatus.SUCCEEDED)
        .exclude(candidate="")
        .select_related("snapshot")
        .order_by("-pk")
        .first()
    )
    if evaluation is None:
        raise PublishError("no finished evaluation has a candidate: run `evaluate` first")
    candidate = evaluation.candidate
    algorithm = algorithm_of(candidate)
    params = evaluation.algorithms.get(candidate, {})
    wanted = (
        _effective_params(algorithm, params),
        _weighting_key(evaluation_weighting(evaluation)),
    )
    runs = ModelRun.objects.filter(
        status=JobStatus.SUCCEEDED, algorithm=algorithm, level=evaluation.level
    ).exclude(artifact="")
    matching = [
        run
        for run in runs.order_by("-pk")
        if (_effective_params(algorithm, run.params), _weighting_key(run.weighting)) == wanted
    ]
    on_snapshot = [run for run in matching if run.snapshot_id == evaluation.snapshot_id]
    run = next(iter(on_snapshot or matching), None)
    if run is None:
        return _train_candidate(evaluation, algorithm, params, on_progress)
    run.metrics = evaluation.run_metrics(candidate)  # the figures that chose it, newest
    run.save(update_fields=["metrics"])
    return run


def evaluation_weighting(evaluation: Evaluation) -> dict:
    """The weighting an evaluation measured its candidates with, as a model run's."""
    protocol = evaluation.protocol
    weighting = {
        "scheme": protocol.get("weighting", DEFAULT_WEIGHTING["scheme"]),
        "alpha": float(protocol.get("alpha", DEFAULT_WEIGHTING["alpha"])),
        "skip_penalty": float(protocol.get("skip_penalty", DEFAULT_WEIGHTING["skip_penalty"])),
    }
    if protocol.get("half_life_days") is not None:
        weighting["half_life_days"] = float(protocol["half_life_days"])
    return weighting


def _weighting_key(weighting: dict) -> tuple:
    """A weighting compared by what it does (training's defaults filled in, numbers as
    floats), so {"scheme": "log"} and the full default read the same."""
    full = {**DEFAULT_WEIGHTING, **weighting}
    half_life = full.get("half_life_days")
    return (
        full["scheme"],
        float(full["alpha"]),
        float(full["skip_penalty"]),
        None if half_life is None else float(half_life),
    )


def _effective_params(algorithm: str, params: dict) -> dict | None:
    """The parameters a model takes with these given, defaults filled in (None if invalid)."""
    try:
        return algorithms.create(algorithm, **params).params
    except (KeyError, TypeError, ValueError):
        return None


def _train_candidate(evaluation: Evaluation, algorithm: str, params: dict, on_progress) -> ModelRun:
    """No run matches what the evaluation measured: train exactly that, on its snapshot."""
    try:
        created = model_run_create(
            algorithm=algorithm,
            params=params,
            level=evaluation.level,
            weighting=evaluation_weighting(evaluation),
            snapshot=evaluation.snapshot,
            metrics=evaluation.run_metrics(evaluation.candidate),
        )
    except ValidationError as error:
        raise PublishError(f"evaluation {evaluation.pk}'s candidate: {error.messages}") from error
    trained = model_run_train(run_id=created.pk, on_progress=on_progress)
    if trained.status != JobStatus.SUCCEEDED:
        raise PublishError(f"training {evaluation.candidate} {trained.status}: {trained.error}")
    return trained


def publish(
    *, run_id: int, top_n: int | None = None, on_progress: Progress | None = None
) -> RecommendationSet:
    """Publish run `run_id`: build a new set with every listener's lists and activate it.

    On any failure the set is marked failed with the error, its rows are deleted and the
    active set stays as it was.
    """
    run = ModelRun.objects.get(pk=run_id)
    if run.status != JobStatus.SUCCEEDED or not run.artifact:
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
        published, point = _build(new_set, say, timings)
        activate(new_set)
    except Exception as error:
        ArtistTopSongs.objects.filter(recommendation_set=new_set).delete()
        SimilarItems.objects.filter(recommendation_set=new_set).delete()
        ListenerRecommendations.objects.filter(recommendation_set=new_set).delete()
        RecommendationSet.objects.filter(pk=new_set.pk).update(
            status=SetStatus.FAILED, error=f"{type(error).__name__}: {error}"
        )
        raise
    new_set.refresh_from_db()
    say("catching up", 0.98)
    _catch_up(new_set, published, point, timings)
    say("published", 1.0)
    prune()
    new_set.refresh_from_db()
    return new_set


def _catch_up(
    new_set: RecommendationSet,
    published: PublishedModel,
    point: ReadPoint,
    timings: dict[str, float],
) -> None:
    """Refold, in the set just activated, every listener whose listens, skips or feedback
    arrived after the publication read its data: their refreshes meanwhile went to the old
    set. A failure here leaves the set active with its lists as of the read (logged)."""
    from recommender import serving

    started = time.perf_counter()
    try:
        changed = changed_since(point)
    except Exception:
        log.exception("set %s: finding the listeners who changed during it failed", new_set.pk)
        return
    caught_up = 0
    for start in range(0, len(changed), CATCH_UP_BATCH):
        batch = changed[start : start + CATCH_UP_BATCH]
        if _refolded(new_set, batch, published):
            done = batch
        else:  # listener by listener: one listener's failure costs only their catch-up
            done = [
                listener_id for listener_id in batch if _refolded(new_set, [listener_id], published)
            ]
        caught_up += len(done)
        for listener_id in done:
            serving.forget_lists(listener_id)
    timings.update(catch_up_seconds=time.perf_counter() - started, caught_up_listeners=caught_up)
    RecommendationSet.objects.filter(pk=new_set.pk).update(timings=timings)


def _refolded(new_set: RecommendationSet, listener_ids, published: PublishedModel) -> bool:
    """Refold these listeners in the set; False (logged) when that failed."""
    try:
        lists_refold(new_set, listener_ids, published=published)
    except Exception:
        log.exception("set %s: refolding listeners %s failed", new_set.pk, listener_ids[:10])
        return False
    return True


def _build(
    new_set: RecommendationSet, say: Progress, timings: dict[str, float]
) -> tuple[PublishedModel, ReadPoint]:
    """Every listener's lists (`listener_lists.lists_build`) and similar items into the
    building set; the model, and where the data was read (for the catch-up)."""
    run = new_set.run
    published = published_model_load(run)
    level, top_n = run.level, new_set.top_n
    say("reading the listening data", 0.05)
    started = time.perf_counter()
    point = read_point()  # the bound of what is read: what comes after is caught up
    matrix = build_matrix(
        level, last_listen_id=point.last_listen_id, last_skip_id=point.last_skip_id
    )
    if matrix.plays.nnz == 0:
        raise PublishError(f"no listens at {level} level to publish for")
    listener_ids, rows, held = _model_rows(matrix, run, published.item_ids)
    excluded = cells(listener_ids, published.item_ids, refused_pairs(level))
    timings["read_seconds"] = time.perf_counter() - started

    say("finding similar items", 0.1)
    started = time.perf_counter()
    similar = _similar(published.model, rows)
    n_items = len(published.item_ids)
    links = neighbour_links(np.arange(n_items), similar[0], n_items)
    chart = charts(rows, top_n)
    timings["similar_seconds"] = time.perf_counter() - started

    say(f"ranking for {rows.shape[0]:,} listeners", 0.15)
    started = time.perf_counter()
    artists = songs = None
    if level == "song":
        artists = published.artist_map(listener_ids)
    else:
        song_ids, songs, song_chart = _artist_songs(point, published.item_ids, listener_ids, top_n)
        if not len(song_ids):  # listens that name artists only (HetRec): no songs to serve
            songs = None
        timings["songs_seconds"] = time.perf_counter() - started
    lists = lists_build(
        published.model,
        rows,
        known_rows=positions(published.listener_ids, listener_ids),
        excluded=excluded,
        neighbours=lambda seeds: links,
        chart=chart,
        top_n=top_n,
        depth=depth_of(level, top_n),
        artists=artists,
        songs=songs,
        held=held,
    )
    timings["rank_seconds"] = time.perf_counter() - started

    say("writing the lists", 0.6)
    started = time.perf_counter()
    charts_by_level = {level: _chart_ids(chart, published.item_ids)}
    write_lists(new_set, listener_ids, level, lists.items, published.item_ids, top_n)
    if artists is not None:
        heard = artists.heard(rows)
        write_lists(new_set, listener_ids, "artist", lists.artists, published.artist_ids, None)
        charts_by_level["artist"] = _chart_ids(charts(heard, top_n), published.artist_ids)
    if songs is not None:
        write_lists(
            new_set,
            listener_ids,
            "song",
            lists.songs,
            song_ids,
            top_n,
            reason_ids=published.item_ids,
        )
        write_artist_songs(new_set, songs.best, published.item_ids, song_ids)
        charts_by_level["song"] = song_chart
    timings["write_seconds"] = time.perf_counter() - started

    say("writing similar items", 0.85)
    started = time.perf_counter()
    write_similar(new_set, level, similar, published.item_ids)
    if artists is not None:
        write_similar(new_set, "artist", _similar(None, heard), published.artist_ids)
    timings["similar_seconds"] += time.perf_counter() - started
    RecommendationSet.objects.filter(pk=new_set.pk).update(
        listeners_count=rows.shape[0], charts=charts_by_level, timings=timings, progress=0.95
    )
    return published, point


def _model_rows(
    matrix: InteractionMatrix, run: ModelRun, item_ids: np.ndarray
) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """(listener ids, their confidences in the model's columns, what they hold
    (`listener_data.held_cells`)): everyone with listens, and
    everyone who loves something (onboarding), loves counted as plays and refusals dropped
    (`listener_data.confidence_rows`, as a refresh counts them). Items the model never saw
    are dropped."""
    columns = matrix.columns_of(item_ids)  # model column -> today's column, or -1
    known = columns >= 0
    pick = sp.csr_matrix(
        (np.ones(known.sum(), dtype=np.float32), (columns[known], np.flatnonzero(known))),
        shape=(matrix.shape[1], len(item_ids)),
    )
    plays = sp.csr_matrix(matrix.plays @ pick)
    skips = sp.csr_matrix(matrix.skips @ pick)
    loves = loved_pairs(live_loves(), run.level)
    listener_ids = np.union1d(matrix.listener_ids, loves[:, 0]).astype(np.int64)
    if len(listener_ids) > len(matrix.listener_ids):  # lovers without listens: empty rows
        places = positions(listener_ids, matrix.listener_ids)
        lift = sp.csr_matrix(
            (np.ones(len(places), np.float32), (places, np.arange(len(places)))),
            shape=(len(listener_ids), len(places)),
        )
        plays, skips = sp.csr_matrix(lift @ plays), sp.csr_matrix(lift @ skips)
    loved = cells(listener_ids, item_ids, loves)
    refused = cells(listener_ids, item_ids, refused_pairs(run.level))
    rows = confidence_rows(plays, skips, loved, run, item_ids, refused)
    return listener_ids, rows, held_cells(plays, loved)


def _artist_songs(
    point: ReadPoint, artist_ids: np.ndarray, listener_ids: np.ndarray, top_n: int
) -> tuple[np.ndarray, ArtistSongs, list[list[float]]]:
    """An artist-level set's songs, read up to the same point as its artists: (the song
    ids, each model artist's most-listened songs and what each listener must not be offered,
    the song chart for listeners without a row)."""
    matrix = build_matrix(
        "song", last_listen_id=point.last_listen_id, last_skip_id=point.last_skip_id
    )
    song_ids = matrix.item_ids
    artist_of, by_artist = song_artists(song_ids)
    # Songs' artists as the model's artist columns; the appended -1 is an unknown artist's.
    to_model = np.append(positions(artist_ids, by_artist), -1)
    best = best_songs_by_artist(matrix.plays, to_model[artist_of], len(artist_ids))
    played = sp.coo_matrix(matrix.plays)
    rows = positions(listener_ids, matrix.listener_ids)[played.row]
    kept = rows >= 0
    heard = sp.csr_matrix(
        (np.ones(kept.sum(), np.float32), (rows[kept], played.col[kept])),
        shape=(len(listener_ids), len(song_ids)),
    )
    chart = _chart_ids(charts(matrix.plays, top_n), song_ids)
    return song_ids, artist_songs(listener_ids, song_ids, best, heard), chart


def _chart_ids(chart: tuple[np.ndarray, np.ndarray], item_ids: np.ndarray) -> list[list[float]]:
    """The set's charts at one level, for listeners with no history: [[item id, listeners]]."""
    items, listeners = chart
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
        ArtistTopSongs.objects.filter(recommendation_set__in=doomed).delete()
        ListenerRecommendations.objects.filter(recommendation_set__in=doomed).delete()
        SimilarItems.objects.filter(recommendation_set__in=doomed).delete()
        RecommendationSet.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _announce_switch() -> None:
    """Readers cache per set; a new active set id is all they need to move on."""
    from recommender import serving

    serving.forget_active_set()
