"""The exploration report's charts, as SVG documents (no Django).

Each function draws one chart on a fresh `matplotlib.figure.Figure` (no pyplot, so no global
figure state and no GUI backend) and returns the SVG text. Text stays text (`svg.fonttype`
"none") so the files stay small and searchable; every chart is about 640x360 px, titled,
with labelled axes and the accent colour. Empty input gives the same chart with a "No data"
note instead of an exception.

Each function also writes what its chart shows, in a sentence or two drawn from the same data
("Bar chart of plays per listener ...: half of the listeners have under 64 plays"), and the
SVG carries it as its accessible name (`role="img"`, `aria-label`, `<title>`): the text a
screen reader reads instead of the picture, wherever the SVG is inlined or opened.
"""

import functools
import io
import math
from collections.abc import Callable, Sequence
from typing import ParamSpec
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.dates import ConciseDateFormatter, DateLocator, MonthLocator, YearLocator
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    PercentFormatter,
)

ACCENT = "#6b2fb3"
MUTED = "#9a9a9a"
GRID = "#e6e6e6"
# 640x360 CSS px: SVG sizes are in points, and a browser draws 96 px per inch.
FIGSIZE = (640 / 96, 360 / 96)
TOP_ITEMS = 15
LABEL_CHARS = 40
WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HEATMAP_COLOURS = LinearSegmentedColormap.from_list("accent", ["#f6f2fb", ACCENT], N=64)

STYLE = {
    "svg.fonttype": "none",  # text stays <text>: small files, selectable labels
    "svg.hashsalt": "musicsite",  # stable element ids: the same data gives the same SVG
    "text.parse_math": False,  # "$" in a song or artist name is not mathtext
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.edgecolor": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
}

P = ParamSpec("P")


def _as_svg(draw: Callable[P, tuple[Figure, str]]) -> Callable[P, str]:
    """Run a drawing function under the house style and return its figure as SVG text, named
    by the function's description of what it shows."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        with rc_context(STYLE):
            figure, description = draw(*args, **kwargs)
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        return _described(buffer.getvalue(), description)

    return wrapper


def _described(svg: str, description: str) -> str:
    """`svg` with `description` as its text alternative. `role="img"` makes the drawing one
    image to assistive technology (not hundreds of loose labels), `aria-label` names it where
    it is inlined in a page, and `<title>` where the file is opened on its own."""
    start = svg.index("<svg ")
    end = svg.index(">", start) + 1
    label = escape(description, {'"': "&quot;"})
    named = f'<svg role="img" aria-label="{label}" ' + svg[start + 5 : end]
    return f"{svg[:start]}{named}\n <title>{escape(description)}</title>{svg[end:]}"


def _first_lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _leaders(pairs: list[tuple[str, float]], unit: str) -> str:
    """The first three of `pairs` in words: "A with 1,200 plays, then B (900) and C (450)"."""
    (label, value), rest = pairs[0], pairs[1:3]
    text = f"{label} with {_amount(value, unit)}"
    if rest:
        then = [f"{name} ({_thousands(amount)})" for name, amount in rest]
        text += ", then " + " and ".join(then)
    return text


def _axes(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=FIGSIZE, layout="constrained")
    ax = figure.add_subplot()
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return figure, ax


def _no_data(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(
        0.5, 0.5, "No data", transform=ax.transAxes, ha="center", va="center", color=MUTED,
        fontsize=12,
    )  # fmt: skip


def _thousands(value: float, _position: int | None = None) -> str:
    """A count in full for bar labels: 12,345."""
    return f"{value:,.0f}"


def _compact(value: float, _position: int | None = None) -> str:
    """A tick label that stays short: 950, 12k, 1.5M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _horizontal_bars(ax: Axes, labels: list[str], values: list[float]) -> None:
    """Bars largest on top, each with its value; thin bars even when there are few."""
    positions = np.arange(len(values))
    bars = ax.barh(positions, values, color=ACCENT, height=0.7)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_ylim(max(len(values), 5) - 0.5, -0.5)
    ax.bar_label(bars, labels=[_thousands(v) for v in values], padding=3, fontsize=7)
    ax.set_xlim(0, max(values) * 1.18 or 1)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(_compact))
    ax.tick_params(axis="y", length=0)


def _short(label: object) -> str:
    text = "" if label is None else str(label)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


@_as_svg
def lorenz_chart(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    gini: float,
    *,
    title: str = "Concentration of plays (Lorenz curve)",
    items: str = "songs",
) -> tuple[Figure, str]:
    """The Lorenz curve (x = share of items, ascending by plays; y = share of plays).

    The dashed diagonal is perfect equality; the further the curve sags below it, the more
    the plays concentrate on a few items. The Gini coefficient is printed on the chart.
    """
    figure, ax = _axes(title, f"share of {items}, least played first", "share of plays")
    what = (
        f"Line chart (a Lorenz curve) of the share of plays against the share of {items}, "
        "least played first"
    )
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size == 0 or x.size != y.size:
        _no_data(ax)
        return figure, f"{what}: no data."
    ax.plot([0, 1], [0, 1], linestyle="--", color=MUTED, linewidth=1, label="all equal")
    ax.plot(x, y, color=ACCENT, linewidth=2, label="actual")
    ax.fill_between(x, y, x, color=ACCENT, alpha=0.12, linewidth=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.grid(color=GRID, linewidth=0.6)
    ax.legend(loc="upper left", frameon=False)
    ax.text(
        0.62, 0.2, f"Gini {gini:.2f}", transform=ax.transAxes, color=ACCENT, fontsize=12,
        fontweight="bold",
    )  # fmt: skip
    top_share = 1 - float(np.interp(0.9, x, y))  # the curve's rise over its last tenth
    return figure, (
        f"{what}, below the diagonal of equal shares: Gini {gini:.2f}; the most played 10% "
        f"of {items} take {top_share:.0%} of the plays."
    )


@_as_svg
def log_log_histogram_chart(
    hist: pd.DataFrame, title: str, xlabel: str, *, counted: str = "items"
) -> tuple[Figure, str]:
    """A powers-of-2 histogram (columns low, high, count) on log-log axes; `counted` names
    what the bars count ("listeners" for plays per listener), for the description.

    Each bar spans its bin [low, high); empty bins are left out (log axes have no 0).
    A straight-ish falling line of bars is the heavy tail typical of listening data.
    """
    figure, ax = _axes(title, xlabel, "count")
    what = f"Bar chart of {_first_lower(title)}, on log-log axes with bins doubling in width"
    rows = hist[hist["count"] > 0] if {"low", "high", "count"} <= set(hist.columns) else hist[:0]
    if rows.empty:
        _no_data(ax)
        return figure, f"{what}: no data."
    low = rows["low"].to_numpy(dtype=float)
    high = rows["high"].to_numpy(dtype=float)
    counts = rows["count"].to_numpy(dtype=float)
    floor = 0.5  # log axes have no 0: bars rise from just under a count of 1
    ax.bar(
        low, counts - floor, width=high - low, align="edge", bottom=floor, color=ACCENT,
        edgecolor="white", linewidth=0.8,
    )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low.min(), high.max())
    ax.set_ylim(floor, counts.max() * 2)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10))
        axis.set_major_formatter(FuncFormatter(_compact))
        axis.set_minor_formatter(NullFormatter())
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    return figure, f"{what}: {_histogram_summary(low, high, counts, xlabel, counted)}"


def _amount(value: float, unit: str) -> str:
    """A count with its unit, singular for one: "1 play", "1,200 plays"."""
    return f"{_thousands(value)} {unit.removesuffix('s') if value == 1 else unit}"


def _bin_label(low: float, high: float, unit: str) -> str:
    """A bin of whole numbers [low, high) as it reads: "1 play", "8 to 15 plays"."""
    if high - low <= 1:
        return _amount(low, unit)
    return f"{_thousands(low)} to {_thousands(high - 1)} {unit}"


def _histogram_summary(
    low: np.ndarray, high: np.ndarray, counts: np.ndarray, unit: str, counted: str
) -> str:
    """Where the middle, the bulk and the tail of a histogram are, in words."""
    middle = int(np.searchsorted(np.cumsum(counts), counts.sum() / 2))
    fullest, last = int(np.argmax(counts)), len(counts) - 1
    shape = (
        f"most {counted} have few {unit} and a few have very many"
        if fullest == 0 and last > 0
        else f"the counts peak at {_bin_label(low[fullest], high[fullest], unit)}"
    )
    return (
        f"{shape}; half of the {counted} have under {_thousands(high[middle])} {unit}, "
        f"the fullest bin is {_bin_label(low[fullest], high[fullest], unit)} "
        f"({_amount(counts[fullest], counted)}) and the highest "
        f"{_bin_label(low[last], high[last], unit)} ({_amount(counts[last], counted)})."
    )


@_as_svg
def top_items_chart(
    items: list[dict], label_key: str, value_key: str, title: str
) -> tuple[Figure, str]:
    """Horizontal bars of the top 15 items by `value_key`, largest on top, values printed."""
    unit = value_key.replace("_", " ")
    figure, ax = _axes(title, unit, "")
    what = f"Horizontal bar chart of the {_first_lower(title)}"
    rows = [row for row in items or [] if pd.notna(row.get(value_key))]
    rows = sorted(rows, key=lambda row: float(row[value_key]), reverse=True)[:TOP_ITEMS]
    if not rows:
        _no_data(ax)
        return figure, f"{what}: no data."
    labels = [_short(row.get(label_key)) for row in rows]
    values = [float(row[value_key]) for row in rows]
    _horizontal_bars(ax, labels, values)
    leaders = _leaders(list(zip(labels, values, strict=True)), unit)
    return figure, f"{what}, {len(rows)} shown, largest first: {leaders}."


@_as_svg
def hour_weekday_heatmap(matrix: list[list[int]]) -> tuple[Figure, str]:
    """Plays by weekday (rows, Monday on top) and UTC hour (columns 0..23), with a colour bar."""
    figure, ax = _axes("Plays by weekday and hour (UTC)", "hour of day (UTC)", "")
    what = (
        "Heat map of plays by weekday (rows, Monday first) and hour of day (UTC, columns), "
        "darker for more plays"
    )
    values = np.asarray(matrix if matrix else [], dtype=float)
    if values.shape != (7, 24) or not np.nansum(values) > 0:
        _no_data(ax)
        return figure, f"{what}: no data."
    mesh = ax.pcolormesh(
        np.arange(25), np.arange(8), values, cmap=HEATMAP_COLOURS, edgecolors="white",
        linewidth=0.5, vmin=0,
    )  # fmt: skip
    ax.set_xticks(np.arange(0, 24, 3) + 0.5, [f"{hour:02d}" for hour in range(0, 24, 3)])
    ax.set_yticks(np.arange(7) + 0.5, WEEKDAY_LABELS)
    ax.invert_yaxis()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    colour_bar = figure.colorbar(mesh, ax=ax, pad=0.02, aspect=20)
    colour_bar.set_label("plays")
    colour_bar.formatter = FuncFormatter(_compact)
    colour_bar.outline.set_visible(False)
    day, hour = np.unravel_index(int(np.nanargmax(values)), values.shape)
    busiest_day = int(np.nanargmax(np.nansum(values, axis=1)))
    busiest_hour = int(np.nanargmax(np.nansum(values, axis=0)))
    return figure, (
        f"{what}: the busiest cell is {WEEKDAY_NAMES[day]} {hour:02d}:00 "
        f"({_thousands(values[day, hour])} plays); {WEEKDAY_NAMES[busiest_day]} is the busiest "
        f"day and {busiest_hour:02d}:00 the busiest hour."
    )


def _month_locator(first: pd.Timestamp, last: pd.Timestamp) -> DateLocator:
    """Ticks on months, quarters or years, at most about 12 of them whatever the span."""
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months <= 12:
        return MonthLocator()
    if months <= 36:
        return MonthLocator(bymonth=(1, 4, 7, 10))
    return YearLocator(base=math.ceil(months / 12 / 10))


@_as_svg
def monthly_activity_chart(monthly: list[dict]) -> tuple[Figure, str]:
    """Plays per calendar month ({"month": "2024-05", "plays": n} rows), as a filled line."""
    figure, ax = _axes("Plays per month", "month", "plays")
    what = "Line chart of plays per month"
    frame = pd.DataFrame.from_records(list(monthly or []), columns=["month", "plays"])
    frame["month"] = pd.to_datetime(frame["month"], format="%Y-%m", errors="coerce")
    frame["plays"] = pd.to_numeric(frame["plays"], errors="coerce")
    frame = frame.dropna().sort_values("month")
    if frame.empty:
        _no_data(ax)
        return figure, f"{what}: no data."
    months = frame["month"].to_numpy()
    plays = frame["plays"].to_numpy(dtype=float)
    marker = "o" if len(frame) <= 36 else None
    size = 6 if len(frame) == 1 else 3
    ax.plot(months, plays, color=ACCENT, linewidth=1.8, marker=marker, markersize=size)
    ax.fill_between(months, plays, color=ACCENT, alpha=0.12, linewidth=0)
    locator = _month_locator(frame["month"].iloc[0], frame["month"].iloc[-1])
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_ylim(0, max(plays.max() * 1.1, 1))
    ax.yaxis.set_major_formatter(FuncFormatter(_compact))
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    return figure, f"{what}{_monthly_summary(frame)}"


def _monthly_summary(frame: pd.DataFrame) -> str:
    """The span, the busiest and the quietest month of a (month, plays) frame, in words."""
    first, last = frame["month"].iloc[0], frame["month"].iloc[-1]
    if len(frame) == 1:
        return f": one month, {first:%B %Y}, with {_thousands(frame['plays'].iloc[0])} plays."
    peak, low = frame.loc[frame["plays"].idxmax()], frame.loc[frame["plays"].idxmin()]
    return (
        f", {first:%B %Y} to {last:%B %Y}: most in {peak['month']:%B %Y} "
        f"({_thousands(peak['plays'])} plays), fewest in {low['month']:%B %Y} "
        f"({_thousands(low['plays'])})."
    )


@_as_svg
def rules_chart(rules: dict[str, int]) -> tuple[Figure, str]:
    """Rows dropped or touched per cleaning rule (horizontal bars, largest on top)."""
    figure, ax = _axes("Rows dropped or touched per cleaning rule", "rows", "")
    what = "Horizontal bar chart of the rows dropped or touched per cleaning rule"
    counts = sorted(
        ((str(rule), float(rows)) for rule, rows in (rules or {}).items() if rows and rows > 0),
        key=lambda item: item[1],
        reverse=True,
    )
    if not counts:
        _no_data(ax)
        return figure, f"{what}: no data, no rule dropped or touched a row."
    _horizontal_bars(ax, [_short(rule) for rule, _ in counts], [rows for _, rows in counts])
    return figure, (
        f"{what}, {_amount(len(counts), 'rules')}, largest first: {_leaders(counts, 'rows')}."
    )
