"""Training runs: create a ModelRun, train it (matrix, fit, save), search a parameter space.

A run's artifact is a folder under RECOMMENDER["ARTIFACT_DIR"]: `model.*` (the algorithm's
own file) and `ids.npz` (the level and the row/column id maps), enough to serve without the
database matrix. A failed run records its error and leaves no artifact.
"""

import itertools
import shutil
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import scipy.sparse as sp
from celery import group
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from listening.services import data_snapshot_create

from . import algorithms
from .algorithms.weighting import confidence
from .data import LEVELS, InteractionMatrix, build_matrix
from .models import ModelRun

DEFAULT_WEIGHTING = {"scheme": "log", "alpha": 1.0, "skip_penalty": 1.0}
MAX_SEARCH_TRIALS = 16


def artifact_root() -> Path:
    return Path(settings.RECOMMENDER["ARTIFACT_DIR"])


@contextmanager
def _alongside(function: Callable[[], Any]) -> Iterator[Future]:
    """Run `function` on its own connection while the body runs, where that is safe.

    On PostgreSQL, outside a transaction, the snapshot's counting and the matrix's reading
    run in two server processes at once. Inside a transaction a second connection would not
    see uncommitted rows, so there it runs first, on this connection.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        done: Future = Future()
        done.set_result(function())
        yield done
        return

    def on_own_connection():
        try:
            return function()
        finally:
            connection.close()  # this thread's connection, not the caller's

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(on_own_connection)


def model_run_create(
    *,
    algorithm: str,
    params: Mapping[str, Any] | None = None,
    level: str = "song",
    seed: int = 0,
    weighting: Mapping[str, Any] | None = None,
    search: str = "",
    created_by=None,
) -> ModelRun:
    """Record a run to train; the algorithm and its parameters are checked now, not later."""
    if level not in LEVELS:
        raise ValidationError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    params = dict(params or {})
    try:
        algorithms.create(algorithm, seed=seed, **params)
    except (KeyError, TypeError, ValueError) as error:
        raise ValidationError(str(error)) from error
    return ModelRun.objects.create(
        algorithm=algorithm,
        params=params,
        level=level,
        seed=seed,
        weighting={**DEFAULT_WEIGHTING, **(weighting or {})},
        search=search,
        created_by=created_by,
    )


def weigh(matrix: InteractionMatrix, weighting: Mapping[str, Any]) -> sp.csr_matrix:
    """A run's confidences from play and skip counts, by its weighting settings."""
    weighting = {**DEFAULT_WEIGHTING, **weighting}
    return confidence(
        matrix.plays,
        scheme=weighting["scheme"],
        alpha=float(weighting["alpha"]),
        skips=matrix.skips,
        skip_penalty=float(weighting["skip_penalty"]),
    )


def model_run_train(*, run_id: int, on_progress: Callable[[str], None] | None = None) -> ModelRun:
    """Build the matrix, fit, save; record the snapshot, sizes, timings or the failure."""
    run = ModelRun.objects.get(pk=run_id)
    if run.is_finished:
        return run
    run.mark_running()
    folder = artifact_root() / f"run-{run.pk}"
    say = on_progress or (lambda step: None)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        say("building the matrix")
        with _alongside(data_snapshot_create) as snapshot:
            matrix = build_matrix(run.level, half_life_days=run.weighting.get("half_life_days"))
        run.snapshot = snapshot.result()
        timings["matrix_seconds"] = time.perf_counter() - started
        if matrix.plays.nnz == 0:
            raise ValueError(f"no listens at {run.level} level to train on")
        run.n_listeners, run.n_items = matrix.shape
        run.mark_progress(0.2)

        say(f"fitting {run.algorithm} on {matrix.shape[0]:,} x {matrix.shape[1]:,}")
        started = time.perf_counter()
        user_items = weigh(matrix, run.weighting)
        model = algorithms.create(run.algorithm, seed=run.seed, **run.params)
        model.fit(user_items)
        timings["fit_seconds"] = time.perf_counter() - started
        run.mark_progress(0.9)

        say("saving")
        started = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        model.save(folder / "model")
        matrix.save(folder / "ids.npz")
        timings["save_seconds"] = time.perf_counter() - started
    except Exception as error:
        shutil.rmtree(folder, ignore_errors=True)
        run.timings = timings
        run.mark_failed(
            f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=4)}",
            also=["snapshot", "n_listeners", "n_items", "timings"],
        )
        raise
    run.artifact = str(folder.relative_to(artifact_root()))
    run.timings = timings
    run.save(update_fields=["snapshot", "n_listeners", "n_items", "timings", "artifact"])
    run.mark_succeeded()
    return run


def model_run_load(run: ModelRun) -> tuple[algorithms.Recommender, str, Any, Any]:
    """The trained model of a run and its id maps: (model, level, listener_ids, item_ids)."""
    folder = artifact_root() / run.artifact
    model_file = next(folder.glob("model*"))
    level, listener_ids, item_ids = InteractionMatrix.load_ids(folder / "ids.npz")
    return algorithms.load(model_file), level, listener_ids, item_ids


def search_grid(space: Mapping[str, list], max_trials: int = MAX_SEARCH_TRIALS) -> list[dict]:
    """Every combination of the values in `space`, refused when there are too many."""
    names = sorted(space)
    combinations = list(itertools.product(*(space[name] for name in names)))
    if len(combinations) > max_trials:
        raise ValidationError(
            f"the grid has {len(combinations)} combinations; at most {max_trials} are run"
        )
    return [dict(zip(names, values, strict=True)) for values in combinations]


def model_search_start(
    *,
    algorithm: str,
    space: Mapping[str, list],
    base_params: Mapping[str, Any] | None = None,
    level: str = "song",
    seed: int = 0,
    weighting: Mapping[str, Any] | None = None,
    created_by=None,
) -> list[ModelRun]:
    """One run per grid point, trained in parallel as a Celery group (after the commit)."""
    from . import tasks

    label = f"search-{uuid.uuid4().hex[:10]}"
    runs = [
        model_run_create(
            algorithm=algorithm,
            params={**(base_params or {}), **point},
            level=level,
            seed=seed,
            weighting=weighting,
            search=label,
            created_by=created_by,
        )
        for point in search_grid(space)
    ]
    transaction.on_commit(
        lambda: group(tasks.model_run_train.s(run.pk) for run in runs).apply_async()
    )
    return runs


RUNS_KEPT = 10


def prune_artifacts(keep: int = RUNS_KEPT) -> int:
    """Delete the artifacts of trained runs no set uses, beyond the `keep` newest; how many.

    Such a run keeps its row (its parameters, timings and metrics stay readable) with an
    empty `artifact`, so it can no longer be published.
    """
    from .models import RecommendationSet

    used = set(RecommendationSet.objects.values_list("run_id", flat=True))
    trained = ModelRun.objects.filter(status="succeeded").exclude(artifact="").order_by("-pk")
    doomed = [run for run in trained[keep:] if run.pk not in used]
    for run in doomed:
        shutil.rmtree(artifact_root() / run.artifact, ignore_errors=True)
    ModelRun.objects.filter(pk__in=[run.pk for run in doomed]).update(artifact="")
    return len(doomed)
