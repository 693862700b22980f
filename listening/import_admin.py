"""The import batches in the admin: the upload form (what `import_listens` takes), and each
batch's page, live while it runs, with its report, warnings and files (served by the staff
views of web/import_files.py, never as public media)."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from musicsite.jobs import JobStatus

from . import tasks
from .exploration.report import exploration_report_create
from .ingest.formats import FORMAT_NAMES
from .ingest.formats.options import earliest_play_text, parse_column_mapping, parse_earliest_play
from .listen_import import listen_import_cancel, listen_import_live_progress
from .listen_upload import UploadRejected, listen_upload_files, listen_upload_stage
from .models import ImportBatch, Listener


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
    since = forms.DateField(
        required=False,
        label="Plays since",
        help_text="Plays before this date are dropped as time_out_of_range (blank: the "
        "setting LISTENING_EARLIEST_PLAY, 2002-01-01). Older logs and rating files: e.g. "
        "1990-01-01 (--since).",
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

    def clean_since(self):
        since = self.cleaned_data["since"]
        try:
            return earliest_play_text(parse_earliest_play(since)) if since else None
        except ValueError as error:
            raise forms.ValidationError(str(error).removeprefix("since: ")) from error

    def clean(self):
        cleaned = super().clean()
        self.staged = None
        if self.errors:
            return cleaned
        options = {
            key: cleaned[key]
            for key in ("columns", "listener", "source", "since", "chunk_rows", "dry_run")
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
        "status_shown",
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
        "warnings_shown",
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
        "uploaded_files",
        "options",
        "created_by",
    ]
    # While it runs, its page reloads itself this often (a meta refresh: no script, and
    # nothing to lose, every field being read-only).
    refresh_seconds = 3

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "upload",
                "format",
                "songs",
                "columns",
                "listener",
                "source",
                "since",
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

    def response_add(self, request, obj, post_url_continue=None):
        """Say what is true now: the import is queued (not "added successfully", whatever
        it will find), and go to its page, which shows how it goes."""
        url = reverse("admin:listening_importbatch_change", args=[obj.pk])
        self.message_user(
            request,
            format_html(
                'Import <a href="{}">{}</a> of {} is queued; this page shows its status as it'
                " runs.",
                url,
                obj.pk,
                obj.source_name,
            ),
            messages.INFO,
        )
        return HttpResponseRedirect(url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, object_id)
        running = batch is not None and not batch.is_finished
        extra_context = {
            **(extra_context or {}),
            "refresh_seconds": running and self.refresh_seconds,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="status", ordering="status")
    def status_shown(self, batch: ImportBatch) -> str:
        if batch.report.get("warnings"):
            return f"{batch.get_status_display()}, with a warning"
        return batch.get_status_display()

    @admin.display(description="warnings")
    def warnings_shown(self, batch: ImportBatch) -> str:
        shown = batch.report.get("warnings") or []
        if not shown:
            return "none"
        return format_html_join("", "<p><strong>{}</strong></p>", ((text,) for text in shown))

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
        url = reverse("import-rejected", args=[batch.pk])
        return format_html('<a href="{}">download ({} rows, CSV)</a>', url, batch.rows_rejected)

    @admin.display(description="uploaded files")
    def uploaded_files(self, batch: ImportBatch) -> str:
        files = listen_upload_files(batch)
        if not files:
            return "none (a file on the server: see source name)"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("import-upload", args=[batch.pk, number]), path.name)
                for number, path in enumerate(files)
            ),
        )

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
