"""What a listener said they love, as items a model can fold in like plays.

A new account has no history: it picks artists it likes (onboarding), each recorded as
"love" feedback. Folding those in as plays gives personal suggestions at once. At song
level a loved artist stands for its most played songs; at artist level a loved song stands
for its artist.
"""

from django.db.models import Count

from catalog.models import Song
from listening.models import Feedback, FeedbackKind, Listen

SONGS_PER_LOVED_ARTIST = 5


def top_songs(artist_ids: list[int], per_artist: int = SONGS_PER_LOVED_ARTIST) -> list[int]:
    """Each artist's most played songs (by listeners), at most `per_artist` each."""
    songs = (
        Listen.objects.filter(artist_id__in=artist_ids, song__isnull=False)
        .values("song_id", "artist_id")
        .annotate(listeners=Count("listener_id", distinct=True))
        .order_by("artist_id", "-listeners", "song_id")
        .values_list("song_id", "artist_id")
    )
    taken: dict[int, int] = {}
    chosen = []
    for song, artist in songs:
        if taken.get(artist, 0) < per_artist:
            taken[artist] = taken.get(artist, 0) + 1
            chosen.append(song)
    return chosen


def loved_items(listener_id: int, level: str) -> list[int]:
    """The song (or artist) ids the listener's live "love" feedback points to."""
    loves = Feedback.objects.live().filter(listener_id=listener_id, kind=FeedbackKind.LOVE)
    songs = [s for s in loves.values_list("song_id", flat=True) if s]
    artists = [a for a in loves.values_list("artist_id", flat=True) if a]
    if level == "song":
        return sorted(set(songs) | set(top_songs(artists)))
    song_artists = Song.objects.filter(pk__in=songs, artist__isnull=False).values_list(
        "artist_id", flat=True
    )
    return sorted(set(artists) | set(song_artists))
