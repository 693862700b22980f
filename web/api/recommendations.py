"""The listener's suggestions as the API serves them: ready-made, cached, paginated."""

from dataclasses import dataclass

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.models import AuthToken
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Artist, CatalogStatus, Song
from listening.models import Feedback, FeedbackKind, FeedbackOrigin, Listen, Listener
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
    wanted = {level: set(listed["items"])}
    wanted[reason_level] = wanted.get(reason_level, set()) | set(reasons)
    history = listener_history(listener_id, wanted)
    honest = reason_kinds(history, reason_level, reasons)
    picked_artists, _ = _details("artist", {artist for kind, artist in honest.values() if artist})
    results = []
    for item, score, reason in zip(
        listed["items"], listed["scores"], listed["reasons"], strict=True
    ):
        if item not in objects or objects[item].status != CatalogStatus.PUBLIC:
            continue  # removed from the catalogue, or hidden by staff, since publication
        if history.holds(level, item):  # theirs already (the charts of a listener without
            continue  # a list, or a list written before their latest listens): not offered
        results.append(
            {
                "rank": len(results) + 1,
                level: shape(objects[item]),
                "score": score,
                "reason": _reason(
                    objects[item],
                    reasons.get(reason),
                    honest.get(reason),
                    reason_level,
                    reason_shape,
                    picked_artists,
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


@dataclass
class History:
    """What one listener holds among some ids: played at each level asked, loved songs, and
    loved artists with the love's origin (picked on the welcome page, or said)."""

    played: dict[str, set[int]]
    loved_songs: set[int]
    loved_artists: dict[int, str]

    def holds(self, level: str, pk: int) -> bool:
        """Whether the listener played, loved or picked this song or artist."""
        loved = self.loved_songs if level == "song" else self.loved_artists
        return pk in self.played.get(level, set()) or pk in loved


def listener_history(listener_id: int, ids_by_level: dict[str, set[int]]) -> History:
    """The listener's listens among these ids (one query per level) and live loves."""
    played = {
        level: set(
            Listen.objects.filter(listener_id=listener_id, **{f"{level}_id__in": list(ids)})
            .values_list(f"{level}_id", flat=True)
            .distinct()
        )
        for level, ids in ids_by_level.items()
        if ids
    }
    loves = list(
        Feedback.objects.live()
        .filter(listener_id=listener_id, kind=FeedbackKind.LOVE)
        .values_list("song_id", "artist_id", "origin")
    )
    return History(
        played,
        {song for song, _, _ in loves if song is not None},
        {artist: origin for _, artist, origin in loves if artist is not None},
    )


def reason_kinds(history: History, level: str, reasons: dict) -> dict[int, tuple[str, int | None]]:
    """Each reason (objects by id at `level`) as the listener's own history tells it: {id:
    (kind, artist id or None)}, kind "played", "loved" or "picked" (onboarding), the artist
    given where the reason stands for a loved or picked artist (a model folds a picked
    artist in as its top songs, so the song it names was not played: the artist was
    picked). A reason the listener holds nothing of is left out: never shown as theirs."""
    played = history.played.get(level, set())
    found: dict[int, tuple[str, int | None]] = {}
    for pk, item in reasons.items():
        artist = item.artist_id if level == "song" else pk
        if pk in played:
            found[pk] = ("played", None)
        elif level == "song" and pk in history.loved_songs:
            found[pk] = ("loved", None)
        elif artist in history.loved_artists:
            origin = history.loved_artists[artist]
            found[pk] = ("picked" if origin == FeedbackOrigin.PICKED else "loved", artist)
    if level == "artist" and history.loved_songs:  # an artist of a loved song is loved too
        by_song = Song.objects.filter(pk__in=history.loved_songs, artist_id__in=list(reasons))
        for artist in by_song.values_list("artist_id", flat=True):
            found.setdefault(artist, ("loved", None))
    return found


def _reason(item, reason, honest, reason_level, reason_shape, artists) -> dict | None:
    """An entry's reason, with its kind; None when there is none to tell truly."""
    if reason is None:
        return None
    if honest is None:
        # An artist-level set's song whose list names the song's own artist: "you might
        # like" it (no claim on the history); anything else the listener does not hold: none.
        own = reason_level == "artist" and getattr(item, "artist_id", None) == reason.pk
        return {"artist": reason_shape(reason), "kind": "might_like"} if own else None
    kind, artist = honest
    if artist is not None and reason_level == "song":
        if artist not in artists:
            return None
        return {"artist": artist_data(artists[artist]), "kind": kind}
    return {reason_level: reason_shape(reason), "kind": kind}


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
            body = JSONRenderer().render(data)
            fast_reads.remember_page(request.auth, level, value["set"], body)
        return Response(data)
