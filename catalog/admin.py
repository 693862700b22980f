from django.contrib import admin

from catalog.admin_tools import BigTableAdmin, MatchKeySearchAdmin

from .models import Artist, Release, Song


# Artists and songs number hundreds of thousands: their changelists (and autocompletes) count
# from the planner's estimate or up to a cap, never the whole table (BigTableAdmin).
@admin.register(Artist)
class ArtistAdmin(MatchKeySearchAdmin, BigTableAdmin):
    list_display = ["name", "musicbrainz_id", "spotify_uri", "created_at"]
    search_id_fields = ("spotify_uri",)
    readonly_fields = ["name_key", "created_at"]


@admin.register(Release)
class ReleaseAdmin(MatchKeySearchAdmin, BigTableAdmin):
    list_display = ["title", "artist", "year"]
    list_select_related = ["artist"]
    search_key_field = "title_key"
    search_fields = ["title_key"]
    autocomplete_fields = ["artist"]
    readonly_fields = ["title_key"]


@admin.register(Song)
class SongAdmin(MatchKeySearchAdmin, BigTableAdmin):
    list_display = ["title", "artist", "release", "year", "echonest_id", "spotify_uri"]
    list_select_related = ["artist", "release"]
    search_key_field = "title_key"
    search_id_fields = ("echonest_id", "msd_track_id", "spotify_uri")
    search_fields = ["title_key"]
    autocomplete_fields = ["artist", "release"]
    readonly_fields = ["title_key", "created_at"]
