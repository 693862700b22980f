"""Training runs: create a ModelRun, train it (matrix, fit, save), a parameter search's runs.

A run's artifact is a folder under RECOMMENDER["ARTIFACT_DIR"]: `model.*` (the algorithm's
own file) and `ids.npz` (the level and the row/column id maps), enough to serve without the
database matrix. A failed run records its error and leaves no artifact. A run created with a
snapshot trains on exactly that snapshot's listens; one created without takes its own.
"""

import itertools
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import scipy.sparse as sp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from listening.models import DataSnapshot
from listening.services import data_snapshot_create
from musicsite.jobs import JobStatus, job_run

from . import algorithms
from .algorithms.weighting import confidence
from .data import LEVELS, InteractionMatrix, build_matrix, newest_listen_id, newest_skip_id
from .models import ModelRun, RecommendationSet

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
    snapshot: DataSnapshot | None = None,
    created_by=None,
    metrics: Mapping[str, Any] | None = None,
) -> ModelRun:
    """Record a run to train (on `snapshot`'s listens, if given); the algorithm and its
    parameters are checked now, not later. `metrics`: the held-out figures of the
    evaluation it is trained for (`Evaluation.run_metrics`), if any."""
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
        snapshot=snapshot,
        created_by=created_by,
        metrics=dict(metrics or {}),
    )


def weigh(matrix: InteractionMatrix, weighting: Mapping[str, Any]) -> sp.csr_matrix:
    """A run's confidences from play and skip counts, by its weighting settings; the cells
    refused ("not for me") are dropped."""
    weighting = {**DEFAULT_WEIGHTING, **weighting}
    return confidence(
        matrix.plays,
        scheme=weighting["scheme"],
        alpha=float(weighting["alpha"]),
        skips=matrix.skips,
        skip_penalty=float(weighting["skip_penalty"]),
        refused=matrix.refused,
    )


def model_run_train(
    *,
    run_id: int,
    on_progress: Callable[[str], None] | None = None,
    matrix: InteractionMatrix | None = None,
) -> ModelRun:
    """Train a run in this process (commands, the pipeline): `model_run_fit` in the job
    lifecycle (a finished run is left as it is; a failure is recorded and raised)."""
    return job_run(
        ModelRun,
        run_id,
        lambda run: model_run_fit(run=run, on_progress=on_progress, matrix=matrix),
    )


def snapshot_matrix(
    snapshot: DataSnapshot, level: str, weighting: Mapping[str, Any]
) -> InteractionMatrix:
    """The matrix of exactly `snapshot`'s listens, weighted in time as `weighting` says."""
    return build_matrix(
        level,
        half_life_days=weighting.get("half_life_days"),
        last_listen_id=snapshot.last_listen_id or 0,
        last_skip_id=snapshot.last_skip_id,
    )


def model_run_fit(
    *,
    run: ModelRun,
    on_progress: Callable[[str], None] | None = None,
    matrix: InteractionMatrix | None = None,
) -> None:
    """Build the matrix (or take `matrix`, the run's snapshot's), fit, save; the running
    row records the snapshot, sizes, timings and artifact.

    A run without a snapshot takes one now; its matrix reads the same listens (the bound is
    fixed first, and on PostgreSQL the counting runs beside the reading).
    """
    folder = artifact_root() / f"run-{run.pk}"
    say = on_progress or (lambda step: None)
    timings: dict[str, float] = {}
    run.timings = timings
    try:
        started = time.perf_counter()
        say("building the matrix")
        if run.snapshot is None:
            bounds = {"last_listen_id": newest_listen_id(), "last_skip_id": newest_skip_id()}
            with _alongside(lambda: data_snapshot_create(**bounds)) as taken:
                matrix = build_matrix(
                    run.level, half_life_days=run.weighting.get("half_life_days"), **bounds
                )
            run.snapshot = taken.result()
        elif matrix is None:
            matrix = snapshot_matrix(run.snapshot, run.level, run.weighting)
        elif not matrix.is_of(run.snapshot):
            raise ValueError(f"the matrix given is not of the run's {run.snapshot}")
        timings["matrix_seconds"] = time.perf_counter() - started
        run.n_listeners, run.n_items = matrix.shape
        run.progress = 0.2
        run.save(update_fields=["snapshot", "n_listeners", "n_items", "timings", "progress"])
        if matrix.plays.nnz == 0:
            raise ValueError(f"no listens at {run.level} level to train on")

        say(f"fitting {run.algorithm} on {matrix.shape[0]:,} x {matrix.shape[1]:,}")
        started = time.perf_counter()
        user_items = weigh(matrix, run.weighting)
        model = algorithms.create(run.algorithm, seed=run.seed, **run.params)
        model.fit(user_items)
        timings["fit_seconds"] = time.perf_counter() - started
        run.progress = 0.9
        run.save(update_fields=["timings", "progress"])

        say("saving")
        started = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        model.save(folder / "model")
        matrix.save(folder / "ids.npz")
        timings["save_seconds"] = time.perf_counter() - started
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    run.artifact = str(folder.relative_to(artifact_root()))
    run.save(update_fields=["timings", "artifact"])


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


def model_search_create(
    *,
    algorithm: str,
    space: Mapping[str, list],
    base_params: Mapping[str, Any] | None = None,
    level: str = "song",
    seed: int = 0,
    weighting: Mapping[str, Any] | None = None,
    created_by=None,
) -> list[ModelRun]:
    """One run per grid point, all labelled as one search (`tasks.model_search_start`
    creates and queues them)."""
    label = f"search-{uuid.uuid4().hex[:10]}"
    return [
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


RUNS_KEPT = 10


def prune_artifacts(keep: int = RUNS_KEPT) -> int:
    """Delete the artifacts of trained runs no set uses, beyond the `keep` newest; how many.

    Such a run keeps its row (its parameters, timings and metrics stay readable) with an
    empty `artifact`, so it can no longer be published.
    """
    used = set(RecommendationSet.objects.values_list("run_id", flat=True))
    trained = (
        ModelRun.objects.filter(status=JobStatus.SUCCEEDED).exclude(artifact="").order_by("-pk")
    )
    doomed = [run for run in trained[keep:] if run.pk not in used]
    for run in doomed:
        shutil.rmtree(artifact_root() / run.artifact, ignore_errors=True)
    ModelRun.objects.filter(pk__in=[run.pk for run in doomed]).update(artifact="")
    return len(doomed)
