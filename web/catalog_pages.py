"""The catalogue's pages: a song, an artist, and search over both."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from catalog.lookups import in_order
from catalog.models import Artist, CatalogStatus, Song
from catalog.search import artists_search, songs_search
from listening.models import Feedback, Listen
from recommender.serving import similar_ids

PAGE_SIZE = 20
ARTISTS_PAGE_SIZE = 24
SIMILAR_SHOWN = 10


def _feedback_on(request: HttpRequest, **item) -> Feedback | None:
    """The signed-in listener's love or not-for-me on this song or artist, shown with its
    Undo button."""
    if not request.user.is_authenticated:
        return None
    return Feedback.objects.filter(listener__user=request.user, **item).first()


def _public(rows: list) -> list:
    """Similar items are public ones: pending items never train a model, and one hidden
    since the last publication is left out here."""
    return [row for row in rows if row.status == CatalogStatus.PUBLIC]


def song_page(request: HttpRequest, song_id: int) -> HttpResponse:
    # Pending songs are their submitter's alone, hidden ones nobody's: a 404 for the rest.
    songs = Song.objects.visible_to(request.user).select_related("artist", "release")
    song = get_object_or_404(songs, pk=song_id)
    stats = Listen.objects.filter(song_id=song.pk).aggregate(
        listeners=Count("listener_id", distinct=True), plays=Sum("play_count")
    )
    _, similar = similar_ids("song", song.pk)
    context = {
        "song": song,
        "listeners": stats["listeners"] or 0,
        "plays": stats["plays"] or 0,
        "similar": _public(in_order(Song, similar[:SIMILAR_SHOWN], "artist")),
        "feedback": _feedback_on(request, song=song),
    }
    return render(request, "catalog/song.html", context)


def artist_page(request: HttpRequest, artist_id: int) -> HttpResponse:
    artist = get_object_or_404(Artist.objects.visible_to(request.user), pk=artist_id)
    listeners = Listen.objects.filter(artist_id=artist.pk).aggregate(
        n=Count("listener_id", distinct=True)
    )["n"]
    # Aggregated from the artist's listens (artist index), not from its songs' joins.
    counts = list(
        Listen.objects.filter(artist_id=artist.pk, song__isnull=False)
        .values("song_id")
        .annotate(listeners=Count("listener_id", distinct=True))
        .order_by("-listeners", "song_id")
        .values_list("song_id", "listeners")[:10]
    )
    songs = Song.objects.visible_to(request.user).in_bulk([song_id for song_id, _ in counts])
    top_songs = [(songs[song_id], n) for song_id, n in counts if song_id in songs]
    _, similar = similar_ids("artist", artist.pk)
    context = {
        "artist": artist,
        "listeners": listeners or 0,
        "top_songs": top_songs,
        "similar": _public(in_order(Artist, similar[:SIMILAR_SHOWN])),
        "feedback": _feedback_on(request, artist=artist),
    }
    return render(request, "catalog/artist.html", context)


def search(request: HttpRequest) -> HttpResponse:
    """Songs and artists the visitor may see whose name holds the words anywhere (match
    keys, so case and accents of spelling do not matter; names starting with them first),
    each list paginated on its own: `page` for songs, `artists_page` for artists, and each
    list's links keep the query and the other list's page. A page number that is not one
    gives the first page, one past the end the last (`get_page`)."""
    words = request.GET.get("q", "").strip()
    songs_page = artists_page = None
    if words:
        songs = songs_search(words, user=request.user).select_related("artist")
        songs_page = Paginator(songs, PAGE_SIZE).get_page(request.GET.get("page"))
        artists = artists_search(words, user=request.user)
        artists_page = Paginator(artists, ARTISTS_PAGE_SIZE).get_page(
            request.GET.get("artists_page")
        )
    context = {
        "q": words,
        "songs": songs_page,
        "artists": artists_page,
        # What each list's page links carry besides their own page number.
        "songs_query": urlencode({"q": words, "artists_page": getattr(artists_page, "number", 1)}),
        "artists_query": urlencode({"q": words, "page": getattr(songs_page, "number", 1)}),
    }
    return render(request, "catalog/search.html", context)
