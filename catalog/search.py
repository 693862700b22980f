"""Catalogue search: a word anywhere in a name, prefix matches first.

A contains over the match key (case and spelling folded as `catalog.names.match_key`), which
PostgreSQL answers from the keys' trigram indexes (migration 0003) and SQLite by a scan. A
song matches by its title or its artist's name; the artist side is a subquery on artist ids,
so each side uses its own index (an OR across a join would scan both tables).
"""

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from .models import Artist, Song
from .names import match_key


def _prefix_first(field: str, key: str) -> Case:
    return Case(
        When(**{f"{field}__startswith": key}, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )


def songs_search(words: str, *, user=None) -> QuerySet[Song]:
    """Songs `user` may see whose title or artist's name holds `words`, titles starting
    with them first, then by title."""
    key = match_key(words)
    if not key:  # only invisible characters: no word to find (an empty one matches all)
        return Song.objects.none()
    artists = Artist.objects.filter(name_key__contains=key).values("pk")
    return (
        Song.objects.visible_to(user)
        .filter(Q(title_key__contains=key) | Q(artist_id__in=artists))
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
