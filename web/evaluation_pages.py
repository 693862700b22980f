"""Staff pages: model evaluations side by side."""

from datetime import UTC, datetime

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from recommender import algorithms, tasks
from recommender.data import LEVELS
from recommender.evaluation.metrics import RANKING_METRICS, best_model
from recommender.evaluation.protocol import SPLITS, Protocol
from recommender.evaluations import evaluation_create
from recommender.models import Evaluation

SPLIT_LABELS = {
    "auto": "auto (temporal when every listen has a time, else random)",
    "last_n": "last n (each listener's latest items)",
}
# Figures in a model's results that are not metrics to rank models by.
NOT_METRICS = {"n_listeners", "fit_seconds", "score_seconds", "metrics_seconds", "ci_seconds"}


MAX_K = 1_000  # a list longer than any page shows; int() takes any number of digits


class EvaluationForm(forms.Form):
    algorithms = forms.MultipleChoiceField(
        choices=[(name, name) for name in sorted(algorithms.ALGORITHMS)],
        initial=["popularity", "item_knn", "rp3beta", "als", "ease"],
        widget=forms.CheckboxSelectMultiple,
    )
    level = forms.ChoiceField(choices=[(level, level) for level in LEVELS])
    split = forms.ChoiceField(
        choices=[(split, SPLIT_LABELS.get(split, split)) for split in SPLITS], initial="auto"
    )
    last_n = forms.IntegerField(
        min_value=1,
        max_value=1_000,
        initial=1,
        required=False,
        label="items held out per listener (last n)",
    )
    ks = forms.CharField(initial="10,20", label="k values")
    metric = forms.CharField(
        initial="ndcg@10",
        required=False,
        label="candidate chosen by",
        help_text="e.g. ndcg@10, recall@20; NDCG at the first k if left empty",
    )

    def clean_ks(self) -> tuple[int, ...]:
        try:
            ks = tuple(int(k) for k in self.cleaned_data["ks"].split(","))
        except ValueError as error:
            raise ValidationError("k values: whole numbers separated by commas") from error
        if not ks or min(ks) < 1 or max(ks) > MAX_K:
            raise ValidationError(f"k values must be from 1 to {MAX_K}")
        return ks

    def clean(self) -> dict:
        data = super().clean()
        # The candidate is the highest by this metric, so only a ranking metric at one of
        # the evaluation's own k values can choose it.
        ks = data.get("ks", ())
        if ks and not data.get("metric"):
            data["metric"] = f"ndcg@{ks[0]}"
        if not data.get("last_n"):
            data["last_n"] = 1
        name, _, k = (data.get("metric") or "").partition("@")
        if ks and (
            name not in RANKING_METRICS or not k.isascii() or not k.isdigit() or int(k) not in ks
        ):
            self.add_error(
                "metric",
                f"a ranking metric ({', '.join(RANKING_METRICS)}) at one of the k values, like"
                f" ndcg@{ks[0]}",
            )
        return data


@staff_member_required
def evaluation_list(request: HttpRequest) -> HttpResponse:
    evaluations = Evaluation.objects.defer("results", "charts")
    page = Paginator(evaluations, 20).get_page(request.GET.get("page"))
    return render(
        request, "recommender/evaluation_list.html", {"page": page, "form": EvaluationForm()}
    )


@staff_member_required
def evaluation_detail(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    """The models side by side; `?metric=` picks the metric the best model is chosen by
    (the evaluation's own by default)."""
    evaluation = get_object_or_404(Evaluation, pk=evaluation_id)
    results = evaluation.results.get("results", {})
    k = evaluation.protocol.get("ks", [10])[0]
    choices = metric_choices(results)
    asked = request.GET.get("metric")
    # An evaluation whose own metric is not among its results (`--k 5` with ndcg@10) still
    # shows, by its first metric; only a metric asked for and not there is refused.
    own = evaluation.metric
    metric = asked or (own if own in choices or not choices else choices[0])
    if results and metric not in choices:
        return HttpResponseBadRequest(
            f"Unknown metric {metric[:64]!r}; this evaluation has {', '.join(choices)}.",
            content_type="text/plain",
        )
    best = best_model(results, metric)
    used = evaluation.results.get("protocol", {})
    columns = [name for name in (metric, *_table_metrics(k)) if name in choices]
    columns = list(dict.fromkeys(columns))
    rows = [
        _row(label, result, columns, metric, is_candidate=label == evaluation.candidate)
        | {"is_best": label == best}
        for label, result in results.items()
    ]
    # Every metric the results hold, model by model, each with its interval if it has one.
    every = [
        {
            "metric": name,
            "cells": [
                {"value": result.get(name), "interval": result.get("ci", {}).get(name)}
                for result in results.values()
            ],
        }
        for name in choices
    ]
    return render(
        request,
        "recommender/evaluation_detail.html",
        {
            "evaluation": evaluation,
            "rows": rows,
            "every": every,
            "labels": list(results),
            "k": k,
            "metric": metric,
            "choices": choices,
            "columns": columns,
            "best": best,
            "used": used,
            "cutoff": _time_of(used.get("split_params", {}).get("cutoff")),
        },
    )


def metric_choices(results: dict) -> list[str]:
    """Every metric the results hold, ranking metrics first (by k, then in their order)."""
    names = {
        name
        for result in results.values()
        for name, value in result.items()
        if isinstance(value, int | float) and name not in NOT_METRICS
    }

    def order(name: str) -> tuple:
        metric, _, k = name.partition("@")
        if metric in RANKING_METRICS and k.isdigit():
            return (0, int(k), RANKING_METRICS.index(metric), name)
        return (1, 0, 0, name)

    return sorted(names, key=order)


def _time_of(cutoff) -> datetime | None:
    """A temporal split's cut-off (Unix seconds in the results) as a time to show."""
    return datetime.fromtimestamp(cutoff, tz=UTC) if isinstance(cutoff, int | float) else None


def _table_metrics(k: int) -> list[str]:
    return [*(f"{name}@{k}" for name in RANKING_METRICS), "coverage", "novelty", "mae", "rmse"]


@staff_member_required
@require_POST
def evaluation_start(request: HttpRequest) -> HttpResponse:
    form = EvaluationForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The evaluation was not started: {form.errors.as_text()}")
        return redirect("evaluation-list")
    data = form.cleaned_data
    evaluation = evaluation_create(
        algorithm_params={name: {} for name in data["algorithms"]},
        level=data["level"],
        protocol=Protocol(split=data["split"], ks=data["ks"], last_n=data["last_n"]),
        metric=data["metric"],
        created_by=request.user,
    )
    tasks.evaluation_run.delay_on_commit(evaluation.pk)
    messages.info(request, f"Evaluation {evaluation.pk} is queued.")
    return redirect("evaluation-detail", evaluation_id=evaluation.pk)


def _row(label: str, result: dict, columns: list[str], metric: str, *, is_candidate: bool) -> dict:
    """One model's line of the comparison table: each column's value and, where the
    results have one, its interval; the paired difference from popularity in `metric`."""
    intervals = result.get("ci", {})
    return {
        "label": label,
        "is_candidate": is_candidate,
        "cells": [{"value": result.get(name), "interval": intervals.get(name)} for name in columns],
        "versus": result.get("vs_popularity", {}).get(metric),
        "fit_seconds": result.get("fit_seconds"),
    }
