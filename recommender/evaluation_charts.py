"""Charts of an evaluation: metrics against k, accuracy against coverage and novelty (SVG).

Drawn in the house style of the exploration charts (no pyplot state), each named by a
description of what it shows, drawn from the same results (the SVG's `aria-label`). Outside
the ML core (recommender/evaluation/), which imports nothing of ours beyond itself.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from listening.exploration.charts import ACCENT, MUTED, _as_svg, _axes, _no_data

PALETTE = (ACCENT, "#d08a1e", "#2a8c82", "#b8325a", "#3d6fb6", MUTED, "#6d8f2c", "#8c5a2a")


def _figure(value: float) -> str:
    return f"{value:.3g}"


@_as_svg
def metric_by_k_chart(
    results: Mapping[str, Mapping[str, Any]], metric: str, ks: Sequence[int]
) -> tuple[Figure, str]:
    """One line per model: `metric`@k for every k."""
    fig, ax = _axes(f"{metric} against k", "k", metric)
    what = f"Line chart of {metric} against k ({', '.join(map(str, ks))}), one line per model"
    if not results or len(ks) < 1:
        _no_data(ax)
        return fig, f"{what}: no data."
    at_last_k = {}
    for index, (label, result) in enumerate(results.items()):
        values = [result.get(f"{metric}@{k}") for k in ks]
        if all(value is not None for value in values):
            ax.plot(ks, values, marker="o", color=PALETTE[index % len(PALETTE)], label=label)
            at_last_k[label] = values[-1]
    if not at_last_k:  # no line drawn: say so rather than leave an empty frame
        _no_data(ax)
        return fig, f"{what}: no data, no model has {metric} at every k."
    ax.set_xticks(list(ks))
    ax.legend(frameon=False, fontsize=8)
    ranked = sorted(at_last_k.items(), key=lambda item: item[1], reverse=True)
    (best, high), (worst, low) = ranked[0], ranked[-1]
    summary = f"at k = {ks[-1]}, {best} is highest ({_figure(high)})"
    if len(ranked) > 1:
        summary += f" and {worst} lowest ({_figure(low)})"
    return fig, f"{what}: {summary}."


@_as_svg
def tradeoff_chart(results: Mapping[str, Mapping[str, Any]], x: str, y: str) -> tuple[Figure, str]:
    """One point per model: accuracy (`y`) against a beyond-accuracy figure (`x`)."""
    fig, ax = _axes(f"{y} against {x}", x, y)
    what = f"Scatter plot of {y} against {x}, one point per model"
    points = [
        (label, result[x], result[y])
        for label, result in results.items()
        if result.get(x) is not None and result.get(y) is not None
    ]
    if not points:
        _no_data(ax)
        return fig, f"{what}: no data."
    for index, (label, x_value, y_value) in enumerate(points):
        ax.scatter([x_value], [y_value], color=PALETTE[index % len(PALETTE)], s=36)
        ax.annotate(
            label, (x_value, y_value), textcoords="offset points", xytext=(4, 4), fontsize=8
        )
    top_y = max(points, key=lambda point: point[2])
    top_x = max(points, key=lambda point: point[1])
    summary = f"{top_y[0]} has the highest {y} ({_figure(top_y[2])}, {x} {_figure(top_y[1])})"
    if top_x is not top_y:
        summary += f"; {top_x[0]} the highest {x} ({_figure(top_x[1])}, {y} {_figure(top_x[2])})"
    return fig, f"{what}: {summary}."
