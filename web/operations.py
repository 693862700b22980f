"""The operations dashboard: what runs, what is live, what failed, and the actions on it."""

from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from listening.charts import CHARTS_KEY
from listening.models import DataSnapshot
from musicsite.jobs import Job, JobStatus
from musicsite.safe_cache import attempt
from recommender import pipeline, publishing, tasks
from recommender.models import ModelRun, PendingRefresh, PipelineRun, RecommendationSet, SetStatus
from web.api.inputs import id_or_none

RECENT = 8


def _queue() -> dict:
    """Tasks waiting in the broker and running on workers (None where unknown)."""
    from django.conf import settings

    from musicsite.celery import app

    missed = PendingRefresh.objects.count()
    if not settings.REDIS_URL:
        return {"waiting": 0, "running": [], "workers": "in-process (no broker)", "missed": missed}
    try:
        with app.connection_for_write() as connection:
            waiting = connection.default_channel.client.llen(app.conf.task_default_queue)
        active = app.control.inspect(timeout=0.5).active() or {}
    except Exception as error:  # the broker is down: say so, do not fail the page
        return {
            "waiting": None,
            "running": [],
            "workers": f"unreachable ({error})",
            "missed": missed,
        }
    running = [
        {"worker": worker, "task": task["name"], "args": task.get("args")}
        for worker, listed in active.items()
        for task in listed
    ]
    return {
        "waiting": waiting,
        "running": running,
        "workers": f"{len(active)} answering",
        "missed": missed,
    }


def _active_metrics(run: ModelRun | None) -> dict | None:
    """The active run's held-out figures (`ModelRun.metrics`, written when an evaluation
    chose it), the choosing metric first; None when it was trained outside an evaluation."""
    rows = run.held_out_rows() if run else []
    if not rows:
        return None
    return {
        "metric": run.metrics.get("metric", ""),
        "split": run.metrics.get("split", ""),
        "evaluation": run.metrics.get("evaluation"),
        "rows": rows,
    }


def _recent_errors() -> list[dict]:
    failed = [
        # A publication is not a Job row (its statuses are a set's), but a failed one is a
        # failed job all the same: it has no finish time, so its creation dates it.
        {
            "kind": "publication (recommendation set)",
            "id": failed_set.pk,
            "when": failed_set.created_at,
            "error": failed_set.error.splitlines()[0] if failed_set.error else "",
            "admin": "admin:recommender_recommendationset_change",
        }
        for failed_set in RecommendationSet.objects.filter(status=SetStatus.FAILED)
        .only("pk", "created_at", "error")
        .order_by("-created_at")[:RECENT]
    ]
    for model in apps.get_models():
        if issubclass(model, Job):
            for job in model.objects.filter(status=JobStatus.FAILED).order_by("-finished_at")[
                :RECENT
            ]:
                failed.append(
                    {
                        "kind": model._meta.verbose_name,
                        "id": job.pk,
                        "when": job.finished_at,
                        "error": job.error.splitlines()[0] if job.error else "",
                        "admin": f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                    }
                )
    return sorted(failed, key=lambda row: row["when"] or 0, reverse=True)[:RECENT]


@staff_member_required
def operations(request: HttpRequest) -> HttpResponse:
    active = RecommendationSet.objects.filter(status=SetStatus.ACTIVE).select_related("run").first()
    context = {
        "pipelines": [
            {"run": run, "steps": pipeline.step_rows(run)}
            for run in PipelineRun.objects.order_by("-created_at")[:RECENT]
        ],
        "steps": pipeline.STEPS,
        "active": active,
        "active_metrics": _active_metrics(active.run if active else None),
        "previous": RecommendationSet.objects.filter(status=SetStatus.RETIRED).first(),
        "snapshot": DataSnapshot.objects.order_by("-created_at").first(),
        "queue": _queue(),
        "errors": _recent_errors(),
        "runs": ModelRun.objects.filter(status=JobStatus.SUCCEEDED).order_by("-pk")[:RECENT],
        "charts_cached": attempt("get", CHARTS_KEY) is not None,
    }
    return render(request, "recommender/operations.html", context)


class OperationForm(forms.Form):
    """An action of the dashboard; `run` (a finished training run) for "publish"."""

    action = forms.ChoiceField(
        choices=[(name, name) for name in ("run-pipeline", "publish", "roll-back")],
        error_messages={
            "invalid_choice": "Unknown action: choose run-pipeline, publish or roll-back."
        },
    )
    run = forms.ModelChoiceField(
        queryset=ModelRun.objects.filter(status=JobStatus.SUCCEEDED),
        required=False,
        # Never the value itself in the message: it is shown back on the page.
        error_messages={"invalid_choice": "There is no finished training run with that id."},
    )

    def clean(self):
        data = super().clean()
        if data.get("action") == "publish" and data.get("run") is None and not self.errors:
            raise forms.ValidationError("Publish needs the id of a finished training run.")
        return data


def _bounded(value: str) -> str:
    """The run id as the form may look it up: a number the id column cannot hold names no
    run (the ORM would fail on it), so it becomes one that matches nothing."""
    return value if id_or_none(value.strip()) is not None else ("0" if value else "")


@staff_member_required
@require_POST
def operations_action(request: HttpRequest) -> HttpResponse:
    data = request.POST.copy()
    data["run"] = _bounded(data.get("run", ""))
    form = OperationForm(data)
    if not form.is_valid():
        messages.error(request, next(iter(form.errors.values()))[0])
        return redirect("operations")
    action = form.cleaned_data["action"]
    try:
        if action == "run-pipeline":
            run = pipeline.pipeline_create(created_by=request.user)
            tasks.pipeline_run.delay_on_commit(run.pk)
            messages.success(request, f"Pipeline {run.pk} queued.")
        elif action == "publish":
            run_id = form.cleaned_data["run"].pk
            tasks.recommendation_set_publish.delay_on_commit(run_id)
            messages.success(request, f"Publishing run {run_id}.")
        else:
            previous = publishing.rollback()
            messages.success(request, f"Set {previous.pk} is active again.")
    except (pipeline.PipelineBusy, publishing.PublishError, ValueError) as error:
        messages.error(request, str(error))
    return redirect("operations")
