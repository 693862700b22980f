from django.contrib import admin

from musicsite.admin_tools import BigTableAdmin

from .models import DataSnapshot, ImportBatch, Listen, Listener


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
    list_select_related = ["listener", "song", "artist"]
    list_filter = [("played_at", admin.EmptyFieldListFilter)]
    search_fields = ["=listener__external_id"]
    raw_id_fields = ["listener", "song", "artist", "batch"]
    ordering = ["-id"]


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "source_name",
        "format",
        "status",
        "progress",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "format"]
    search_fields = ["source_name"]
    raw_id_fields = ["created_by"]
    readonly_fields = [
        "status",
        "progress",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "report",
    ]


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
