"""The listener's suggestions as the API serves them: ready-made, cached, paginated."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.models import AuthToken
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Artist, Song
from listening.models import Listener
from musicsite.safe_cache import attempt
from recommender import serving
from web import fast_reads
from web.api.serializers import artist_data, song_data

LEVEL = OpenApiParameter(
    "level", str, enum=["song", "artist"], description="Songs (default) or artists."
)


def entries(listener_id: int, level: str) -> dict | None:
    """The listener's list joined with each item's and reason's details (cached until the
    list changes); None before anything is published."""
    listed = serving.listener_list(listener_id, level)
    if listed is None:
        return None
    key = serving.entries_key(serving.list_key(listed["set"], listener_id, level))
    cached = attempt("get", key)
    if cached is not None:
        return cached
    reason_level = listed.get("reason_level", level)
    reason_ids = {reason for reason in listed["reasons"] if reason}
    same_level = reason_ids if reason_level == level else set()  # looked up with the items
    objects, shape = _details(level, set(listed["items"]) | same_level)
    reasons, reason_shape = (
        (objects, shape) if reason_level == level else _details(reason_level, reason_ids)
    )
    results = []
    for item, score, reason in zip(
        listed["items"], listed["scores"], listed["reasons"], strict=True
    ):
        if item not in objects:  # removed from the catalogue since publication
            continue
        results.append(
            {
                "rank": len(results) + 1,
                level: shape(objects[item]),
                "score": score,
                "reason": (
                    {reason_level: reason_shape(reasons[reason])} if reason in reasons else None
                ),
            }
        )
    value = {
        "set": listed["set"],
        "model": listed["algorithm"],
        "level": level,
        "fallback": listed["fallback"],
        "refreshed_at": listed["refreshed_at"],
        "results": results,
    }
    attempt("set", key, value, serving.LIST_SECONDS)
    return value


def _details(level: str, ids: set[int]):
    """(the songs or artists of these ids by id, their API shape)."""
    if level == "song":
        return Song.objects.select_related("artist", "release").in_bulk(ids), song_data
    return Artist.objects.in_bulk(ids), artist_data


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

    Each result has the song (or artist), its score, and its reason: the item the listener
    played that led to it (null when the model cannot say). When the published model ranks
    artists, the song list is made from the artist list, and a song's reason is an artist
    (`{"artist": ...}`): the one the listener played that led to the song's artist, or the
    song's own artist ("because you might like"). `fallback` is true when the
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
            body = JSONRenderer().render(data)
            fast_reads.remember_page(request.auth, level, value["set"], body)
        return Response(data)
