"""The evaluation's charts: each SVG is named by what it shows, from the results it draws."""

import xml.etree.ElementTree as ET

from recommender.evaluation_charts import metric_by_k_chart, tradeoff_chart

RESULTS = {
    "popularity": {"ndcg@10": 0.05, "ndcg@20": 0.07, "coverage": 0.02, "novelty": 6.1},
    "als": {"ndcg@10": 0.21, "ndcg@20": 0.26, "coverage": 0.31, "novelty": 8.4},
    "item_knn": {"ndcg@10": 0.18, "ndcg@20": 0.22, "coverage": 0.47, "novelty": 9.9},
}


def description(svg: str) -> str:
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    return root.get("aria-label")


def test_the_metric_by_k_chart_says_which_model_is_highest_and_lowest():
    said = description(metric_by_k_chart(RESULTS, "ndcg", (10, 20)))

    assert said == (
        "Line chart of ndcg against k (10, 20), one line per model: at k = 20, als is highest "
        "(0.26) and popularity lowest (0.07)."
    )


def test_the_tradeoff_chart_names_the_most_accurate_and_the_widest_model():
    said = description(tradeoff_chart(RESULTS, "coverage", "ndcg@10"))

    assert said == (
        "Scatter plot of ndcg@10 against coverage, one point per model: als has the highest "
        "ndcg@10 (0.21, coverage 0.31); item_knn the highest coverage (0.47, ndcg@10 0.18)."
    )


def test_charts_without_results_say_so():
    assert description(metric_by_k_chart({}, "ndcg", (10,))).endswith(": no data.")
    assert description(tradeoff_chart({}, "novelty", "ndcg@10")).endswith(": no data.")
    partial = {"als": {"ndcg@10": 0.2}}
    assert description(metric_by_k_chart(partial, "ndcg", (10, 20))).endswith(
        ": no data, no model has ndcg at every k."
    )
