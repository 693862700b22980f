"""The statistics of the exploration report: small pure functions over aggregates (no Django).

The inputs are already aggregated (one value per item, or a histogram value -> occurrences),
so nothing here needs every listen in memory. Outputs meant for the report are JSON-ready:
plain ints, floats, lists and dicts, with None where a figure does not exist (empty input).
"""

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

ArrayLike = np.ndarray | pd.Series | Sequence[float]


def _floats(values: ArrayLike | pd.Index) -> np.ndarray:
    """The values as a float array: None, NaN and pd.NA become NaN; Decimal (SQL SUM) a float."""
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values, dtype=float)


def _values(values: ArrayLike) -> np.ndarray:
    """The finite values as a float array (missing values dropped)."""
    array = _floats(values)
    return array[np.isfinite(array)]


def gini(values: ArrayLike) -> float:
    """Gini coefficient of non-negative values: 0 = all equal, towards 1 = one item has all.

    G = (2 * sum(i * x_(i))) / (n * sum(x)) - (n + 1) / n, with x_(i) the values in ascending
    order and i = 1..n. 0.0 for empty or all-zero input. The maximum for n items is
    (n - 1) / n (one item has everything), e.g. 0.75 for [0, 0, 0, 10].
    """
    x = np.sort(_values(values))
    n = x.size
    total = x.sum()
    if n == 0 or total <= 0:
        return 0.0
    if x[0] < 0:
        raise ValueError("gini needs non-negative values")
    ranks = np.arange(1, n + 1, dtype=float)
    return float(2.0 * np.dot(ranks, x) / (n * total) - (n + 1) / n)


def lorenz_curve(values: ArrayLike, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The Lorenz curve of non-negative values, sampled at `points` evenly spaced shares.

    x = cumulative share of items (ascending by value), y = cumulative share of the total
    held by those items: the exact curve joins (0, 0), (1/n, x_(1)/sum), ..., (1, 1) and is
    linearly interpolated at x = 0, 1/(points-1), ..., 1. The diagonal y = x means all
    equal; empty or all-zero input returns that diagonal.
    """
    if points < 2:
        raise ValueError("a Lorenz curve needs at least 2 points")
    x = np.sort(_values(values))
    grid = np.linspace(0.0, 1.0, points)
    total = x.sum()
    if x.size == 0 or total <= 0:
        return grid, grid.copy()
    item_share = np.arange(0, x.size + 1, dtype=float) / x.size
    total_share = np.concatenate(([0.0], np.cumsum(x) / total))
    total_share[-1] = 1.0
    return grid, np.interp(grid, item_share, total_share)


def _share_label(fraction: float) -> str:
    return f"top_{fraction * 100:g}%"


def top_share(values: ArrayLike, fractions: Sequence[float] = (0.01, 0.1, 0.2)) -> dict[str, float]:
    """Share of the total held by the top `fraction` of items, for each fraction.

    Items are ranked by value, descending; the top k = ceil(fraction * n) items, at least 1.
    Keys read "top_1%", "top_10%", "top_20%". 0.0 for empty or all-zero input.
    """
    x = np.sort(_values(values))[::-1]
    total = x.sum()
    shares: dict[str, float] = {}
    for fraction in fractions:
        if x.size == 0 or total <= 0:
            shares[_share_label(fraction)] = 0.0
            continue
        # round first: 0.1 * 30 is 3.0000000000000004 in floating point, not 3
        k = max(1, math.ceil(round(fraction * x.size, 9)))
        shares[_share_label(fraction)] = float(x[:k].sum() / total)
    return shares


def histogram_of(values: pd.Series) -> pd.Series:
    """Raw per-item values as a histogram: value -> number of items with that value.

    E.g. plays per listener [1, 1, 3] -> {1: 2, 3: 1}. Index ascending, integer counts;
    missing values are dropped.
    """
    counts = pd.Series(values).dropna().value_counts().sort_index()
    counts.index.name = "value"
    return counts.rename("occurrences").astype("int64")


def log_histogram(counts: pd.Series) -> pd.DataFrame:
    """Regroup a histogram (value -> occurrences) into powers-of-2 bins [1,2), [2,4), [4,8)...

    Input index = positive integer value, values = how many times it occurs (e.g. 57 listeners
    have 3 plays). Output columns `low` (inclusive), `high` (exclusive) and `count`, one row
    per bin from [1, 2) to the bin holding the largest value, empty bins included (count 0)
    so the gaps stay visible. Values below 1 have no logarithmic bin and are left out.
    """
    values, occurrences = _floats(counts.index), _floats(counts)
    keep = np.isfinite(values) & (values >= 1) & np.isfinite(occurrences) & (occurrences > 0)
    values, occurrences = values[keep], occurrences[keep]
    if values.size == 0:
        return pd.DataFrame(
            {
                "low": pd.Series(dtype="int64"),
                "high": pd.Series(dtype="int64"),
                "count": pd.Series(dtype="int64"),
            }
        )
    exponents = np.floor(np.log2(values)).astype(np.int64)
    # log2 of a float can land just under an exact power of 2; correct both ways
    exponents[2.0 ** (exponents + 1) <= values] += 1
    exponents[2.0**exponents > values] -= 1
    bins = np.arange(0, exponents.max() + 1)
    totals = np.bincount(exponents, weights=occurrences, minlength=bins.size)
    return pd.DataFrame(
        {
            "low": (2**bins).astype("int64"),
            "high": (2 ** (bins + 1)).astype("int64"),
            "count": np.rint(totals).astype("int64"),
        }
    )


def _number(value: np.generic | float) -> int | float:
    number = value.item() if isinstance(value, np.generic) else value
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def summary(values: ArrayLike) -> dict:
    """count, mean, median, p90, p99 and max of the values, JSON-ready.

    Percentiles interpolate linearly between order statistics (numpy's default). `count` is
    an int; `max` is an int when it is whole; the rest are floats. Empty input gives count 0
    and None for every other figure.
    """
    x = _values(values)
    if x.size == 0:
        return {"count": 0, "mean": None, "median": None, "p90": None, "p99": None, "max": None}
    return {
        "count": int(x.size),
        "mean": float(x.mean()),
        "median": float(np.median(x)),
        "p90": float(np.percentile(x, 90)),
        "p99": float(np.percentile(x, 99)),
        "max": _number(x.max()),
    }


def _histogram_records(histogram: pd.DataFrame) -> list[dict]:
    return [
        {"low": int(row.low), "high": int(row.high), "count": int(row.count)}
        for row in histogram.itertuples(index=False)
    ]


def sessions(plays: pd.DataFrame, gap_minutes: float = 30) -> dict:
    """Listening sessions in a sample of timed plays (columns `listener`, `played_at`).

    A session starts at a listener's first play and again after every gap between two
    consecutive plays longer than `gap_minutes` (a gap of exactly `gap_minutes` continues the
    session). Its length in minutes is its last play's time minus its first play's time (0 for
    a single play). Plays without a time are ignored. Returns `sessions`, `listeners`,
    `plays_per_session`, `minutes_per_session` and `sessions_per_listener` (summary dicts),
    and `plays_per_session_histogram` (the log_histogram rows as dicts).
    """
    frame = plays.loc[:, ["listener", "played_at"]].copy()
    frame["played_at"] = pd.to_datetime(frame["played_at"], utc=True)
    frame = frame.dropna().sort_values(["listener", "played_at"], kind="stable")
    if frame.empty:
        empty = summary([])
        return {
            "sessions": 0,
            "listeners": 0,
            "plays_per_session": empty,
            "minutes_per_session": dict(empty),
            "sessions_per_listener": dict(empty),
            "plays_per_session_histogram": [],
        }
    gaps = frame.groupby("listener", sort=False)["played_at"].diff()
    starts = gaps.isna() | (gaps > pd.Timedelta(minutes=gap_minutes))
    frame["session"] = starts.cumsum().to_numpy()
    grouped = frame.groupby("session")
    per_session = grouped["played_at"].agg(["size", "min", "max"])
    plays_per_session = per_session["size"]
    minutes = (per_session["max"] - per_session["min"]).dt.total_seconds() / 60.0
    per_listener = grouped["listener"].first().value_counts()
    return {
        "sessions": len(per_session),
        "listeners": int(per_listener.size),
        "plays_per_session": summary(plays_per_session),
        "minutes_per_session": summary(minutes),
        "sessions_per_listener": summary(per_listener),
        "plays_per_session_histogram": _histogram_records(
            log_histogram(histogram_of(plays_per_session))
        ),
    }


def repeat_listening(pairs_histogram: pd.Series) -> dict:
    """How much listening is replaying: input value -> number of listener-song pairs.

    E.g. {1: 3, 4: 1}: three pairs played once, one pair played four times. Returns `pairs`
    (distinct listener-song pairs), `plays` (sum of value * pairs), `repeat_ratio` =
    1 - pairs / plays (the share of plays that replay a song the listener already played)
    and `pairs_played_once_share` (pairs with exactly one play / pairs). Ratios are 0.0
    when there are no plays.
    """
    values, counts = _floats(pairs_histogram.index), _floats(pairs_histogram)
    keep = np.isfinite(values) & np.isfinite(counts) & (values > 0)
    values, counts = values[keep], counts[keep]
    pairs = round(float(counts.sum()))
    total = _number(float((values * counts).sum()))
    once = float(counts[values == 1].sum())
    return {
        "pairs": pairs,
        "plays": total,
        "repeat_ratio": float(1.0 - pairs / total) if total > 0 else 0.0,
        "pairs_played_once_share": once / pairs if pairs > 0 else 0.0,
    }
