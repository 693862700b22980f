"""The evaluation protocol: fit each model on a split, rank the whole catalogue, score (no Django).

Honest by construction (../shared/DESIGN.md):

- a model is fitted on the split's TRAIN matrix only (weighted into confidences as serving
  weights it); the test cells are never in it (`Split.check` guarantees disjoint cells);
- each test listener (a row with at least one test item) is ranked from their TRAIN row, with
  the items heard in training excluded exactly as serving excludes them, against the whole
  catalogue (no sampled negatives); the relevant items are the test cells only, so an item
  heard in training can never count as a hit;
- hyper-parameters are chosen by `tune` on a validation split carved out of the training
  matrix, never on the test split;
- the split is temporal by default wherever every listen has a time ("auto"), and a
  time-based split divides plays, not cells: training counts only the plays (and skips)
  before the cut-off, so nothing of the future reaches a model;
- every result carries the protocol (split, seed, ks, weighting) that produced it, the split
  actually used and why, and the per-listener values behind each mean, for bootstrap
  intervals and paired comparisons.

Algorithms are given as {label: params}. A label is an algorithm's registered name, or
"name:variant" to run one algorithm under several settings ("item_knn:bm25",
"ease:l2=100"): the part before the colon picks the model.
"""

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender import algorithms as zoo
from recommender.algorithms.base import Recommender
from recommender.algorithms.weighting import confidence

from .metrics import (
    RANKING_METRICS,
    catalogue_coverage,
    f1_from,
    intra_list_diversity,
    mae,
    novelty,
    popularity_bias,
    ranking_metrics,
    rmse,
)
from .splits import (
    Interactions,
    Split,
    kfold,
    last_n_split,
    random_holdout,
    temporal_split,
    validation_split,
)

# "auto" is resolved when the data is known: temporal if every listen has a time, else random.
SPLITS = ("auto", "random", "kfold", "temporal", "last_n")
TIMED_SPLITS = ("temporal", "last_n")
BASELINE = "popularity"
RATING = "rating"
# Metrics compared with the popularity baseline, at every k.
COMPARED = ("precision", "recall", "map", "ndcg")
# Bootstrap resamples are drawn in blocks of about this many listener indices.
BOOTSTRAP_BLOCK_CELLS = 4_000_000


@dataclass
class Protocol:
    """How models are evaluated: the split, the cut-offs, the seed and the weighting.

    split: "auto" (the default: "temporal" when every listen given has a time, else
    "random"; see `resolve_split`), "random" (per-listener holdout of `test_fraction`),
    "kfold" (`folds` folds over each listener's items; results are mean ± std across folds),
    "temporal" (a global time cut-off at the `temporal_quantile` of the plays' times) or
    "last_n" (each listener's `last_n` latest distinct items held out); the time-based two
    need per-play rows with a time on every one.
    ks: the cut-offs; the first is the primary one (coverage, novelty, ... are given at it
    without a suffix, and at every k with "@k").
    weighting / alpha: confidence = alpha * log(1 + plays) for "log" (see `weighting.py`).
    skip_penalty: each skip of a training cell takes this much confidence off (when the
    caller gives the skips), as a model run's weighting does.
    half_life_days: the time decay the caller built the play counts with (recorded, so the
    result says which weighting it measured; the counts arrive already decayed).
    exclude_seen: rank without the items each listener heard in training (as serving does).
    batch_size: test listeners scored per `recommend` call.
    bootstrap / level: resamples and level of the confidence intervals over listeners.
    """

    split: str = "auto"
    test_fraction: float = 0.2
    folds: int = 5
    last_n: int = 1
    ks: tuple[int, ...] = (10, 20)
    seed: int = 0
    weighting: str = "log"
    alpha: float = 1.0
    skip_penalty: float = 0.0
    half_life_days: float | None = None
    exclude_seen: bool = True
    temporal_quantile: float = 0.8
    batch_size: int = 2_000
    bootstrap: int = 1_000
    level: float = 0.95

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose one of {', '.join(SPLITS)}")
        if int(self.last_n) < 1:
            raise ValueError(f"last_n must be at least 1, not {self.last_n}")
        self.last_n = int(self.last_n)
        self.ks = tuple(int(k) for k in self.ks)
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"ks must be one or more cut-offs >= 1, not {self.ks}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")

    @property
    def primary_k(self) -> int:
        """The first cut-off: the one the unsuffixed beyond-accuracy metrics use."""
        return self.ks[0]

    def to_dict(self) -> dict[str, Any]:
        """The protocol as JSON-ready values (ks as a list)."""
        values = asdict(self)
        values["ks"] = list(self.ks)
        return values


@dataclass
class ModelResult:
    """One model's evaluation on one split.

    metrics: metric name -> value (ranking metrics at every k, coverage, novelty, ...).
    per_user: ranking metric -> per-listener values (f1 excepted: it has none), aligned with
    `users`, the test listeners' row numbers. recommended: their top max(ks) items (-1 pads).
    fit_seconds: the fit; score_seconds: ranking the test listeners; metrics_seconds: the
    metrics beyond scoring.
    """

    metrics: dict[str, float]
    per_user: dict[str, np.ndarray]
    users: np.ndarray
    recommended: np.ndarray
    params: dict[str, Any]
    fit_seconds: float
    score_seconds: float
    metrics_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def algorithm_of(label: str) -> str:
    """The registered algorithm behind a label: "item_knn:bm25" -> "item_knn"."""
    return label.split(":", 1)[0]


# -- rating targets ----------------------------------------------------------------------------


def ratings_from_train(train: sp.csr_matrix, test: sp.csr_matrix) -> sp.csr_matrix:
    """The 1-5 rating of each test cell, by the listener's TRAINING play counts only.

    The same quantile mapping as `rating.play_counts_to_ratings`, with the listener's training
    counts as the reference: a test count c of a listener with n training counts gets
    rating = clip(ceil(5 * r / n), 1, 5), r = #{train counts < c} + (#{train counts == c} + 1) / 2
    (the mid-rank c would have among them). A training count gets exactly the rating
    `play_counts_to_ratings(train)` gives it. No test count shapes any target, so the targets
    leak nothing of the test split. Test cells of a listener without training counts are
    dropped (they cannot be rated, nor predicted).
    """
    train = sp.csr_matrix(train, dtype=np.float64)
    train.sort_indices()
    test = sp.csr_matrix(test, dtype=np.float64).tocoo()
    lengths = np.diff(train.indptr)
    train_rows = np.repeat(np.arange(train.shape[0]), lengths)
    ceiling = float(max(train.data.max(initial=0.0), test.data.max(initial=0.0))) + 1.0
    keys = np.sort(train_rows * ceiling + train.data)
    test_keys = test.row * ceiling + test.data
    below = np.searchsorted(keys, test_keys, side="left") - train.indptr[test.row]
    at_most = np.searchsorted(keys, test_keys, side="right") - train.indptr[test.row]
    n = lengths[test.row]
    known = n > 0
    rank = below + (at_most - below + 1) / 2.0
    ratings = np.clip(np.ceil(5.0 * rank[known] / n[known]), 1, 5).astype(np.float32)
    cells = (ratings, (test.row[known], test.col[known]))
    return sp.csr_matrix(cells, shape=test.shape, dtype=np.float32)


# -- one split -------------------------------------------------------------------------------


def _top_unseen(
    model: Recommender,
    users: np.ndarray,
    rows: sp.csr_matrix,
    seen: sp.csr_matrix,
    k: int,
    exclude_seen: bool,
) -> np.ndarray:
    """The top k of `users` from their rows, never an item of `seen` when excluding.

    `recommend` excludes the cells of the rows it is given; a weighting may drop cells that
    were played (a bm25 idf <= 0), so the few missed are filtered here against the played
    matrix itself, from a list long enough to still hold k items.
    """
    if not exclude_seen:
        return model.recommend(users, rows, k, exclude_seen=False)[0]
    dropped = np.diff(seen.indptr) - np.diff(rows.indptr)
    extra = int(dropped.max(initial=0))
    items = model.recommend(users, rows, k + extra, exclude_seen=True)[0]
    if extra == 0:
        return items
    n_items = seen.shape[1]
    coo = seen.tocoo()
    keys = coo.row.astype(np.int64) * n_items + coo.col
    slots = np.arange(len(users), dtype=np.int64)[:, None] * n_items + items
    keep = (items >= 0) & ~np.isin(slots, keys)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept slots first, in rank order
    packed = np.where(
        np.take_along_axis(keep, order, axis=1), np.take_along_axis(items, order, 1), -1
    )
    return packed[:, :k]


def list_metrics(
    recommended: np.ndarray,
    relevant: sp.csr_matrix,
    protocol: Protocol,
    listeners_per_item: np.ndarray,
    n_train_listeners: int,
    *,
    item_artist: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, np.ndarray], np.ndarray]:
    """Every metric of ranked lists, beyond the scoring; (means, per-listener values, rows).

    `recommended`: the test listeners' top max(ks) item positions (-1 pads); `relevant`:
    their held-out items, row for row; `listeners_per_item`: each catalogue item's number of
    training listeners (out of `n_train_listeners`), the popularity behind novelty and
    popularity bias. Computes every ranking metric at every k (per-listener values kept for
    the rows with a relevant item, returned as the third value), f1 from the means,
    catalogue coverage, novelty, popularity bias and, given `item_artist`, intra-list artist
    diversity, at every k and unsuffixed at the primary k.
    """
    n_items = len(listeners_per_item)
    per_user = ranking_metrics(recommended, relevant, protocol.ks, per_user=True)
    kept = per_user.pop("users")
    metrics = {key: float(value.mean()) if value.size else 0.0 for key, value in per_user.items()}
    for k in protocol.ks:
        metrics[f"f1@{k}"] = f1_from(metrics[f"precision@{k}"], metrics[f"recall@{k}"])
        metrics[f"coverage@{k}"] = catalogue_coverage(recommended, n_items, k)
        metrics[f"novelty@{k}"] = novelty(recommended, listeners_per_item, n_train_listeners, k)
        metrics[f"popularity_bias@{k}"] = popularity_bias(recommended, listeners_per_item, k)
        if item_artist is not None:
            metrics[f"diversity@{k}"] = intra_list_diversity(recommended, item_artist, k)
    for metric in ("coverage", "novelty", "popularity_bias", "diversity"):
        if f"{metric}@{protocol.primary_k}" in metrics:
            metrics[metric] = metrics[f"{metric}@{protocol.primary_k}"]
    return metrics, per_user, kept


def evaluate_split(
    split: Split,
    algorithms: Mapping[str, Mapping[str, Any]],
    protocol: Protocol,
    *,
    item_artist: np.ndarray | None = None,
    skips: sp.spmatrix | None = None,
) -> dict[str, ModelResult]:
    """Fit every algorithm on `split.train` and score its test listeners; {label: result}.

    Implicit models fit on confidence(train) by the protocol's weighting (less
    `protocol.skip_penalty` per skip of a cell, given `skips` of the split's shape; a
    skipped cell that is not in train stays out of it); `rating` fits on
    the training play counts (it converts them to 1-5 ratings itself) and also gets MAE and
    RMSE of `predict` on the test cells' ratings from `ratings_from_train`. Each test
    listener is ranked from their training row (`exclude_seen` as in serving, whole
    catalogue), in batches of `protocol.batch_size`. Metrics: every ranking metric at every
    k (per-listener values kept), catalogue coverage, novelty and popularity bias (item
    popularity = number of training listeners), and intra-list artist diversity when
    `item_artist` (artist id per item column) is given.
    """
    train = sp.csr_matrix(split.train, dtype=np.float32)
    train.eliminate_zeros()
    test = sp.csr_matrix(split.test, dtype=np.float32)
    test.eliminate_zeros()
    weighted = confidence(
        train,
        scheme=protocol.weighting,
        alpha=protocol.alpha,
        skips=skips,
        skip_penalty=protocol.skip_penalty,
    )
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    relevant = test[users]
    k_max = max(protocol.ks)
    listeners_per_item = np.asarray((train != 0).sum(axis=0)).ravel()
    n_train_listeners = max(int((np.diff(train.indptr) > 0).sum()), 1)
    results: dict[str, ModelResult] = {}
    for label, params in algorithms.items():
        name = algorithm_of(label)
        model = zoo.create(name, seed=protocol.seed, **dict(params))
        fit_on = train if name == RATING else weighted
        started = time.perf_counter()
        model.fit(fit_on)
        fit_seconds = time.perf_counter() - started

        started = time.perf_counter()
        recommended = np.full((len(users), k_max), -1, dtype=np.int64)
        for start in range(0, len(users), protocol.batch_size):
            batch = users[start : start + protocol.batch_size]
            recommended[start : start + len(batch)] = _top_unseen(
                model, batch, fit_on[batch], train[batch], k_max, protocol.exclude_seen
            )
        score_seconds = time.perf_counter() - started

        started = time.perf_counter()
        metrics, per_user, kept = list_metrics(
            recommended,
            relevant,
            protocol,
            listeners_per_item,
            n_train_listeners,
            item_artist=item_artist,
        )
        if name == RATING and hasattr(model, "predict"):
            targets = ratings_from_train(train, test).tocoo()
            if targets.nnz:
                predicted = model.predict(targets.row, targets.col)
                metrics["mae"] = mae(targets.data, predicted)
                metrics["rmse"] = rmse(targets.data, predicted)
        metrics_seconds = time.perf_counter() - started

        results[label] = ModelResult(
            metrics=metrics,
            per_user=per_user,
            users=users[kept],
            recommended=recommended,
            params=dict(model.params),
            fit_seconds=fit_seconds,
            score_seconds=score_seconds,
            metrics_seconds=metrics_seconds,
        )
    return results


# -- uncertainty -----------------------------------------------------------------------------


def _bootstrap_means(values: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """Means of `n` resamples (with replacement) of the rows of `values` (listeners x columns).

    The same resampled listeners for every column, so paired and joint statistics hold.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    m = values.shape[0]
    means = np.empty((n, values.shape[1]))
    block = max(1, BOOTSTRAP_BLOCK_CELLS // max(m, 1))
    for start in range(0, n, block):
        stop = min(start + block, n)
        picks = rng.integers(0, m, size=(stop - start, m))
        if values.shape[1] == 1:
            means[start:stop, 0] = values[picks, 0].mean(axis=1)
            continue
        # Many columns: count how often each listener was drawn, then one matrix product
        # gives every column's resampled mean (about 4x faster than a gather per column).
        offsets = np.arange(stop - start, dtype=np.int64)[:, None] * m
        counts = np.bincount((offsets + picks).ravel(), minlength=(stop - start) * m)
        means[start:stop] = counts.reshape(stop - start, m).astype(np.float64) @ values / m
    return means


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_ci(
    per_user: np.ndarray, rng: np.random.Generator, n: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over listeners.

    Resamples the listeners with replacement `n` times; the interval holds the central
    `level` share of the resampled means. (0.0, 0.0) when there is no listener.
    """
    values = np.asarray(per_user, dtype=np.float64)
    if values.size == 0:
        return 0.0, 0.0
    return _interval(_bootstrap_means(values, rng, n)[:, 0], level)


def paired_difference(
    a_per_user: np.ndarray,
    b_per_user: np.ndarray,
    rng: np.random.Generator,
    n: int = 1000,
    level: float = 0.95,
) -> dict[str, Any]:
    """Is model a better than model b on the same listeners? A paired bootstrap.

    d = a - b per listener (the arrays are aligned: the same listeners in the same order).
    mean_difference = mean(d); ci = percentile bootstrap interval of mean(d) over resampled
    listeners; p_value = two-sided bootstrap p of "no difference": the share of the
    resampled means, centred on mean(d), at least as far from 0 as mean(d) is, as
    (1 + count) / (1 + n). A model against itself: difference 0, p 1.
    """
    return paired_differences({"d": a_per_user}, {"d": b_per_user}, rng, n, level)["d"]


def paired_differences(
    a_per_user: Mapping[str, np.ndarray],
    b_per_user: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    n: int = 1000,
    level: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """`paired_difference` for every metric of `a_per_user` at once: {metric: result}.

    Every metric is resampled with the same listeners (one bootstrap for all, which is
    faster and keeps the comparisons jointly consistent); b must hold the same metrics.
    """
    names = list(a_per_user)
    a = [np.asarray(a_per_user[name], dtype=np.float64) for name in names]
    b = [np.asarray(b_per_user[name], dtype=np.float64) for name in names]
    for left, right in zip(a, b, strict=True):
        if left.shape != right.shape:
            raise ValueError(f"paired values must be aligned: {left.shape} vs {right.shape}")
    if not names or a[0].size == 0:
        return {name: {"mean_difference": 0.0, "ci": (0.0, 0.0), "p_value": 1.0} for name in names}
    if len({left.shape for left in a}) != 1:
        raise ValueError("every metric must hold the same listeners")
    difference = np.column_stack([left - right for left, right in zip(a, b, strict=True)])
    observed = difference.mean(axis=0)
    means = _bootstrap_means(difference, rng, n)
    results = {}
    for column, name in enumerate(names):
        extreme = np.abs(means[:, column] - observed[column]) >= abs(observed[column]) - 1e-12
        results[name] = {
            "mean_difference": float(observed[column]),
            "ci": _interval(means[:, column], level),
            "p_value": float((1 + extreme.sum()) / (1 + n)),
        }
    return results


def _intervals(
    per_user: Mapping[str, np.ndarray], protocol: Protocol, rng: np.random.Generator
) -> dict[str, list[float]]:
    """Bootstrap intervals of every ranking metric (f1 from the resampled P and R means)."""
    names = sorted(per_user)
    if not names or per_user[names[0]].size == 0:
        return {}
    matrix = np.column_stack([per_user[name] for name in names])
    means = _bootstrap_means(matrix, rng, protocol.bootstrap)
    column = {name: index for index, name in enumerate(names)}
    intervals = {name: list(_interval(means[:, column[name]], protocol.level)) for name in names}
    for k in protocol.ks:
        precision, recall = means[:, column[f"precision@{k}"]], means[:, column[f"recall@{k}"]]
        total = precision + recall
        f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
        intervals[f"f1@{k}"] = list(_interval(f1, protocol.level))
    return intervals


# -- the whole protocol ----------------------------------------------------------------------


def resolve_split(protocol: Protocol, plays: Interactions | None) -> tuple[Protocol, str]:
    """The protocol with the split it will really use, and why.

    "auto" becomes "temporal" when per-play rows are given and every one has a time (a
    random split of timed listening lets a model train on plays made after the ones it is
    asked to predict), else "random". An explicit time-based split on plays without times is
    refused, saying how many lack one.
    """
    n, untimed = (len(plays), plays.untimed) if plays is not None else (0, 0)
    if protocol.split == "auto":
        if plays is None:
            return replace(protocol, split="random"), "no play times were given: random"
        if n == 0 or untimed:
            reason = f"{untimed:,} of {n:,} listens have no time: random"
            return replace(protocol, split="random"), reason
        return replace(protocol, split="temporal"), f"all {n:,} listens have a time: temporal"
    if protocol.split in TIMED_SPLITS:
        if plays is None:
            raise ValueError(f"a {protocol.split} split needs the plays with their times")
        if untimed:
            raise ValueError(
                f"a {protocol.split} split needs a time on every listen, but {untimed:,} of"
                f" {n:,} listens have none (aggregated play counts): choose the random or"
                " kfold split"
            )
    return protocol, "asked for"


def make_splits(
    user_items: sp.spmatrix, protocol: Protocol, *, plays: Interactions | None = None
) -> list[Split]:
    """The split(s) the protocol asks for (one, or `folds` for kfold); "auto" is resolved
    by `resolve_split` first.

    `plays` (time-based splits): one row per play in `user_items`' rows and columns, with
    the values `user_items` sums (already weighted) and each play's time. The temporal split
    cuts the plays, not the cells: a cell played before and after the cut-off trains on its
    earlier plays only, and its later ones are not a test item (the listener has heard it).
    """
    protocol, _ = resolve_split(protocol, plays)
    matrix = sp.csr_matrix(user_items)
    if protocol.split == "random":
        return [random_holdout(matrix, protocol.test_fraction, protocol.seed)]
    if protocol.split == "kfold":
        return kfold(matrix, protocol.folds, protocol.seed)
    assert plays is not None  # resolve_split refused a time-based split without plays
    columns = (plays.rows, plays.columns, plays.values, plays.times)
    if protocol.split == "last_n":
        return [last_n_split(*columns, shape=matrix.shape, n=protocol.last_n)]
    return [temporal_split(*columns, shape=matrix.shape, quantile=protocol.temporal_quantile)]


def _skips_of(
    split: Split, skips: sp.spmatrix | None, skip_events: Interactions | None, shape
) -> sp.spmatrix | None:
    """The skips training may see: for a time-based split only those before its horizon
    (a later skip is future information, like a later play)."""
    if split.horizon is None:
        return skips if skip_events is None else skip_events.matrix(shape)
    if skip_events is not None:
        return skip_events.matrix(shape, before=split.horizon)
    if skips is not None and sp.csr_matrix(skips).nnz:
        raise ValueError(f"a {split.name} split needs the skips' times, not their counts")
    return None


def _listener_means(
    folds: Sequence[ModelResult], n_rows: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-listener values averaged over the folds each listener is tested in."""
    counts = np.zeros(n_rows)
    for result in folds:
        np.add.at(counts, result.users, 1)
    listeners = np.flatnonzero(counts > 0)
    averaged = {}
    for metric in folds[0].per_user:
        total = np.zeros(n_rows)
        for result in folds:
            np.add.at(total, result.users, result.per_user[metric])
        averaged[metric] = total[listeners] / counts[listeners]
    return listeners, averaged


def evaluate(
    user_items: sp.spmatrix,
    algorithms: Mapping[str, Mapping[str, Any]],
    protocol: Protocol | None = None,
    *,
    plays: Interactions | None = None,
    item_artist: np.ndarray | None = None,
    skips: sp.spmatrix | None = None,
    skip_events: Interactions | None = None,
) -> dict[str, Any]:
    """Evaluate every algorithm under the protocol; the JSON the `evaluate` command writes.

    `user_items`: listeners x items play counts; `plays`: the same plays one row per play
    with its time (needed by the time-based splits, and by "auto" to choose one); `skips`
    (same shape, optional): skip counts, weighed against the training cells by
    `protocol.skip_penalty`, or `skip_events` (one row per skip with its time), which a
    time-based split bounds by its cut-off. Returns {"protocol": the resolved protocol's
    to_dict() with "split_asked" (what the caller asked), "split_reason" (why that split)
    and "split_params" (the split's own, e.g. its cut-off), "results": {label:
    {"precision@10": ..., "recall@10":
    ..., "f1@10": ..., "map@10": ..., "ndcg@10": ..., "hit_rate@10": ..., "mrr@10": ...,
    (every k), "coverage": ..., "novelty": ..., "popularity_bias": ..., ("diversity": ...),
    ("mae", "rmse" for rating), "coverage@k" ..., "fit_seconds": ..., "score_seconds": ...,
    "metrics_seconds": ..., "n_listeners": ..., "params": {...}, "ci": {metric: [low, high]},
    "vs_popularity": {metric: {"mean_difference", "ci", "p_value"}} (every model but the
    baseline, when "popularity" is evaluated)}}}.

    kfold: every value is the mean across folds, with "std": {metric: std across folds} and
    "folds": [each fold's metrics]; the intervals and paired comparisons then resample
    listeners over their values averaged across the folds they are tested in. Timings are
    per fit (means across folds).
    """
    asked = protocol or Protocol()
    protocol, reason = resolve_split(asked, plays)
    matrix = sp.csr_matrix(user_items)
    splits = make_splits(matrix, protocol, plays=plays)
    by_fold = [
        evaluate_split(
            split,
            algorithms,
            protocol,
            item_artist=item_artist,
            skips=_skips_of(split, skips, skip_events, matrix.shape),
        )
        for split in splits
    ]
    rng = np.random.default_rng(protocol.seed)
    per_listener: dict[str, dict[str, np.ndarray]] = {}
    results: dict[str, dict[str, Any]] = {}
    for label in algorithms:
        folds = [fold[label] for fold in by_fold]
        names = list(folds[0].metrics)
        values = {name: [result.metrics[name] for result in folds] for name in names}
        entry: dict[str, Any] = {name: float(np.mean(v)) for name, v in values.items()}
        entry["fit_seconds"] = float(np.mean([result.fit_seconds for result in folds]))
        entry["score_seconds"] = float(np.mean([result.score_seconds for result in folds]))
        entry["metrics_seconds"] = float(np.mean([result.metrics_seconds for result in folds]))
        entry["params"] = folds[0].params
        if len(folds) > 1:
            _, per_listener[label] = _listener_means(folds, matrix.shape[0])
            entry["std"] = {name: float(np.std(v)) for name, v in values.items()}
            entry["folds"] = [result.metrics for result in folds]
        else:
            per_listener[label] = folds[0].per_user
        entry["n_listeners"] = len(next(iter(per_listener[label].values()), []))
        started = time.perf_counter()
        entry["ci"] = _intervals(per_listener[label], protocol, rng)
        entry["ci_seconds"] = time.perf_counter() - started
        results[label] = entry
    baseline = next((label for label in algorithms if algorithm_of(label) == BASELINE), None)
    if baseline is not None:
        for label in algorithms:
            if label == baseline:
                continue
            keys = [f"{metric}@{k}" for k in protocol.ks for metric in COMPARED]
            differences = paired_differences(
                {key: per_listener[label][key] for key in keys},
                {key: per_listener[baseline][key] for key in keys},
                rng,
                protocol.bootstrap,
                protocol.level,
            )
            results[label]["vs_popularity"] = {
                key: _jsonable(difference) for key, difference in differences.items()
            }
    recorded = {
        **protocol.to_dict(),
        "split_asked": asked.split,
        "split_reason": reason,
        "split_params": splits[0].params if len(splits) == 1 else {"k": len(splits)},
    }
    return {"protocol": recorded, "results": results}


def _jsonable(comparison: dict[str, Any]) -> dict[str, Any]:
    return {**comparison, "ci": list(comparison["ci"])}


# -- hyper-parameter search ------------------------------------------------------------------


def grid(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the values in `space`, in order (the last key varies fastest)."""
    keys = list(space)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*space.values())]


def tune(
    train: sp.spmatrix,
    algorithm: str,
    space: Mapping[str, Sequence[Any]],
    protocol: Protocol | None = None,
    metric: str = "ndcg@10",
    max_trials: int = 16,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Grid search of `algorithm`'s params on a validation split of `train`; (best, trials).

    Pass the TRAINING matrix of the evaluation split: the search carves its own validation
    holdout out of it (`validation_split`, `protocol.test_fraction`, `protocol.seed`), fits
    each setting on the rest and ranks the validation items under the same protocol, so the
    test split is never looked at. A grid larger than `max_trials` is sampled down to
    `max_trials` settings (seeded). The best setting maximises `metric` (first wins ties).
    trials: [{"params": ..., metric: value, "fit_seconds": ...}] in the order run.
    """
    protocol = protocol or Protocol()
    name, _, cutoff = metric.partition("@")
    if name not in RANKING_METRICS or not cutoff.isdigit():
        raise ValueError(f"metric must be a ranking metric at a k, like 'ndcg@10', not {metric!r}")
    local = replace(protocol, ks=tuple(dict.fromkeys((int(cutoff), *protocol.ks))))
    holdout = validation_split(train, protocol.test_fraction, protocol.seed)
    settings = grid(space)
    if len(settings) > max_trials:
        rng = np.random.default_rng(protocol.seed)
        picked = np.sort(rng.choice(len(settings), size=max_trials, replace=False))
        settings = [settings[index] for index in picked]
    trials = []
    for params in settings:
        result = evaluate_split(holdout, {algorithm: params}, local)[algorithm]
        trials.append(
            {"params": params, metric: result.metrics[metric], "fit_seconds": result.fit_seconds}
        )
    if not trials:
        raise ValueError("the search space is empty")
    best = max(trials, key=lambda trial: trial[metric])  # max keeps the first of equals
    return dict(best["params"]), trials
