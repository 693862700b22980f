"""Catalogue endpoints: songs and artists (search, filter, similar) and the charts. Public."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.lookups import in_order
from catalog.models import Artist, CatalogStatus, Song
from catalog.search import artists_search, songs_search
from listening.charts import charts
from recommender.serving import similar_ids
from web.api.inputs import MAX_SEARCH, IdField, TextField, id_or_none
from web.api.serializers import ArtistSerializer, SongSerializer, artist_data, song_data

SEARCH = OpenApiParameter("search", str, description="Words in the title or the artist's name.")
ARTIST = OpenApiParameter("artist", int, description="Only this artist's songs (artist id).")


class CatalogueQuery(serializers.Serializer):
    """The query string of a catalogue list (page and page_size are the paginator's)."""

    search = TextField(max_length=MAX_SEARCH, required=False)


class SongQuery(CatalogueQuery):
    artist = IdField(required=False)


class BoundedInput:
    """Validated input for the catalogue's views. Path ids must fit the database's column: a
    larger number names no object (404), where the ORM would fail on it (OverflowError on
    SQLite, DataError on PostgreSQL). A list's query string goes through `query_class`
    (a 400 saying which parameter); the other views take none."""

    lookup_value_regex = "[0-9]+"
    query_class = CatalogueQuery

    def query(self) -> dict:
        if self.action != "list":
            return {}
        query = self.query_class(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return query.validated_data

    def get_object(self):
        if id_or_none(self.kwargs[self.lookup_url_kwarg or self.lookup_field]) is None:
            raise NotFound("No such object.")
        return super().get_object()


SIMILAR_RESPONSE = inline_serializer(
    "SimilarItems",
    {"set": serializers.IntegerField(allow_null=True), "results": serializers.ListField()},
)


@extend_schema(
    tags=["catalogue"],
)
class SongViewSet(BoundedInput, viewsets.ReadOnlyModelViewSet):
    """Songs: list (search, filter by artist), one song, its similar songs."""

    serializer_class = SongSerializer
    permission_classes = [AllowAny]
    query_class = SongQuery

    def get_queryset(self):
        # Public songs, and the caller's own pending ones (curation: catalog/curation.py).
        user = self.request.user
        query = self.query()
        words = query.get("search", "").strip()
        if words:
            songs = songs_search(words, user=user)
        else:
            songs = Song.objects.visible_to(user).order_by("pk")
        songs = songs.select_related("artist", "release")
        if query.get("artist") is not None:
            songs = songs.filter(artist_id=query["artist"])
        return songs

    @extend_schema(parameters=[SEARCH, ARTIST])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: SIMILAR_RESPONSE})
    @action(detail=True)
    def similar(self, request, pk=None):
        """The songs most like this one in the published set (empty before a publication)."""
        song = self.get_object()
        set_id, ids = similar_ids("song", song.pk)
        songs = [
            s for s in in_order(Song, ids, "artist", "release") if s.status == CatalogStatus.PUBLIC
        ]
        return Response({"set": set_id, "results": [song_data(s) for s in songs]})


@extend_schema(
    tags=["catalogue"],
)
class ArtistViewSet(BoundedInput, viewsets.ReadOnlyModelViewSet):
    """Artists: list (search), one artist, its similar artists."""

    serializer_class = ArtistSerializer
    permission_classes = [AllowAny]

    def get_queryset(self):
        words = self.query().get("search", "").strip()
        if words:
            return artists_search(words, user=self.request.user)
        return Artist.objects.visible_to(self.request.user).order_by("pk")

    @extend_schema(parameters=[SEARCH])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: SIMILAR_RESPONSE})
    @action(detail=True)
    def similar(self, request, pk=None):
        """The artists most like this one in the published set (empty before a publication)."""
        artist = self.get_object()
        set_id, ids = similar_ids("artist", artist.pk)
        artists = [a for a in in_order(Artist, ids) if a.status == CatalogStatus.PUBLIC]
        return Response({"set": set_id, "results": [artist_data(a) for a in artists]})


class ChartsView(APIView):
    """Top songs and artists by listeners, overall and in the last 30 days of listening."""

    permission_classes = [AllowAny]

    @extend_schema(tags=["catalogue"], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        data = charts()
        song_ids = {row["id"] for part in data["songs"].values() for row in part}
        artist_ids = {row["id"] for part in data["artists"].values() for row in part}
        # The charts hold public items only; one approved then hidden since is left out here.
        songs = Song.objects.public().select_related("artist", "release").in_bulk(song_ids)
        artists = Artist.objects.public().in_bulk(artist_ids)

        def rows(part, objects, shape, name):
            return [
                {
                    name: shape(objects[row["id"]]),
                    "listeners": row["listeners"],
                    "plays": row["plays"],
                }
                for row in part
                if row["id"] in objects
            ]

        return Response(
            {
                "recent_since": data["recent_since"],
                "songs": {k: rows(v, songs, song_data, "song") for k, v in data["songs"].items()},
                "artists": {
                    k: rows(v, artists, artist_data, "artist") for k, v in data["artists"].items()
                },
            }
        )
