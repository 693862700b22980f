from django.contrib import admin

from musicsite.admin_tools import BigTableAdmin

from .models import ListenerRecommendations, ModelRun, RecommendationSet, SimilarItems


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "algorithm",
        "level",
        "status",
        "progress",
        "snapshot",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "algorithm", "level"]
    raw_id_fields = ["snapshot", "created_by"]
    readonly_fields = ["status", "progress", "created_at", "started_at", "finished_at", "error"]


@admin.register(RecommendationSet)
class RecommendationSetAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "status", "listeners_count", "created_at", "activated_at"]
    list_select_related = ["run"]
    list_filter = ["status"]
    raw_id_fields = ["run"]
    readonly_fields = ["created_at", "activated_at", "retired_at", "progress", "error"]


@admin.register(ListenerRecommendations)
class ListenerRecommendationsAdmin(BigTableAdmin):
    list_display = ["id", "listener", "level", "recommendation_set", "is_fallback", "refreshed_at"]
    list_select_related = ["listener"]
    list_filter = ["level", "is_fallback"]
    search_fields = ["=listener__external_id"]
    raw_id_fields = ["recommendation_set", "listener"]


@admin.register(SimilarItems)
class SimilarItemsAdmin(BigTableAdmin):
    list_display = ["id", "level", "item_id", "recommendation_set"]
    list_filter = ["level"]
    search_fields = ["=item_id"]
    raw_id_fields = ["recommendation_set"]
