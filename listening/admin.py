from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from catalog.admin_tools import BigTableAdmin

from . import import_admin  # noqa: F401  (registers the import batches' admin)
from .models import (
    DataSnapshot,
    ExplorationReport,
    Feedback,
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
