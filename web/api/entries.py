"""A listener's list joined with its songs' or artists' details and its honest reasons: the
entries the API's pages, the home page and the ready first pages show.

One code path for one listener (a read through DRF) and for a block of listeners (the ready
pages a publication renders, web/ready_pages.py): `entries_of` takes the lists of many
listeners and asks the database the same few questions for all of them at once (the items'
details, the listeners' listens, their loves), so a block's queries do not grow with its size.
"""

from dataclasses import dataclass

from catalog.models import Artist, CatalogStatus, Song
from listening.models import Feedback, FeedbackKind, FeedbackOrigin, Listen
from musicsite.safe_cache import attempt
from recommender import serving
from web.api.serializers import artist_data, song_data

# Below this many ids a listener's listens are looked up among them (a few rows); above it
# (a block of listeners) by listener alone, which an IN list of every item would not help.
FEW_IDS = 500
# What the entries read of an item (the shapes of serializers.song_data and artist_data, the
# status, the song's artist): the other columns (ids, keys, dates) would cost a block the
# decoding of every one of its thousands of rows, for nothing.
ARTIST_FIELDS = ("name", "status")
SONG_FIELDS = (
    *("title", "status", "year", "duration_ms", "artist", "release"),
    *("artist__name", "release__title", "release__year"),
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
    value = entries_of({listener_id: listed}, level)[listener_id]
    attempt("set", key, value, serving.LIST_SECONDS)
    return value


def entries_of(
    listed_by_listener: dict[int, dict],
    level: str,
    *,
    first: int | None = None,
    histories: dict[int, "History"] | None = None,
) -> dict[int, dict]:
    """Each listener's entries at `level`, from their lists in one set (the shape of
    serving.listener_list), in a number of queries that does not depend on how many.
    With `first`, only the first entries are shaped (a first page) and `count` says how
    many there are in all. `histories`: these listeners' (listener_histories over at least
    these items), when a block renders both levels from one look-up."""
    if not listed_by_listener:
        return {}
    reason_level = next(iter(listed_by_listener.values())).get("reason_level", level)
    item_ids: set[int] = set()
    reason_ids: set[int] = set()
    for listed in listed_by_listener.values():
        item_ids.update(listed["items"])
        reason_ids.update(reason for reason in listed["reasons"] if reason)
    same_level = reason_ids if reason_level == level else set()  # looked up with the items
    objects, shape = _details(level, item_ids | same_level)
    reasons, reason_shape = (
        (objects, shape) if reason_level == level else _details(reason_level, reason_ids)
    )
    # The items offered at all (a block's lists share them: their status read once).
    public = {pk for pk, item in objects.items() if item.status == CatalogStatus.PUBLIC}
    # A song of a block is on many listeners' lists: shaped once (the same dict each time).
    shape = _memoised(shape)
    reason_shape = shape if reason_level == level else _memoised(reason_shape)
    wanted = {level: item_ids}
    wanted[reason_level] = wanted.get(reason_level, set()) | reason_ids
    if histories is None:
        histories = listener_histories(list(listed_by_listener), wanted)
    loved_song_artists = _loved_song_artists(histories, reason_level)
    honest_by_listener = {}
    for listener_id, listed in listed_by_listener.items():
        own = {reason: reasons[reason] for reason in listed["reasons"] if reason in reasons}
        honest = reason_kinds(histories[listener_id], reason_level, own)
        for artist in loved_song_artists.get(listener_id, ()):
            if artist in own:  # an artist of a loved song is loved too
                honest.setdefault(artist, ("loved", None))
        honest_by_listener[listener_id] = honest
    picked_artists, _ = _details(
        "artist",
        {
            artist
            for honest in honest_by_listener.values()
            for _, artist in honest.values()
            if artist
        },
    )
    reason_of = _memoised_reason(reasons, reason_level, reason_shape, picked_artists)
    return {
        listener_id: _entries_value(
            listed,
            level,
            objects,
            public,
            shape,
            reason_of,
            histories[listener_id],
            honest_by_listener[listener_id],
            first,
        )
        for listener_id, listed in listed_by_listener.items()
    }


def _memoised_reason(reasons, reason_level, reason_shape, artists):
    """`_reason` of (item, reason id, the listener's honest kind), each distinct one made
    once per block (the same dict each time, as the shapes): it depends on the item only
    through whether the reason is the song's own artist."""
    made: dict[tuple, dict | None] = {}

    def reason_of(item, reason_id, honest) -> dict | None:
        reason = reasons.get(reason_id)
        if reason is None:
            return None
        own = honest is None and getattr(item, "artist_id", None) == reason.pk
        key = (reason_id, honest, own)
        if key not in made:
            made[key] = _reason(item, reason, honest, reason_level, reason_shape, artists)
        return made[key]

    return reason_of


def _memoised(shape):
    shaped: dict[int, dict] = {}

    def memoised(item) -> dict:
        found = shaped.get(item.pk)
        if found is None:
            found = shaped[item.pk] = shape(item)
        return found

    return memoised


def _entries_value(
    listed,
    level,
    objects,
    public,
    shape,
    reason_of,
    history,
    honest,
    first,
) -> dict:
    results = []
    count = 0
    shown = len(listed["items"]) if first is None else first
    # As History.holds, looked up once per list rather than once per item (a block's hot loop).
    played = history.played.get(level, set())
    loved = history.loved_songs if level == "song" else history.loved_artists
    for item, score, reason in zip(
        listed["items"], listed["scores"], listed["reasons"], strict=True
    ):
        if item not in public:
            continue  # removed from the catalogue, or hidden by staff, since publication
        if item in played or item in loved:  # theirs already (the charts of a listener
            continue  # without a list, or a list written before their latest listens)
        count += 1
        if count > shown:
            continue  # counted, not shown on the first page
        results.append(
            {
                "rank": len(results) + 1,
                level: shape(objects[item]),
                "score": score,
                "reason": reason_of(objects[item], reason, honest.get(reason)),
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
    if first is not None:
        value["count"] = count
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
    """The listener's listens among these ids and live loves."""
    return listener_histories([listener_id], ids_by_level)[listener_id]


def listener_histories(
    listener_ids: list[int], ids_by_level: dict[str, set[int]]
) -> dict[int, History]:
    """Each listener's listens among these ids (one query per level, whatever the number of
    listeners; what else they played may come too, and changes no answer) and live loves."""
    histories = {listener: History({}, set(), {}) for listener in listener_ids}
    if set(ids_by_level) == {"song", "artist"} and min(map(len, ids_by_level.values())) > FEW_IDS:
        _all_listens(histories)  # a block at both levels: both columns in one query
        ids_by_level = {}
    for level, ids in ids_by_level.items():
        if not ids:
            continue
        for history in histories.values():
            history.played[level] = set()
        listens = Listen.objects.filter(listener_id__in=listener_ids)
        if len(ids) <= FEW_IDS:
            listens = listens.filter(**{f"{level}_id__in": list(ids)})
        else:
            listens = listens.filter(**{f"{level}_id__isnull": False})
        for listener, item in listens.values_list("listener_id", f"{level}_id").distinct():
            histories[listener].played[level].add(item)
    _loves(histories)
    return histories


def _all_listens(histories: dict[int, History]) -> None:
    """Every song and artist these listeners played, in one query."""
    for history in histories.values():
        history.played.update(song=set(), artist=set())
    listens = Listen.objects.filter(listener_id__in=list(histories))
    rows = listens.values_list("listener_id", "song_id", "artist_id").distinct()
    for listener, song, artist in rows:
        played = histories[listener].played
        if song is not None:
            played["song"].add(song)
        if artist is not None:
            played["artist"].add(artist)


def _loves(histories: dict[int, History]) -> None:
    """Each listener's live loves, in their histories."""
    listener_ids = list(histories)
    loves = (
        Feedback.objects.live()
        .filter(listener_id__in=listener_ids, kind=FeedbackKind.LOVE)
        .values_list("listener_id", "song_id", "artist_id", "origin")
    )
    for listener, song, artist, origin in loves:
        if song is not None:
            histories[listener].loved_songs.add(song)
        if artist is not None:
            histories[listener].loved_artists[artist] = origin


def reason_kinds(history: History, level: str, reasons: dict) -> dict[int, tuple[str, int | None]]:
    """Each reason (objects by id at `level`) as the listener's own history tells it: {id:
    (kind, artist id or None)}, kind "played", "loved" or "picked" (onboarding), the artist
    given where the reason stands for a loved or picked artist (a model folds a picked
    artist in as its top songs, so the song it names was not played: the artist was
    picked). A reason the listener holds nothing of is left out: never shown as theirs.
    (An artist of a loved song is loved too: `entries_of` adds those, for a block at once.)"""
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
    return found


def _loved_song_artists(histories: dict[int, History], level: str) -> dict[int, set[int]]:
    """At artist level, the artists of each listener's loved songs (one query)."""
    loved = {song for history in histories.values() for song in history.loved_songs}
    if level != "artist" or not loved:
        return {}
    artist_of = dict(Song.objects.filter(pk__in=loved).values_list("pk", "artist_id"))
    return {
        listener: {artist_of[song] for song in history.loved_songs if song in artist_of}
        for listener, history in histories.items()
        if history.loved_songs
    }


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
        songs = Song.objects.select_related("artist", "release").only(*SONG_FIELDS)
        return songs.in_bulk(ids), song_data
    return Artist.objects.only(*ARTIST_FIELDS).in_bulk(ids), artist_data
