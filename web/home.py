"""The home page: charts for visitors; a listener's suggestions, with reasons, once signed in."""

from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from catalog.models import Artist, Song
from listening.charts import charts
from listening.models import Feedback, Listen, Listener
from recommender import serving
from web.api.entries import entries
from web.ready_pages import first_page_value

SONGS_SHOWN = 12
ARTISTS_SHOWN = 8
BECAUSE_ROWS = 3
BECAUSE_SHOWN = 6


def _chart_rows() -> dict:
    data = charts()
    song_ids = [row["id"] for row in data["songs"]["overall"] + data["songs"]["recent"]]
    artist_ids = [row["id"] for row in data["artists"]["overall"] + data["artists"]["recent"]]
    # Public only: a row hidden since the charts were computed (cached for an hour) is out.
    songs = Song.objects.public().select_related("artist").in_bulk(song_ids)
    artists = Artist.objects.public().in_bulk(artist_ids)

    def rows(part, objects):
        return [objects[row["id"]] for row in part[:10] if row["id"] in objects]

    return {
        "songs": rows(data["songs"]["overall"], songs),
        "recent_songs": rows(data["songs"]["recent"], songs),
        "artists": rows(data["artists"]["overall"], artists),
        "recent_artists": rows(data["artists"]["recent"], artists),
    }


def _because_rows(listener: Listener) -> list[dict]:
    """'Because you played X': similar artists for the listener's favourite artists."""
    favourites = list(
        Listen.objects.filter(listener=listener, artist__isnull=False)
        .values("artist_id")
        .annotate(plays=Sum("play_count"))
        .order_by("-plays", "artist_id")
        .values_list("artist_id", flat=True)[:BECAUSE_ROWS]
    )
    similar = {artist: serving.similar_ids("artist", artist)[1] for artist in favourites}
    wanted = set(favourites) | {a for ids in similar.values() for a in ids[:BECAUSE_SHOWN]}
    artists = Artist.objects.in_bulk(wanted)
    return [
        {
            "artist": artists[artist],
            "similar": [artists[a] for a in similar[artist][:BECAUSE_SHOWN] if a in artists],
        }
        for artist in favourites
        if artist in artists and similar[artist]
    ]


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "home_visitor.html", {"charts": _chart_rows()})
    listener = Listener.objects.for_user(request.user)
    has_history = Listen.objects.filter(listener=listener).exists()
    if not has_history and not Feedback.objects.filter(listener=listener).exists():
        return redirect("onboarding")
    # The ready first page holds more than the home page shows (20 of each), in the same
    # shape: read it when the publication rendered it, else the entries.
    songs = first_page_value(listener.pk, "song") or entries(listener.pk, "song")
    artists = first_page_value(listener.pk, "artist") or entries(listener.pk, "artist")
    context = {
        "songs": songs and songs["results"][:SONGS_SHOWN],
        "artists": artists and artists["results"][:ARTISTS_SHOWN],
        "suggestions": songs,
        "because": _because_rows(listener),
        "recent": Listen.objects.filter(listener=listener, played_at__isnull=False)
        .select_related("song__artist")
        .order_by("-played_at", "-id")[:8],
        "active": serving.active_set() if request.user.is_staff else None,
    }
    return render(request, "home_listener.html", context)
