from django import forms
from django.contrib import admin, messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html

from catalog.admin_tools import BigTableAdmin
from musicsite.jobs import JobStatus

from . import tasks
from .exploration.report import exploration_report_create
from .ingest.formats import FORMAT_NAMES
from .ingest.formats.options import parse_column_mapping
from .listen_import import listen_import_cancel, listen_import_live_progress
from .listen_upload import UploadRejected, listen_upload_stage
from .models import (
    DataSnapshot,
    ExplorationReport,
    Feedback,
    ImportBatch,
    Listen,
    Listener,
    Skip,
    SubmittedListen,
)


@admin.register(Listener)
class ListenerAdmin(BigTableAdmin):
    list_display = ["__str__", "source", "external_id", "user", "is_flagged", "created_at"]
    list_select_related = ["user"]
    list_filter = ["source", "is_flagged"]
    # Exact matches only: the unique (external_id, source) index answers them.
    search_fields = ["=external_id", "=user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Listen)
class ListenAdmin(BigTableAdmin):
    list_display = ["id", "listener", "song", "artist", "played_at", "play_count", "batch"]
    list_select_related = ["listener", "song", "artist", "batch"]
    list_filter = [("played_at", admin.EmptyFieldListFilter)]
    search_fields = ["=listener__external_id"]
    raw_id_fields = ["listener", "song", "artist", "batch"]
    ordering = ["-id"]


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe): a list of uploaded files."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item]


class ImportBatchForm(forms.ModelForm):
    """Upload what `import_listens` reads, with its options; the import fills in the rest."""

    upload = MultipleFileField(
        label="Files",
        help_text=(
            "One file; or a dataset's files together (HetRec: user_artists.dat and artists.dat;"
            " Taste Profile: the triplets and unique_tracks.txt); or a .zip or .tar.gz of them."
        ),
    )
    format = forms.ChoiceField(
        choices=[("", "Detect from content"), *((name, name) for name in FORMAT_NAMES)],
        required=False,
    )
    songs = forms.FileField(
        required=False,
        label="Song metadata",
        help_text="Taste Profile only: unique_tracks.txt, or a CSV with the header "
        "song_id,title,release,artist_name,year (--songs).",
    )
    columns = forms.CharField(
        required=False,
        max_length=500,
        help_text="Generic CSV/TSV only: user=...,song=...,artist=...,plays=...,time=...",
    )
    listener = forms.CharField(
        required=False,
        max_length=128,
        help_text="Whose history a single-person export (Spotify, ListenBrainz) is.",
    )
    source = forms.CharField(
        required=False,
        max_length=Listener._meta.get_field("source").max_length,
        help_text="Namespace of the listeners' ids (default: the format), as --source.",
    )
    chunk_rows = forms.IntegerField(
        required=False, min_value=1, max_value=5_000_000, help_text="Rows parsed at a time."
    )
    dry_run = forms.BooleanField(
        required=False, help_text="Clean and report, then roll back: nothing is saved."
    )

    class Meta:
        model = ImportBatch
        fields = ["format"]

    def clean_columns(self):
        text = self.cleaned_data["columns"]
        try:
            return parse_column_mapping(text) if text else None
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error

    def clean(self):
        cleaned = super().clean()
        self.staged = None
        if self.errors:
            return cleaned
        options = {
            key: cleaned[key]
            for key in ("columns", "listener", "source", "chunk_rows", "dry_run")
            if cleaned.get(key)
        }
        try:
            # Stored and read as far as the first rows now, so what is wrong is said here.
            self.staged = listen_upload_stage(
                files=cleaned["upload"],
                songs=cleaned.get("songs"),
                format=cleaned.get("format") or "",
                options=options,
            )
        except UploadRejected as error:
            raise forms.ValidationError(str(error)) from None
        return cleaned


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    form = ImportBatchForm
    list_display = [
        "id",
        "source_name",
        "format",
        "status",
        "progress_shown",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "format"]
    search_fields = ["source_name"]
    actions = ["cancel_imports", "explore_data"]
    readonly_fields = [
        "explore",
        "source_name",
        "format",
        "status",
        "progress_shown",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "report_shown",
        "rejected_rows",
        "options",
        "created_by",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "upload",
                "format",
                "songs",
                "columns",
                "listener",
                "source",
                "chunk_rows",
                "dry_run",
            ]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        staged = form.staged
        # Stored already, companions beside it: the field takes its name, not the files.
        obj.upload = staged.plays
        obj.source_name = staged.source_name
        obj.options = staged.options
        obj.created_by = request.user
        super().save_model(request, obj, form, change)
        tasks.listen_import_run.delay_on_commit(obj.pk)

    @admin.display(description="progress")
    def progress_shown(self, batch: ImportBatch) -> str:
        return f"{listen_import_live_progress(batch):.0%}"

    @admin.display(description="cleaning report")
    def report_shown(self, batch: ImportBatch) -> str:
        return render_to_string("admin/listening/cleaning_report.html", {"report": batch.report})

    @admin.display(description="rejected rows")
    def rejected_rows(self, batch: ImportBatch) -> str:
        if not batch.rejected_file:
            return "none"
        url = reverse("admin:listening_importbatch_rejected", args=[batch.pk])
        return format_html('<a href="{}">download ({} rows, CSV)</a>', url, batch.rows_rejected)

    @admin.display(description="explore this data")
    def explore(self, batch: ImportBatch) -> str:
        if batch.status != JobStatus.SUCCEEDED:
            return "when the import has succeeded"
        return format_html(
            '<a href="{}">Explore this data</a> (the exploration reports, with a button to'
            " run a new one)",
            reverse("exploration-list"),
        )

    @admin.action(description="Explore the data these imports built")
    def explore_data(self, request, queryset):
        report = exploration_report_create(created_by=request.user)
        tasks.exploration_report_run.delay_on_commit(report.pk)
        self.message_user(
            request,
            format_html(
                'Exploration report <a href="{}">{}</a> is queued.',
                reverse("exploration-detail", args=[report.pk]),
                report.pk,
            ),
            messages.INFO,
        )

    @admin.action(description="Cancel the selected imports")
    def cancel_imports(self, request, queryset):
        for batch in queryset:
            listen_import_cancel(batch=batch)
        self.message_user(request, "Asked the selected imports to stop.", messages.INFO)

    def get_urls(self):
        urls = [
            path(
                "<int:batch_id>/rejected/",
                self.admin_site.admin_view(self.rejected_download),
                name="listening_importbatch_rejected",
            )
        ]
        return urls + super().get_urls()

    def rejected_download(self, request, batch_id: int):
        batch = get_object_or_404(ImportBatch, pk=batch_id)
        if not self.has_view_permission(request, batch) or not batch.rejected_file:
            raise Http404("No rejected rows for this import.")
        return FileResponse(
            batch.rejected_file.open("rb"),
            as_attachment=True,
            filename=f"import-{batch.pk}-rejected.csv",
        )


@admin.register(DataSnapshot)
class DataSnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "listens",
        "play_total",
        "listeners",
        "songs",
        "artists",
        "newest_played_at",
    ]
    readonly_fields = [field.name for field in DataSnapshot._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # a snapshot is measured, never typed in


@admin.register(Skip)
class SkipAdmin(BigTableAdmin):
    list_display = ["id", "listener", "song", "skipped_at", "ms_played", "batch"]
    list_select_related = ["listener", "song", "batch"]
    search_fields = ["=listener__external_id"]
    raw_id_fields = ["listener", "song", "batch"]
    ordering = ["-id"]


@admin.register(ExplorationReport)
class ExplorationReportAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "snapshot", "created_at", "compute_seconds", "page"]
    list_select_related = ["snapshot"]
    list_filter = ["status"]
    raw_id_fields = ["snapshot", "created_by"]
    readonly_fields = [
        "page",
        "status",
        "progress",
        "snapshot",
        "created_at",
        "started_at",
        "finished_at",
        "compute_seconds",
        "error",
        "findings",
        "created_by",
    ]
    exclude = ["figures", "charts"]  # shown, readable, on the report's page

    def get_queryset(self, request):
        return super().get_queryset(request).defer("figures", "charts")

    def has_add_permission(self, request) -> bool:
        return False  # reports are computed: start one from the report pages or an import

    @admin.display(description="report page")
    def page(self, report: ExplorationReport) -> str:
        return format_html('<a href="{}">open</a>', reverse("exploration-detail", args=[report.pk]))


class ReadMostlyAdmin(BigTableAdmin):
    """Rows written by listeners themselves: shown and searched here, never typed in or
    deleted (the services that write them keep their rules and tell the recommender; a
    feedback row deleted here would skip that and linger in the lists)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(ReadMostlyAdmin):
    list_display = ["id", "listener", "kind", "song", "artist", "created_at", "expires_at"]
    list_select_related = ["listener", "song", "artist"]
    list_filter = ["kind", ("expires_at", admin.EmptyFieldListFilter)]
    search_fields = ["=listener__external_id", "=listener__user__username"]
    raw_id_fields = ["listener", "song", "artist"]
    ordering = ["-id"]


@admin.register(SubmittedListen)
class SubmittedListenAdmin(ReadMostlyAdmin):
    list_display = ["id", "listener", "client_id", "listen", "created_at"]
    list_select_related = ["listener", "listen"]
    # Exact matches on the listener's indexed ids only: client ids are unique per listener,
    # and their index starts with the listener, so a search by one alone would scan the table.
    search_fields = ["=listener__external_id", "=listener__user__username"]
    raw_id_fields = ["listener", "listen"]
    ordering = ["-id"]
