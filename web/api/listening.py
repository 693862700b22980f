"""The signed-in listener's own listens and feedback. Nobody reads or writes another's."""

from django.db.models import F
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Artist, Song
from listening.feedback import feedback_give, feedback_withdraw
from listening.listen_submission import API_SOURCE, SubmissionError, listens_record
from listening.models import Feedback, FeedbackKind, Listen, Listener
from web.api.errors import error_response
from web.api.inputs import (
    AwareDateTimeField,
    IdField,
    ListenSubmissionSerializer,
    id_or_none,
    item_errors,
)
from web.api.serializers import ArtistSerializer, SongSerializer


class ListenSerializer(serializers.ModelSerializer):
    song = SongSerializer(allow_null=True)
    artist = ArtistSerializer(allow_null=True)

    class Meta:
        model = Listen
        fields = ["id", "song", "artist", "played_at", "play_count"]


SUBMITTED = inline_serializer(
    "ListenSubmissionResult",
    {
        "recorded": serializers.IntegerField(),
        "listen_ids": serializers.ListField(child=serializers.IntegerField()),
        "duplicates": serializers.ListField(child=serializers.IntegerField()),
    },
)


class MyListensView(generics.ListAPIView):
    """GET: the listener's history, newest first. POST: record up to 1,000 listens."""

    serializer_class = ListenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Listen.objects.none()
        listener = Listener.objects.for_user(self.request.user)
        return (
            Listen.objects.filter(listener=listener)
            .select_related("song__artist", "song__release", "artist")
            # Counts without a time (imported totals) go last on every database.
            .order_by(F("played_at").desc(nulls_last=True), "-id")
        )

    @extend_schema(tags=["me"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["me"],
        request=ListenSubmissionSerializer,
        responses={201: SUBMITTED},
        examples=[
            OpenApiExample(
                "By id and by name",
                value={
                    "listens": [
                        {"song": 12, "played_at": "2026-11-26T20:01:00Z", "client_id": "a1"},
                        {"artist": "Nina Simone", "title": "Sinnerman", "client_id": "a2"},
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        """Each item names a song by `song` id, or by `artist` and `title` (matched or
        created). `played_at` defaults to now; a repeated `client_id` (or the same song at
        the same moment) is reported in `duplicates` and not stored again. If any item is
        invalid, nothing is stored and `details.listens` lists each error by item index."""
        submission = ListenSubmissionSerializer(data=request.data)
        if not submission.is_valid():
            return _invalid_listens(item_errors(submission.errors))
        listener = Listener.objects.for_user(request.user)
        try:
            result = listens_record(listener, submission.items(), source=API_SOURCE)
        except SubmissionError as error:
            return _invalid_listens(error.errors)
        return Response(
            {
                "recorded": len(result.recorded),
                "listen_ids": result.recorded,
                "duplicates": result.duplicates,
            },
            status=status.HTTP_201_CREATED,
        )


def _invalid_listens(errors: list[dict]) -> Response:
    return error_response(
        status.HTTP_400_BAD_REQUEST,
        "invalid",
        f"{len(errors)} error(s) in the listens; nothing was stored",
        {"listens": errors},
    )


class FeedbackSerializer(serializers.ModelSerializer):
    """A feedback row as the API shows it."""

    class Meta:
        model = Feedback
        fields = ["id", "kind", "song", "artist", "expires_at", "created_at"]
        read_only_fields = fields


class FeedbackInputSerializer(serializers.Serializer):
    """The body of `POST /me/feedback/`: one song or one artist, a kind, an optional expiry."""

    kind = serializers.ChoiceField(choices=FeedbackKind.choices)
    song = IdField(required=False, allow_null=True)
    artist = IdField(required=False, allow_null=True)
    expires_at = AwareDateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        song, artist = attrs.get("song"), attrs.get("artist")
        if (song is None) == (artist is None):
            raise ValidationError("give one song or one artist")
        model, name, pk = (Song, "song", song) if song is not None else (Artist, "artist", artist)
        if not model.objects.filter(pk=pk).exists():
            raise ValidationError({name: [f"no {name} has id {pk}"]})
        return attrs


class MyFeedbackView(generics.ListAPIView):
    """GET: the listener's feedback. POST: love or not-for-me on a song or an artist
    (replacing earlier feedback on it); not-for-me removes it from the suggestions at once."""

    serializer_class = FeedbackSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Feedback.objects.none()
        listener = Listener.objects.for_user(self.request.user)
        return Feedback.objects.filter(listener=listener).order_by("-created_at", "-id")

    @extend_schema(tags=["me"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["me"], request=FeedbackInputSerializer, responses={201: FeedbackSerializer}
    )
    def post(self, request, *args, **kwargs):
        given = FeedbackInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            feedback = feedback_give(
                Listener.objects.for_user(request.user),
                kind=data["kind"],
                song_id=data.get("song"),
                artist_id=data.get("artist"),
                expires_at=data.get("expires_at"),
            )
        except ValueError as error:
            raise ValidationError(str(error)) from error
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)


class MyFeedbackUndoView(APIView):
    """DELETE: take back the listener's love or not-for-me on this song (or artist): their
    suggestions are refreshed as after giving it. 404 when there was none."""

    level = "song"  # or "artist": one class, two routes

    @extend_schema(tags=["me"], responses={204: None})
    def delete(self, request, item_id: int):
        pk = id_or_none(item_id)
        target = {f"{self.level}_id": pk}
        if pk is None or not feedback_withdraw(Listener.objects.for_user(request.user), **target):
            raise NotFound(f"you gave no feedback on {self.level} {item_id}")
        return Response(status=status.HTTP_204_NO_CONTENT)
