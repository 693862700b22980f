"""The listener's suggestions as the API serves them: ready-made, cached, paginated."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.models import AuthToken
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from listening.models import Listener
from web import fast_reads
from web.api.entries import entries

__all__ = ["MyRecommendationsView", "entries"]  # entries: where benchmarks/reasons.py finds it

LEVEL = OpenApiParameter(
    "level", str, enum=["song", "artist"], description="Songs (default) or artists."
)


class SuggestionPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class RecommendationsQuery(serializers.Serializer):
    """The query string (page and page_size are the paginator's, bounded by it)."""

    level = serializers.ChoiceField(
        choices=["song", "artist"],
        default="song",
        error_messages={"invalid_choice": "must be song or artist"},
    )


class MyRecommendationsView(APIView):
    """GET: the signed-in listener's suggestions from the active set, best first.

    Each result has the song (or artist), its score, and its reason: the item of the
    listener's own that led to it, with its `kind` — "played", "loved", or "picked" (an
    artist picked when signing up: `{"artist": ..., "kind": "picked"}`) — null when the model
    cannot say or the item is not the listener's. When the published model ranks artists,
    the song list is made from the artist list, and a song's reason is an artist
    (`{"artist": ...}`): the one of theirs that led to the song's artist, or the song's own
    artist (kind "might_like"). `fallback` is true when the
    list is not the model's own ranking (too little history: what listeners who share the
    listener's few items play, or the charts). `set` and `model` name the publication.
    """

    @extend_schema(tags=["me"], parameters=[LEVEL], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        query = RecommendationsQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        level = query.validated_data["level"]
        listener = Listener.objects.for_user(request.user)
        value = entries(listener.pk, level)
        if value is None:
            raise NotFound("no suggestions have been published yet")
        paginator = SuggestionPagination()
        page = paginator.paginate_queryset(value["results"], request, view=self)
        body = paginator.get_paginated_response(page).data
        data = {key: v for key, v in value.items() if key != "results"} | body
        if isinstance(request.auth, AuthToken) and fast_reads.is_first_page(request.GET.dict()):
            # Kept, for the next identical request with this token (see fast_reads).
            fast_reads.remember_read(request.auth, listener.pk, level, value)
        return Response(data)
