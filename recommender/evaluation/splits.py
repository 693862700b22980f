"""Train/test splits of a listener x item matrix that cannot leak (no Django).

Every split returns a `Split`: train and test matrices of the same shape whose non-zeros
never share a (listener, item) cell, with its name, seed and parameters (JSON-ready) so a
result can be reproduced. The random and k-fold splits deal whole cells (a cell's summed play
counts go to train or to test); the temporal and last-n splits take one row per play
(`Interactions`), so a cell's plays before the cut-off can train while its later ones stay
out. Randomness comes only from `seed`.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp


class LeakageError(AssertionError):
    """A split whose test cells also appear in training, or whose matrices disagree in shape."""


@dataclass
class Interactions:
    """One row per event (a play, a skip): listener row, item column, value and time.

    Times are numbers (e.g. Unix seconds); NaN where an event has no time (an aggregated
    play count). What the time-based splits need, where a matrix has already summed a cell's
    plays together and lost which came after a cut-off.
    """

    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def untimed(self) -> int:
        """How many events have no time."""
        return int(np.isnan(np.asarray(self.times, dtype=np.float64)).sum())

    def matrix(self, shape: tuple[int, int], before: np.ndarray | None = None) -> sp.csr_matrix:
        """The values summed per cell; with `before` (a time per row), only the events
        strictly before their row's time."""
        keep = slice(None)
        if before is not None:
            keep = np.asarray(self.times, dtype=np.float64) < np.asarray(before)[self.rows]
        cells = (
            np.asarray(self.values, dtype=np.float32)[keep],
            (np.asarray(self.rows)[keep], np.asarray(self.columns)[keep]),
        )
        matrix = sp.csr_matrix(cells, shape=shape, dtype=np.float32)
        matrix.sum_duplicates()
        return matrix


@dataclass
class Split:
    """A train matrix and a test matrix (same shape, disjoint cells), and how they were made.

    horizon (time-based splits): per listener row, the time from which on their events are
    the future the test stands for; side information with times (skips) is counted for
    training only strictly before it (`Interactions.matrix(before=horizon)`). None for the
    random and k-fold splits, which have no time.
    """

    train: sp.csr_matrix
    test: sp.csr_matrix
    name: str
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    horizon: np.ndarray | None = None

    def check(self) -> "Split":
        """Raise LeakageError unless the shapes agree and no cell is in both train and test."""
        if self.train.shape != self.test.shape:
            raise LeakageError(f"train is {self.train.shape} but test is {self.test.shape}")
        shared = (self.train != 0).multiply(self.test != 0)
        if shared.nnz:
            coo = shared.tocoo()
            cells = list(zip(coo.row[:5].tolist(), coo.col[:5].tolist(), strict=True))
            raise LeakageError(f"{shared.nnz} (listener, item) cells in train and test: {cells}")
        return self


def _clean(user_items: sp.spmatrix) -> sp.csr_matrix:
    """A CSR copy with duplicates summed, explicit zeros dropped and sorted indices."""
    matrix = sp.csr_matrix(user_items, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def _by_mask(matrix: sp.csr_matrix, in_test: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split the stored cells of `matrix` by a boolean per stored cell."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))

    def part(mask: np.ndarray) -> sp.csr_matrix:
        cells = (matrix.data[mask], (rows[mask], matrix.indices[mask]))
        return sp.csr_matrix(cells, shape=matrix.shape, dtype=matrix.dtype)

    return part(~in_test), part(in_test)


def _rank_within_rows(matrix: sp.csr_matrix, rng: np.random.Generator) -> np.ndarray:
    """A random order (0, 1, ...) of the stored cells within each row."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((rng.random(matrix.nnz), rows))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - matrix.indptr[rows[order]]
    return rank


def random_holdout(
    user_items: sp.spmatrix, test_fraction: float = 0.2, seed: int = 0, *, name: str = "random"
) -> Split:
    """Per listener, hold out a random `test_fraction` of their items.

    A listener with n items gives round(test_fraction * n) of them to test (halves round up),
    at least 1 and at most n - 1, so every listener keeps a training item; a listener with a
    single item stays wholly in train.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, not {test_fraction}")
    matrix = _clean(user_items)
    counts = np.diff(matrix.indptr)
    n_test = np.clip(np.floor(test_fraction * counts + 0.5), 1, counts - 1).astype(np.int64)
    n_test[counts < 2] = 0
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    in_test = _rank_within_rows(matrix, np.random.default_rng(seed)) < n_test[rows]
    train, test = _by_mask(matrix, in_test)
    return Split(train, test, name, seed, {"test_fraction": test_fraction}).check()


def validation_split(train: sp.spmatrix, validation_fraction: float = 0.2, seed: int = 0) -> Split:
    """A random holdout carved out of a training matrix, for hyper-parameter search.

    Pass `split.train`: the test matrix is never seen, so settings chosen on this split's
    `test` (the validation items) cannot have looked at the real test items.
    """
    return random_holdout(train, validation_fraction, seed, name="validation")


def kfold(user_items: sp.spmatrix, k: int = 5, seed: int = 0) -> list[Split]:
    """K-fold cross-validation over each listener's items.

    Each listener's items are shuffled and dealt round the k folds from a random starting
    fold, so each item is in exactly one fold's test and fold sizes stay even. A listener
    with a single item stays wholly in train in every fold (they would otherwise have an
    empty training row in one fold); every other listener keeps a training item in every
    fold, since a fold holds at most ceil(n / k) <= n - 1 of their n items.
    """
    if k < 2:
        raise ValueError(f"k must be at least 2, not {k}")
    matrix = _clean(user_items)
    rng = np.random.default_rng(seed)
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    start = rng.integers(0, k, size=matrix.shape[0])
    fold = (_rank_within_rows(matrix, rng) + start[rows]) % k
    fold[counts[rows] < 2] = -1
    splits = []
    for index in range(k):
        train, test = _by_mask(matrix, fold == index)
        params = {"k": k, "fold": index}
        splits.append(Split(train, test, "kfold", seed, params).check())
    return splits


def _interactions(
    users: np.ndarray, items: np.ndarray, values: np.ndarray, times: np.ndarray
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "user": np.asarray(users, dtype=np.int64),
            "item": np.asarray(items, dtype=np.int64),
            "value": np.asarray(values, dtype=np.float32),
            "time": np.asarray(times),
        }
    )
    if frame["time"].isna().any():
        raise ValueError("a temporal split needs a time on every interaction")
    return frame


def _matrix(frame: pd.DataFrame, shape: tuple[int, int]) -> sp.csr_matrix:
    """Sum the values of each (user, item) of `frame` into a CSR matrix."""
    cells = (frame["value"].to_numpy(), (frame["user"].to_numpy(), frame["item"].to_numpy()))
    matrix = sp.csr_matrix(cells, shape=shape, dtype=np.float32)
    matrix.sum_duplicates()
    return matrix


def _json_time(time: Any) -> float | str:
    if isinstance(time, int | float | np.number):
        return float(time)
    return pd.Timestamp(time).isoformat()


def temporal_split(
    users: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    times: np.ndarray,
    *,
    shape: tuple[int, int],
    cutoff: Any = None,
    quantile: float | None = None,
) -> Split:
    """A global time cut-off: train on everything before it, test on the new items after it.

    One row per interaction (user index, item index, value, time; times as numbers or
    datetime64). Give either `cutoff` (a time like those in `times`) or `quantile` (e.g. 0.8:
    the cut-off is that quantile of all times). Train holds every interaction strictly
    before the cut-off; test holds each listener's *new* items from the cut-off on: an item
    the listener already played before the cut-off is already heard, so it stays in train
    only (with its earlier plays) and is not a test item. Listeners with nothing before the
    cut-off cannot be scored from a history: their later items are dropped from test
    (their count is in `params["cold_listeners_dropped"]`).
    """
    if (cutoff is None) == (quantile is None):
        raise ValueError("give exactly one of cutoff and quantile")
    frame = _interactions(users, items, values, times)
    if quantile is not None:
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be between 0 and 1, not {quantile}")
        cutoff = frame["time"].quantile(quantile, interpolation="higher")
    before = (frame["time"] < cutoff).to_numpy()
    train = _matrix(frame[before], shape)
    after = frame[~before]
    heard = np.asarray(train[after["user"].to_numpy(), after["item"].to_numpy()]).ravel() != 0
    history = np.diff(train.indptr) > 0
    known = history[after["user"].to_numpy()]
    test = _matrix(after[~heard & known], shape)
    params = {
        "cutoff": _json_time(cutoff),
        "quantile": quantile,
        "cold_listeners_dropped": int(np.unique(after["user"].to_numpy()[~known]).size),
        "train_plays": int(before.sum()),
        "later_plays": int((~before).sum()),
    }
    horizon = None
    if isinstance(cutoff, int | float | np.number):
        horizon = np.full(shape[0], float(cutoff))
    return Split(train, test, "temporal", None, params, horizon).check()


def last_n_split(
    users: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    times: np.ndarray,
    *,
    shape: tuple[int, int],
    n: int = 1,
) -> Split:
    """Per listener, their last n distinct items (by each item's latest play) go to test.

    Only as many as leave the listener a training item: a listener with m distinct items
    gives min(n, m - 1) to test, and one with a single item stays in train. Ties in latest
    play time go to the higher item index, so the split is deterministic. A listener's
    horizon is the earliest latest play of their held-out items (every training play is at
    or before it); a listener with nothing held out has none (infinity).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    frame = _interactions(users, items, values, times)
    cells = frame.groupby(["user", "item"], as_index=False).agg(
        value=("value", "sum"), latest=("time", "max")
    )
    cells = cells.sort_values(["user", "latest", "item"], ascending=[True, False, False])
    newest_first = cells.groupby("user").cumcount().to_numpy()
    distinct = cells.groupby("user")["item"].transform("size").to_numpy()
    in_test = newest_first < np.minimum(n, distinct - 1)
    train, test = _matrix(cells[~in_test], shape), _matrix(cells[in_test], shape)
    horizon = None  # datetimes: skips would need the same kind of time; none is kept
    if np.issubdtype(cells["latest"].dtype, np.number):
        horizon = np.full(shape[0], np.inf)
        earliest = cells[in_test].groupby("user")["latest"].min()
        horizon[earliest.index.to_numpy()] = earliest.to_numpy(np.float64)
    return Split(train, test, "last_n", None, {"n": n}, horizon).check()
