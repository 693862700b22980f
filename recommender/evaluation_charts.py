"""Charts of an evaluation: metrics against k, accuracy against coverage and novelty (SVG).

Drawn in the house style of the exploration charts (no pyplot state). Outside the ML core
(recommender/evaluation/), which imports nothing of ours beyond itself.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from listening.exploration.charts import ACCENT, MUTED, _as_svg, _axes, _no_data

PALETTE = (ACCENT, "#d08a1e", "#2a8c82", "#b8325a", "#3d6fb6", MUTED, "#6d8f2c", "#8c5a2a")


@_as_svg
def metric_by_k_chart(
    results: Mapping[str, Mapping[str, Any]], metric: str, ks: Sequence[int]
) -> Figure:
    """One line per model: `metric`@k for every k."""
    fig, ax = _axes(f"{metric} against k", "k", metric)
    if not results or len(ks) < 1:
        _no_data(ax)
        return fig
    for index, (label, result) in enumerate(results.items()):
        values = [result.get(f"{metric}@{k}") for k in ks]
        if all(value is not None for value in values):
            ax.plot(ks, values, marker="o", color=PALETTE[index % len(PALETTE)], label=label)
    ax.set_xticks(list(ks))
    ax.legend(frameon=False, fontsize=8)
    return fig


@_as_svg
def tradeoff_chart(results: Mapping[str, Mapping[str, Any]], x: str, y: str) -> Figure:
    """One point per model: accuracy (`y`) against a beyond-accuracy figure (`x`)."""
    fig, ax = _axes(f"{y} against {x}", x, y)
    points = [
        (label, result[x], result[y])
        for label, result in results.items()
        if result.get(x) is not None and result.get(y) is not None
    ]
    if not points:
        _no_data(ax)
        return fig
    for index, (label, x_value, y_value) in enumerate(points):
        ax.scatter([x_value], [y_value], color=PALETTE[index % len(PALETTE)], s=36)
        ax.annotate(
            label, (x_value, y_value), textcoords="offset points", xytext=(4, 4), fontsize=8
        )
    return fig
