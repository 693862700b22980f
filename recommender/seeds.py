"""What a listener said they love, as items a model can fold in like plays.

A new account has no history: it picks artists it likes (onboarding), each recorded as
"love" feedback. Folding those in as plays gives personal suggestions at once. At song
level a loved artist stands for its most played songs; at artist level a loved song stands
for its artist. Publishing (every listener) and a refresh (one) both read loves through
`loved_pairs`, so a love counts the same on both paths.
"""

import numpy as np
from django.db.models import Count

from catalog.models import Song
from listening.models import Feedback, FeedbackKind, Listen

SONGS_PER_LOVED_ARTIST = 5


def top_songs_by_artist(
    artist_ids: list[int], per_artist: int = SONGS_PER_LOVED_ARTIST
) -> dict[int, list[int]]:
    """Each artist's most played songs (by listeners), at most `per_artist` each."""
    songs = (
        Listen.objects.filter(artist_id__in=artist_ids, song__isnull=False)
        .values("song_id", "artist_id")
        .annotate(listeners=Count("listener_id", distinct=True))
        .order_by("artist_id", "-listeners", "song_id")
        .values_list("song_id", "artist_id")
    )
    chosen: dict[int, list[int]] = {}
    for song, artist in songs:
        taken = chosen.setdefault(artist, [])
        if len(taken) < per_artist:
            taken.append(song)
    return chosen


def live_loves(listener_ids: list[int] | None = None) -> np.ndarray:
    """Live "love" feedback as (listener, song, artist) rows, -1 where not given; of these
    listeners, or of everyone (listeners flagged as bots left out, as their listens are)."""
    loves = Feedback.objects.live().filter(kind=FeedbackKind.LOVE, listener__is_flagged=False)
    if listener_ids is not None:
        loves = loves.filter(listener_id__in=listener_ids)
    rows = [
        (listener, song or -1, artist or -1)
        for listener, song, artist in loves.values_list("listener_id", "song_id", "artist_id")
    ]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def loved_pairs(loves: np.ndarray, level: str) -> np.ndarray:
    """(listener, item) pairs at `level` that `loves` (rows of `live_loves`) point to,
    sorted, each once."""
    listeners, songs, artists = loves[:, 0], loves[:, 1], loves[:, 2]
    on_song, on_artist = songs >= 0, artists >= 0
    if level == "song":
        direct = np.column_stack([listeners[on_song], songs[on_song]])
        top = top_songs_by_artist(np.unique(artists[on_artist]).tolist())
        implied = [
            (listener, song)
            for listener, artist in zip(
                listeners[on_artist].tolist(), artists[on_artist].tolist(), strict=True
            )
            for song in top.get(artist, [])
        ]
    else:
        direct = np.column_stack([listeners[on_artist], artists[on_artist]])
        artist_of = dict(
            Song.objects.filter(
                pk__in=np.unique(songs[on_song]).tolist(), artist__isnull=False
            ).values_list("pk", "artist_id")
        )
        implied = [
            (listener, artist_of[song])
            for listener, song in zip(
                listeners[on_song].tolist(), songs[on_song].tolist(), strict=True
            )
            if song in artist_of
        ]
    pairs = np.concatenate([direct, np.array(implied, dtype=np.int64).reshape(-1, 2)])
    return np.unique(pairs.astype(np.int64), axis=0).reshape(-1, 2)
