"""Staff pages: model evaluations side by side."""

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from recommender import algorithms, tasks
from recommender.data import LEVELS
from recommender.evaluation.protocol import SPLITS, Protocol
from recommender.evaluations import evaluation_create
from recommender.models import Evaluation


class EvaluationForm(forms.Form):
    algorithms = forms.MultipleChoiceField(
        choices=[(name, name) for name in sorted(algorithms.ALGORITHMS)],
        initial=["popularity", "item_knn", "rp3beta", "als", "ease"],
        widget=forms.CheckboxSelectMultiple,
    )
    level = forms.ChoiceField(choices=[(level, level) for level in LEVELS])
    split = forms.ChoiceField(choices=[(split, split) for split in SPLITS])
    ks = forms.CharField(initial="10,20", label="k values")

    def clean_ks(self) -> tuple[int, ...]:
        try:
            ks = tuple(int(k) for k in self.cleaned_data["ks"].split(","))
        except ValueError as error:
            raise ValidationError("k values: whole numbers separated by commas") from error
        if not ks or min(ks) < 1:
            raise ValidationError("k values must be 1 or more")
        return ks


@staff_member_required
def evaluation_list(request: HttpRequest) -> HttpResponse:
    evaluations = Evaluation.objects.defer("results", "charts")
    page = Paginator(evaluations, 20).get_page(request.GET.get("page"))
    return render(
        request, "recommender/evaluation_list.html", {"page": page, "form": EvaluationForm()}
    )


@staff_member_required
def evaluation_detail(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    evaluation = get_object_or_404(Evaluation, pk=evaluation_id)
    k = evaluation.protocol.get("ks", [10])[0]
    rows = [
        _row(label, result, k, is_candidate=label == evaluation.candidate)
        for label, result in evaluation.results.get("results", {}).items()
    ]
    return render(
        request,
        "recommender/evaluation_detail.html",
        {"evaluation": evaluation, "rows": rows, "k": k},
    )


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
        protocol=Protocol(split=data["split"], ks=data["ks"]),
        created_by=request.user,
    )
    tasks.evaluation_run.delay_on_commit(evaluation.pk)
    messages.info(request, f"Evaluation {evaluation.pk} is queued.")
    return redirect("evaluation-detail", evaluation_id=evaluation.pk)


def _row(label: str, result: dict, k: int, *, is_candidate: bool) -> dict:
    """One model's line of the comparison table, at the primary k."""
    interval = result.get("ci", {}).get(f"ndcg@{k}")
    versus = result.get("vs_popularity", {}).get(f"ndcg@{k}")
    return {
        "label": label,
        "is_candidate": is_candidate,
        **{name: result.get(f"{name}@{k}") for name in ("ndcg", "precision", "recall", "map")},
        "interval": interval,
        "versus": versus,
        "coverage": result.get("coverage"),
        "novelty": result.get("novelty"),
        "fit_seconds": result.get("fit_seconds"),
    }
