from django.contrib import admin, messages

from catalog.admin_tools import BigTableAdmin, MatchKeySearchAdmin

from .curation import MergeError, catalog_approve, catalog_hide, catalog_merge
from .models import Artist, Release, Song


class CurationAdmin(admin.ModelAdmin):
    """Approve, hide and merge: the staff's side of curation (catalog/curation.py)."""

    actions = ["approve", "hide", "merge"]
    curated_ids = ""  # the keyword the curation services take: "artist_ids" or "song_ids"

    @admin.action(description="Approve: make public")
    def approve(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        changed = catalog_approve(**{self.curated_ids: ids})
        self.message_user(request, f"{changed} made public.", messages.SUCCESS)

    @admin.action(description="Hide from everyone")
    def hide(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        changed = catalog_hide(**{self.curated_ids: ids})
        self.message_user(request, f"{changed} hidden.", messages.SUCCESS)

    @admin.action(description="Merge the selected into the oldest of them")
    def merge(self, request, queryset):
        ids = sorted(queryset.values_list("pk", flat=True))
        if len(ids) < 2:
            self.message_user(request, "Select two or more to merge.", messages.WARNING)
            return
        try:
            deleted = catalog_merge(self.model, keep_id=ids[0], duplicate_ids=ids[1:])
        except MergeError as error:
            self.message_user(request, f"Not merged: {error}.", messages.ERROR)
            return
        self.message_user(
            request, f"{deleted} merged into #{ids[0]}, their references moved.", messages.SUCCESS
        )


# Artists and songs number hundreds of thousands: their changelists (and autocompletes) count
# from the planner's estimate or up to a cap, never the whole table (BigTableAdmin).
@admin.register(Artist)
class ArtistAdmin(CurationAdmin, MatchKeySearchAdmin, BigTableAdmin):
    list_display = ["name", "status", "musicbrainz_id", "spotify_uri", "created_at"]
    list_filter = ["status"]
    search_id_fields = ("spotify_uri",)
    readonly_fields = ["name_key", "created_at"]
    raw_id_fields = ["submitted_by"]
    curated_ids = "artist_ids"


@admin.register(Release)
class ReleaseAdmin(MatchKeySearchAdmin, BigTableAdmin):
    list_display = ["title", "artist", "year"]
    list_select_related = ["artist"]
    search_key_field = "title_key"
    search_fields = ["title_key"]
    autocomplete_fields = ["artist"]
    readonly_fields = ["title_key"]


@admin.register(Song)
class SongAdmin(CurationAdmin, MatchKeySearchAdmin, BigTableAdmin):
    list_display = ["title", "artist", "status", "release", "year", "echonest_id", "spotify_uri"]
    list_select_related = ["artist", "release"]
    list_filter = ["status"]
    search_key_field = "title_key"
    search_id_fields = ("echonest_id", "msd_track_id", "spotify_uri")
    search_fields = ["title_key"]
    autocomplete_fields = ["artist", "release"]
    readonly_fields = ["title_key", "created_at"]
    raw_id_fields = ["submitted_by"]
    curated_ids = "song_ids"
