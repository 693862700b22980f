"""The catalogue's pages: a song, an artist, and search over both."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from catalog.lookups import in_order
from catalog.models import Artist, Song
from catalog.names import match_key
from listening.models import Listen
from recommender.serving import similar_ids

PAGE_SIZE = 20
SIMILAR_SHOWN = 10


def song_page(request: HttpRequest, song_id: int) -> HttpResponse:
    song = get_object_or_404(Song.objects.select_related("artist", "release"), pk=song_id)
    stats = Listen.objects.filter(song_id=song.pk).aggregate(
        listeners=Count("listener_id", distinct=True), plays=Sum("play_count")
    )
    _, similar = similar_ids("song", song.pk)
    context = {
        "song": song,
        "listeners": stats["listeners"] or 0,
        "plays": stats["plays"] or 0,
        "similar": in_order(Song, similar[:SIMILAR_SHOWN], "artist"),
    }
    return render(request, "catalog/song.html", context)


def artist_page(request: HttpRequest, artist_id: int) -> HttpResponse:
    artist = get_object_or_404(Artist, pk=artist_id)
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
    songs = Song.objects.in_bulk([song_id for song_id, _ in counts])
    top_songs = [(songs[song_id], n) for song_id, n in counts if song_id in songs]
    _, similar = similar_ids("artist", artist.pk)
    context = {
        "artist": artist,
        "listeners": listeners or 0,
        "top_songs": top_songs,
        "similar": in_order(Artist, similar[:SIMILAR_SHOWN]),
    }
    return render(request, "catalog/artist.html", context)


def search(request: HttpRequest) -> HttpResponse:
    """Songs and artists whose name holds the words (match keys, so case and accents of
    spelling do not matter), songs paginated."""
    words = request.GET.get("q", "").strip()
    songs_page, artists = None, []
    if words:
        key = match_key(words)
        songs = (
            Song.objects.filter(Q(title_key__contains=key) | Q(artist__name_key__contains=key))
            .select_related("artist")
            .order_by("title_key", "pk")
        )
        songs_page = Paginator(songs, PAGE_SIZE).get_page(request.GET.get("page"))
        artists = list(Artist.objects.filter(name_key__contains=key).order_by("name_key")[:12])
    context = {
        "q": words,
        "query": urlencode({"q": words}),
        "songs": songs_page,
        "artists": artists,
    }
    return render(request, "catalog/search.html", context)
