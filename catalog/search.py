"""Catalogue search: a word anywhere in a name, prefix matches first.

A contains over the match key (case and spelling folded as `catalog.names.match_key`), which
PostgreSQL answers from the keys' trigram indexes (migration 0003) and SQLite by a scan. A
song matches by its title or its artist's name; the artist side is read first as a list of
artist ids, so PostgreSQL ORs two indexes of the song table (`_by_artist`).
"""

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from .models import Artist, Song
from .names import match_key

ARTIST_IDS = 5_000


def _prefix_first(field: str, key: str) -> Case:
    return Case(
        When(**{f"{field}__startswith": key}, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )


def _by_artist(key: str) -> Q:
    """Songs of the artists whose names hold `key`, as a list of ids. As a subquery, the OR
    with the title's LIKE became one filter on every song (a hashed subplan: a scan of the
    table, trigram index unused, benchmarks/results/search.md); with the ids read first (the
    artist index, milliseconds), PostgreSQL ORs the song table's trigram and artist-id
    indexes. Past `ARTIST_IDS` artists the subquery is as good, and a shorter statement."""
    artists = Artist.objects.filter(name_key__contains=key).values_list("pk", flat=True)
    ids = list(artists[: ARTIST_IDS + 1])
    if len(ids) > ARTIST_IDS:
        return Q(artist_id__in=artists)
    return Q(artist_id__in=ids)


def songs_search(words: str, *, user=None) -> QuerySet[Song]:
    """Songs `user` may see whose title or artist's name holds `words`, titles starting
    with them first, then by title."""
    key = match_key(words)
    if not key:  # only invisible characters: no word to find (an empty one matches all)
        return Song.objects.none()
    return (
        Song.objects.visible_to(user)
        .filter(Q(title_key__contains=key) | _by_artist(key))
        .alias(prefix=_prefix_first("title_key", key))
        .order_by("prefix", "title_key", "pk")
    )


def artists_search(words: str, *, user=None) -> QuerySet[Artist]:
    """Artists `user` may see whose name holds `words`, names starting with them first."""
    key = match_key(words)
    if not key:
        return Artist.objects.none()
    return (
        Artist.objects.visible_to(user)
        .filter(name_key__contains=key)
        .alias(prefix=_prefix_first("name_key", key))
        .order_by("prefix", "name_key", "pk")
    )
