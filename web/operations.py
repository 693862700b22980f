"""The operations dashboard: what runs, what is live, what failed, and the actions on it."""

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


@staff_member_required
@require_POST
def operations_action(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action")
    try:
        if action == "run-pipeline":
            run = pipeline.pipeline_create(created_by=request.user)
            tasks.pipeline_run.delay_on_commit(run.pk)
            messages.success(request, f"Pipeline {run.pk} queued.")
        elif action == "publish":
            run_id = int(request.POST.get("run", "0"))
            tasks.recommendation_set_publish.delay_on_commit(run_id)
            messages.success(request, f"Publishing run {run_id}.")
        elif action == "roll-back":
            previous = publishing.rollback()
            messages.success(request, f"Set {previous.pk} is active again.")
        else:
            messages.error(request, f"Unknown action {action!r}.")
    except (pipeline.PipelineBusy, publishing.PublishError, ValueError) as error:
        messages.error(request, str(error))
    return redirect("operations")
