"""Publishing a model run: every listener's suggestions precomputed into a new set, then
switched on in one transaction (see ../shared/DESIGN.md, "Nothing half-done is ever served").

`publish` builds the lists from the listening data as it is now (so listens since training
count, and not-for-me feedback holds), writes them in bulk into a `building` set, and
`activate`s it. It reads the data once (`publish_prepare`), then ranks and writes the
listeners in blocks (`publish_blocks`): one after another in this process, or, prepared
with `publication_prepare`, as a Celery chord of `publication_block` tasks across worker
processes whose callback is `publication_finish` (tasks.py). Either way activation waits for
every block, and a block that fails for good fails the set (`publication_fail`). The
previous active set is retired in the same transaction, so a reader sees one full set or
the other. Retired sets stay for `rollback` until `prune` removes the oldest.

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

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from musicsite.jobs import JobStatus
from recommender import algorithms
from recommender.evaluation.protocol import algorithm_of
from recommender.listener_data import (
    PublishedModel,
    ReadPoint,
    changed_since,
    lists_refold,
    published_model,
    published_model_load,
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
from recommender.publish_blocks import (
    BLOCK_LISTENERS,
    PREPARED_PROGRESS,
    PublishError,
    block_publish,
    inputs_delete,
    inputs_load,
    inputs_save,
)
from recommender.publish_prepare import publication_inputs
from recommender.training import DEFAULT_WEIGHTING, model_run_create, model_run_train

log = logging.getLogger(__name__)

# Listeners refolded per query batch when catching up after activation.
CATCH_UP_BATCH = 500

Progress = Callable[[str, float], None]


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
    *,
    run_id: int,
    top_n: int | None = None,
    on_progress: Progress | None = None,
    block_listeners: int = BLOCK_LISTENERS,
) -> RecommendationSet:
    """Publish run `run_id` in this process: prepare a new set, rank and write its listener
    blocks one after another (the blocks a chord of workers runs, `block_publish`), activate
    it, catch up and prune.

    On any failure the set is marked failed with the error, its rows are deleted and the
    active set stays as it was.
    """
    new_set = publication_create(run_id=run_id, top_n=top_n)
    report = _say(on_progress)

    def say(step: str, fraction: float) -> None:
        """Tell the caller, and the set's row (what the admin shows while it builds)."""
        RecommendationSet.objects.filter(pk=new_set.pk).update(progress=fraction)
        report(step, fraction)

    timings: dict[str, float] = {}
    try:
        published = published_model_load(new_set.run)
        inputs = publication_inputs(
            new_set, published, say, timings, block_listeners=block_listeners
        )
        say("ranking the listeners", PREPARED_PROGRESS)
        for index in range(inputs.block_count):
            block_publish(new_set, inputs, published, index)
            report(f"block {index + 1} of {inputs.block_count}", _progress_of(new_set))
        activated = _activate_whole(new_set.pk)
    except Exception as error:
        publication_fail(set_id=new_set.pk, error=error)
        raise
    say("catching up", 0.98)
    _catch_up(activated, published, inputs.point)
    say("published", 1.0)
    prune()
    activated.refresh_from_db()
    return activated


def publication_create(*, run_id: int, top_n: int | None = None) -> RecommendationSet:
    """A new `building` set of a trained run, nothing in it yet."""
    run = ModelRun.objects.get(pk=run_id)
    if run.status != JobStatus.SUCCEEDED or not run.artifact:
        raise PublishError(f"model run {run.pk} is {run.status}: only a trained run publishes")
    return RecommendationSet.objects.create(run=run, top_n=top_n or settings.RECOMMENDER["TOP_N"])


def publication_prepare(
    *, run_id: int, top_n: int | None = None, block_listeners: int = BLOCK_LISTENERS
) -> RecommendationSet:
    """A new building set, prepared for blocks in other processes: its similar items,
    charts and artists' songs written, and what its blocks need saved beside the model
    artifacts (`publish_blocks.inputs_save`). On failure the set is failed and it raises."""
    new_set = publication_create(run_id=run_id, top_n=top_n)
    timings: dict[str, float] = {}
    try:
        published = published_model(new_set.run)

        def say(step: str, fraction: float) -> None:
            RecommendationSet.objects.filter(pk=new_set.pk).update(progress=fraction)

        inputs = publication_inputs(
            new_set, published, say, timings, block_listeners=block_listeners
        )
        inputs_save(new_set.pk, inputs)
        RecommendationSet.objects.filter(pk=new_set.pk).update(progress=PREPARED_PROGRESS)
    except Exception as error:
        publication_fail(set_id=new_set.pk, error=error)
        raise
    new_set.refresh_from_db()
    return new_set


def publication_block(*, set_id: int, index: int) -> list[int]:
    """Block `index` of a prepared set, in a worker: its inputs and the model read once
    per process, its listeners ranked and written (`publish_blocks.block_publish`)."""
    new_set = RecommendationSet.objects.select_related("run").get(pk=set_id)
    return block_publish(new_set, inputs_load(set_id), published_model(new_set.run), index)


def publication_finish(*, set_id: int) -> int:
    """Once every block is in: activate the set in one transaction, catch up the listeners
    who changed meanwhile, prune old sets, delete the saved inputs; the set's id. A set
    active already (this callback delivered twice) is left as it is; one with a block
    missing raises `PublishError`."""
    new_set = RecommendationSet.objects.select_related("run").get(pk=set_id)
    if new_set.status == SetStatus.ACTIVE:
        return set_id
    activated = _activate_whole(set_id)  # failing for good fails the set (tasks.py)
    try:
        point = inputs_load(set_id).point
    except OSError:  # the set is whole and active; only the catch-up is lost (logged)
        log.exception("set %s: its saved inputs are gone, no catch-up", set_id)
    else:
        _catch_up(activated, published_model(activated.run), point)
    prune()
    inputs_delete(set_id)
    return set_id


def publication_fail(*, set_id: int, error: BaseException | str) -> None:
    """The set failed for good: marked so with the error, its rows and saved inputs
    deleted; the active set is untouched. A set active already is left alone."""
    building = RecommendationSet.objects.filter(pk=set_id).exclude(status=SetStatus.ACTIVE)
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    if not building.update(status=SetStatus.FAILED, error=error):
        return
    ArtistTopSongs.objects.filter(recommendation_set_id=set_id).delete()
    SimilarItems.objects.filter(recommendation_set_id=set_id).delete()
    ListenerRecommendations.objects.filter(recommendation_set_id=set_id).delete()
    inputs_delete(set_id)


def _activate_whole(set_id: int) -> RecommendationSet:
    """Activate the set if it is still building and every block of it is in."""
    new_set = RecommendationSet.objects.get(pk=set_id)
    missing = sorted(set(range(new_set.block_count)) - set(new_set.blocks_done))
    if new_set.status != SetStatus.BUILDING or missing:
        raise PublishError(
            f"set {set_id} is {new_set.status} with blocks {missing[:10]} missing: not activated"
        )
    activate(new_set)
    new_set.refresh_from_db()
    return new_set


def _progress_of(new_set: RecommendationSet) -> float:
    return RecommendationSet.objects.values_list("progress", flat=True).get(pk=new_set.pk)


def _catch_up(new_set: RecommendationSet, published: PublishedModel, point: ReadPoint) -> None:
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
    timings = {
        **new_set.timings,
        "catch_up_seconds": time.perf_counter() - started,
        "caught_up_listeners": caught_up,
    }
    RecommendationSet.objects.filter(pk=new_set.pk).update(timings=timings)


def _refolded(new_set: RecommendationSet, listener_ids, published: PublishedModel) -> bool:
    """Refold these listeners in the set; False (logged) when that failed."""
    try:
        lists_refold(new_set, listener_ids, published=published)
    except Exception:
        log.exception("set %s: refolding listeners %s failed", new_set.pk, listener_ids[:10])
        return False
    return True


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
