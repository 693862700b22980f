from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from catalog.admin_tools import BigTableAdmin
from musicsite.jobs import JobStatus

from . import algorithms, pipeline, publishing, tasks
from .models import (
    Evaluation,
    ListenerRecommendations,
    ModelRun,
    PendingRefresh,
    PipelineRun,
    RecommendationSet,
    SimilarItems,
)
from .training import DEFAULT_WEIGHTING


class ModelRunForm(forms.ModelForm):
    """Start a training run: the algorithm, its level and parameters (checked before queuing)."""

    algorithm = forms.ChoiceField(choices=[])
    params = forms.JSONField(required=False, initial=dict, help_text='e.g. {"factors": 64}')
    weighting_scheme = forms.ChoiceField(
        choices=[(name, name) for name in ("log", "raw", "bm25")], initial="log"
    )

    class Meta:
        model = ModelRun
        fields = ["algorithm", "level", "params", "seed"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "algorithm" in self.fields:  # the add form; a saved run is read-only
            names = sorted(algorithms.ALGORITHMS)
            self.fields["algorithm"].choices = [(name, name) for name in names]

    def clean(self):
        cleaned = super().clean()
        if "algorithm" not in self.fields:
            return cleaned
        try:
            algorithms.create(
                cleaned.get("algorithm", ""),
                seed=cleaned.get("seed") or 0,
                **(cleaned.get("params") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    form = ModelRunForm
    list_display = [
        "id",
        "algorithm",
        "level",
        "status",
        "progress_shown",
        "n_listeners",
        "n_items",
        "fit_seconds",
        "search",
        "created_at",
    ]
    list_filter = ["status", "algorithm", "level"]
    search_fields = ["=search", "algorithm"]
    readonly_fields = [
        "algorithm",
        "level",
        "params",
        "seed",
        "weighting",
        "status",
        "progress_shown",
        "snapshot",
        "n_listeners",
        "n_items",
        "timings",
        "artifact",
        "held_out",
        "search",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "created_by",
    ]

    @admin.display(description="held-out figures")
    def held_out(self, obj: ModelRun):
        """The run's `metrics` for people: where they come from, then each figure with its
        95% interval, the choosing metric first."""
        figures, held_out = obj.metrics or {}, obj.held_out_rows()
        if not held_out:
            return "none (not trained for an evaluation)"
        chosen = figures.get("metric")
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            (
                (
                    row["name"],
                    f"{row['value']:.4f}",
                    f"{row['ci'][0]:.4f} to {row['ci'][1]:.4f}" if row["ci"] else "",
                )
                for row in held_out
            ),
        )
        url = reverse("admin:recommender_evaluation_change", args=[figures["evaluation"]])
        return format_html(
            '<p>From <a href="{}">evaluation {}</a>, {} split, chosen by {}.</p>'
            "<table><tr><th>metric</th><th>value</th><th>95% interval</th></tr>{}</table>",
            url,
            figures["evaluation"],
            figures.get("split") or "?",
            chosen or "?",
            rows,
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["algorithm", "level", "params", "seed", "weighting_scheme"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        obj.params = form.cleaned_data.get("params") or {}
        obj.weighting = {**DEFAULT_WEIGHTING, "scheme": form.cleaned_data["weighting_scheme"]}
        obj.created_by = request.user
        super().save_model(request, obj, form, change)
        tasks.model_run_train.delay_on_commit(obj.pk)

    actions = ["publish"]

    @admin.action(description="Publish the selected run (as a background task)")
    def publish(self, request, queryset):
        runs = list(queryset)
        if len(runs) != 1 or runs[0].status != JobStatus.SUCCEEDED:
            self.message_user(
                request, "Select exactly one trained (succeeded) run to publish.", messages.ERROR
            )
            return
        tasks.recommendation_set_publish.delay_on_commit(runs[0].pk)
        self.message_user(
            request,
            f"Publishing run {runs[0].pk}: a new recommendation set is being built and will "
            "become active when it is complete.",
            messages.SUCCESS,
        )

    @admin.display(description="progress")
    def progress_shown(self, run: ModelRun) -> str:
        return f"{run.progress:.0%}"

    @admin.display(description="fit (s)")
    def fit_seconds(self, run: ModelRun) -> str:
        seconds = run.timings.get("fit_seconds")
        return f"{seconds:.1f}" if seconds is not None else ""


@admin.register(RecommendationSet)
class RecommendationSetAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "run",
        "status",
        "listeners_count",
        "top_n",
        "created_at",
        "activated_at",
        "retired_at",
    ]
    list_select_related = ["run"]
    list_filter = ["status"]
    readonly_fields = [
        "run",
        "status",
        "top_n",
        "listeners_count",
        "progress",
        "timings",
        "created_at",
        "activated_at",
        "retired_at",
        "error",
    ]
    exclude = ["charts"]
    actions = ["roll_back"]

    def has_add_permission(self, request) -> bool:
        return False  # sets are made by publishing a model run

    @admin.action(description="Roll back to the previous set")
    def roll_back(self, request, queryset):
        try:
            previous = publishing.rollback()
        except publishing.PublishError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request, f"Set {previous.pk} (run {previous.run_id}) is active again.", messages.SUCCESS
        )


@admin.register(ListenerRecommendations)
class ListenerRecommendationsAdmin(BigTableAdmin):
    list_display = ["id", "listener", "level", "recommendation_set", "is_fallback", "refreshed_at"]
    list_select_related = ["listener", "recommendation_set__run"]
    list_filter = ["level", "is_fallback"]
    search_fields = ["=listener__external_id"]
    raw_id_fields = ["recommendation_set", "listener"]


@admin.register(SimilarItems)
class SimilarItemsAdmin(BigTableAdmin):
    list_display = ["id", "level", "item_id", "recommendation_set"]
    list_select_related = ["recommendation_set__run"]
    list_filter = ["level"]
    search_fields = ["=item_id"]
    raw_id_fields = ["recommendation_set"]


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ["id", "level", "status", "metric", "candidate", "created_at", "page"]
    list_filter = ["status", "level"]
    exclude = ["results", "charts"]  # read on the evaluation's page
    readonly_fields = [
        "page",
        "level",
        "algorithms",
        "protocol",
        "metric",
        "candidate",
        "status",
        "progress",
        "snapshot",
        "created_at",
        "started_at",
        "finished_at",
        "compute_seconds",
        "error",
        "created_by",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("results", "charts")

    def has_add_permission(self, request) -> bool:
        return False  # started from the evaluations page (a form) or the evaluate command

    @admin.display(description="evaluation page")
    def page(self, evaluation: Evaluation) -> str:
        return format_html(
            '<a href="{}">open</a>', reverse("evaluation-detail", args=[evaluation.pk])
        )


@admin.register(PipelineRun)
class PipelineRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "progress_shown",
        "algorithms",
        "level",
        "decision",
        "created_at",
    ]
    list_filter = ["status", "level"]
    readonly_fields = [
        "status",
        "progress",
        "algorithms",
        "level",
        "metric",
        "steps_shown",
        "decision",
        "evaluation",
        "published_set",
        "heartbeat_at",
        "cancel_requested",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "created_by",
    ]
    exclude = ["steps", "lock"]
    actions = ["cancel"]

    def has_add_permission(self, request) -> bool:
        return False  # started with run_pipeline, on the schedule, or from the dashboard

    @admin.display(description="progress")
    def progress_shown(self, run: PipelineRun) -> str:
        return f"{run.progress:.0%}"

    @admin.display(description="steps")
    def steps_shown(self, run: PipelineRun) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    step["name"],
                    step["status"],
                    "" if step["progress"] is None else f"{step['progress']:.0%}",
                    step["seconds"] or "",
                    step["detail"],
                )
                for step in pipeline.step_rows(run)
            ),
        )
        return format_html(
            "<table><tr><th>step</th><th>status</th><th>progress</th><th>seconds</th>"
            "<th>figures / error</th></tr>{}</table>",
            rows,
        )

    @admin.action(description="Cancel (stops before its next step)")
    def cancel(self, request, queryset):
        live = queryset.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        count = live.update(cancel_requested=True)
        self.message_user(request, f"{count} pipeline(s) will stop before their next step.")


@admin.register(PendingRefresh)
class PendingRefreshAdmin(BigTableAdmin):
    """Refreshes kept while the broker was down, until `refresh_pending` sends them: shown,
    and deletable (a listener's refresh given up), never written by hand."""

    list_display = ["listener", "requested_at"]
    list_select_related = ["listener"]
    raw_id_fields = ["listener"]
    readonly_fields = ["listener", "requested_at"]
    ordering = ["requested_at"]

    def has_add_permission(self, request) -> bool:
        return False  # kept by `tasks._send_refresh` when a refresh cannot be queued

    def has_change_permission(self, request, obj=None) -> bool:
        return False
