"""The bounded input fields every API endpoint validates with, and the listens a
listener's app submits.

One place says what an id, a text and a time may be: an id fits the database's 64-bit
column, a text holds no NUL, no lone surrogate (neither can be stored or printed as UTF-8)
and no bidi override that would make it read differently from what it is; a
play time is timezone-aware and inside the importer's window (`play_time_window`).
"""

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from listening.ingest.cleaning import play_time_window
from listening.listen_import import cleaning_config
from listening.listen_submission import MAX_CLIENT_ID, MAX_LISTENS, MAX_PLAY_COUNT, ListenItem

ID_MAX = 2**63 - 1  # the largest value a BigAutoField (PostgreSQL bigint) holds
MAX_NAME = 500
MAX_SEARCH = 200
# Embedding, override and isolate controls: they reorder how a name is shown ("evil.exe"
# shown as "exe.live"), and no artist or title needs them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class IdField(serializers.IntegerField):
    """A database id: a JSON integer (or, in a query string, ASCII digits) from 1 to
    ID_MAX. Floats, booleans and other digits ("²", Arabic-Indic) are refused, not coerced."""

    MESSAGE = f"must be an id: a whole number from 1 to {ID_MAX}"
    default_error_messages = {"invalid": MESSAGE, "min_value": MESSAGE, "max_value": MESSAGE}

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and data.isascii() and data.isdigit() and len(data) <= 19:
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def id_or_none(value: str) -> int | None:
    """A path or query value as an id, None when it cannot be one (an unknown object)."""
    field = IdField()
    try:
        return field.run_validation(value)
    except serializers.ValidationError:
        return None


class TextField(serializers.CharField):
    """Text that is text: a JSON string (numbers are not turned into one), bounded in
    length, without NUL or lone surrogates (DRF's CharField refuses both) or bidi controls
    (no name, title, search or client id needs one)."""

    def __init__(self, *, max_length: int, **kwargs):
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)

    def run_validators(self, value):
        super().run_validators(value)
        if BIDI_CONTROLS.intersection(value):
            raise serializers.ValidationError(
                "must not contain bidirectional control characters (U+202A-U+202E, U+2066-U+2069)"
            )


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time with its offset: a naive time is ambiguous (whose clock?)
    and refused, not read in the server's zone as DRF's own field would."""

    default_error_messages = {
        "invalid": "must be an ISO 8601 date and time with a zone, e.g. 2026-11-26T21:04:00Z",
        "naive": "must include a time zone (Z or an offset such as +01:00)",
    }

    def to_internal_value(self, value):
        if not isinstance(value, str) or len(value) > 64:
            self.fail("invalid")
        try:
            moment = parse_datetime(value)
        except ValueError:  # well formed but impossible: month 13, February 30
            moment = None
        if moment is None:
            self.fail("invalid")
        if timezone.is_naive(moment):
            self.fail("naive")
        return self.enforce_timezone(moment)  # to UTC; "overflow" past year 1 or 9999


class CountField(serializers.IntegerField):
    """A JSON integer: DRF's own field would take 2.0, "2" and true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class ListenItemSerializer(serializers.Serializer):
    """One submitted listen: a song id, or an artist and a title."""

    FIELDS = frozenset({"song", "artist", "title", "played_at", "play_count", "client_id"})

    song = IdField(required=False)
    artist = TextField(max_length=MAX_NAME, required=False)
    title = TextField(max_length=MAX_NAME, required=False)
    played_at = AwareDateTimeField(required=False, help_text="Defaults to now.")
    play_count = CountField(required=False, min_value=1, max_value=MAX_PLAY_COUNT)
    client_id = TextField(max_length=MAX_CLIENT_ID, required=False)

    def to_internal_value(self, data):
        unknown = sorted(map(str, set(data) - self.FIELDS)) if isinstance(data, dict) else []
        errors = {unknown[0]: [f"unknown field(s): {', '.join(unknown)}"]} if unknown else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**errors, **error.detail}) from error
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate_played_at(self, value: datetime) -> datetime:
        earliest, latest = play_time_window(cleaning_config(), timezone.now())
        if not earliest <= value <= latest:
            raise serializers.ValidationError(
                f"must be between {earliest:%Y-%m-%d %H:%M} UTC and {latest:%Y-%m-%d %H:%M} UTC"
                " (the window imports keep)"
            )
        return value

    def validate(self, attrs):
        named = "artist" in attrs or "title" in attrs
        if "song" in attrs and named:
            raise serializers.ValidationError(
                {"song": ["give a song id or an artist and title, not both"]}
            )
        if "song" not in attrs:
            missing = [name for name in ("artist", "title") if not attrs.get(name, "").strip()]
            if missing:
                message = "required (with the other) when no song id is given"
                raise serializers.ValidationError({name: [message] for name in missing})
        return attrs


class ListenSubmissionSerializer(serializers.Serializer):
    """The body of `POST /me/listens/`."""

    listens = ListenItemSerializer(many=True, allow_empty=False, max_length=MAX_LISTENS)

    def validate_listens(self, listens: list[dict]) -> list[dict]:
        seen: set[str] = set()
        for index, item in enumerate(listens):
            client_id = item.get("client_id")
            if client_id and client_id in seen:
                raise serializers.ValidationError(
                    {index: {"client_id": ["repeats the client_id of an earlier item"]}}
                )
            seen.add(client_id or "")
        return listens

    def items(self) -> list[ListenItem]:
        return [
            ListenItem(
                song_id=item.get("song"),
                artist=item.get("artist"),
                title=item.get("title"),
                played_at=item.get("played_at"),
                play_count=item.get("play_count", 1),
                client_id=item.get("client_id"),
            )
            for item in self.validated_data["listens"]
        ]


def item_errors(errors) -> list[dict]:
    """The serializer's errors as the endpoint has always given them: a list of
    {"index", "field", "message"} (index None for the whole list)."""
    flat: list[dict] = []

    def add(index, field, messages):
        for message in messages if isinstance(messages, list) else [messages]:
            if isinstance(message, dict):  # a nested item's own errors
                for name, inner in message.items():
                    add(index, name, inner)
            else:
                flat.append({"index": index, "field": field, "message": str(message)})

    if not isinstance(errors, dict):
        add(None, "", errors)
        return flat
    for name, value in errors.items():
        if name != "listens":
            add(None, "" if name == "non_field_errors" else name, value)
        elif isinstance(value, dict):  # {index: {field: [...]}}, or the list's own errors
            for key, item in value.items():
                if isinstance(key, int) and isinstance(item, dict):
                    for field, messages in item.items():
                        add(key, field, messages)
                else:
                    add(None, "listens", item)
        elif value and all(isinstance(item, dict) for item in value):
            for index, item in enumerate(value):
                for field, messages in item.items():
                    add(index, "" if field == "non_field_errors" else field, messages)
        else:
            add(None, "listens", value)
    return flat
