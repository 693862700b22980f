"""The signed-in listener's own listens and feedback. Nobody reads or writes another's."""

from django.db.models import F
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from catalog.models import Artist, Song
from listening.feedback import feedback_give
from listening.listen_submission import (
    API_SOURCE,
    MAX_LISTENS,
    SubmissionError,
    listens_record,
)
from listening.models import Feedback, FeedbackKind, Listen, Listener
from web.api.errors import error_response
from web.api.serializers import ArtistSerializer, SongSerializer


class ListenSerializer(serializers.ModelSerializer):
    song = SongSerializer(allow_null=True)
    artist = ArtistSerializer(allow_null=True)

    class Meta:
        model = Listen
        fields = ["id", "song", "artist", "played_at", "play_count"]


SUBMISSION = inline_serializer(
    "ListenSubmission",
    {
        "listens": serializers.ListField(
            child=inline_serializer(
                "SubmittedListenItem",
                {
                    "song": serializers.IntegerField(required=False),
                    "artist": serializers.CharField(required=False),
                    "title": serializers.CharField(required=False),
                    "played_at": serializers.DateTimeField(required=False),
                    "play_count": serializers.IntegerField(required=False, min_value=1),
                    "client_id": serializers.CharField(required=False, max_length=64),
                },
            ),
            max_length=MAX_LISTENS,
        )
    },
)
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
        request=SUBMISSION,
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
        if not isinstance(request.data, dict) or "listens" not in request.data:
            raise ValidationError({"listens": ["required: a list of listens"]})
        listener = Listener.objects.for_user(request.user)
        try:
            result = listens_record(listener, request.data["listens"], source=API_SOURCE)
        except SubmissionError as error:
            return error_response(
                status.HTTP_400_BAD_REQUEST,
                "invalid",
                f"{len(error.errors)} error(s) in the listens; nothing was stored",
                {"listens": error.errors},
            )
        return Response(
            {
                "recorded": len(result.recorded),
                "listen_ids": result.recorded,
                "duplicates": result.duplicates,
            },
            status=status.HTTP_201_CREATED,
        )


class FeedbackSerializer(serializers.ModelSerializer):
    song = serializers.PrimaryKeyRelatedField(
        queryset=Song.objects.all(), required=False, allow_null=True
    )
    artist = serializers.PrimaryKeyRelatedField(
        queryset=Artist.objects.all(), required=False, allow_null=True
    )
    kind = serializers.ChoiceField(choices=FeedbackKind.choices)

    class Meta:
        model = Feedback
        fields = ["id", "kind", "song", "artist", "expires_at", "created_at"]
        read_only_fields = ["id", "created_at"]
        # One feedback per item is kept by the service (it replaces), not refused here.
        validators: list = []

    def validate(self, attrs):
        if bool(attrs.get("song")) == bool(attrs.get("artist")):
            raise ValidationError("give one song or one artist")
        return attrs


class MyFeedbackView(generics.ListCreateAPIView):
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

    @extend_schema(tags=["me"], responses={201: FeedbackSerializer})
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            feedback = feedback_give(
                Listener.objects.for_user(request.user),
                kind=data["kind"],
                song_id=data["song"].pk if data.get("song") else None,
                artist_id=data["artist"].pk if data.get("artist") else None,
                expires_at=data.get("expires_at"),
            )
        except ValueError as error:
            raise ValidationError(str(error)) from error
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)
