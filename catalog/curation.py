"""Curation: what of the catalogue is public, and joining duplicates.

An artist or song first named in a listener's submission is created `pending`: its
submitter sees it at once, nobody else does (search, pages, the catalogue API, charts,
anyone's suggestions) until `catalog_publish_reached` finds enough distinct listeners of it
(the caller counts them: the catalogue knows no listens) or staff approve it. Hidden rows
stay hidden whatever their listeners. Every function takes ids and writes in bulk.
"""

from collections.abc import Iterable

from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery

from .models import Artist, CatalogStatus, Song

# Fields that count plays: when a merge makes two rows one, their counts add up.
COUNTERS = ("play_count",)


class MergeError(Exception):
    """A merge that would lose or mix up data; nothing was changed."""


def catalog_approve(*, artist_ids: Iterable[int] = (), song_ids: Iterable[int] = ()) -> int:
    """Make these artists and songs public, with the artists of the songs (a public song of
    an artist nobody may see would show a name its page refuses). Returns rows changed."""
    song_ids = list(song_ids)
    artist_ids = set(artist_ids) | set(
        Song.objects.filter(pk__in=song_ids, artist__isnull=False).values_list(
            "artist_id", flat=True
        )
    )
    changed = Song.objects.filter(pk__in=song_ids).exclude(status=CatalogStatus.PUBLIC)
    count = changed.update(status=CatalogStatus.PUBLIC)
    artists = Artist.objects.filter(pk__in=artist_ids).exclude(status=CatalogStatus.PUBLIC)
    return count + artists.update(status=CatalogStatus.PUBLIC)


def catalog_hide(*, artist_ids: Iterable[int] = (), song_ids: Iterable[int] = ()) -> int:
    """Hide these artists (with all their songs) and songs from everyone, for good: reaching
    the threshold never makes a hidden row public again, only staff approval does."""
    artist_ids = list(artist_ids)
    songs = Song.objects.filter(
        models.Q(pk__in=list(song_ids)) | models.Q(artist_id__in=artist_ids)
    )
    count = songs.exclude(status=CatalogStatus.HIDDEN).update(status=CatalogStatus.HIDDEN)
    artists = Artist.objects.filter(pk__in=artist_ids).exclude(status=CatalogStatus.HIDDEN)
    return count + artists.update(status=CatalogStatus.HIDDEN)


def catalog_publish_reached(
    model: type[Artist] | type[Song], listeners_of: dict[int, int], *, threshold: int
) -> list[int]:
    """Make public the pending rows among `listeners_of` (id -> distinct listeners) that
    reached `threshold`; the ids made public."""
    reached = [pk for pk, listeners in listeners_of.items() if listeners >= threshold]
    rows = model.objects.filter(pk__in=reached, status=CatalogStatus.PENDING)
    ids = list(rows.values_list("pk", flat=True))
    model.objects.filter(pk__in=ids).update(status=CatalogStatus.PUBLIC)
    return ids


def _references(model: type[models.Model]) -> list[models.ForeignKey]:
    """Every foreign key to `model`, in any app (found through the model registry, so the
    catalogue imports none of the apps that point at it)."""
    fields = []
    relations = [
        field
        for field in model._meta.get_fields(include_hidden=True)  # related_name="+" too
        if field.auto_created and not field.concrete and field.is_relation
    ]
    for relation in relations:
        if relation.many_to_many:
            raise MergeError(f"{relation.related_model.__name__} holds a many-to-many link")
        fields.append(relation.field)
    return fields


def _unique_sets(field: models.ForeignKey) -> list[tuple[tuple[str, ...], Q]]:
    """The other fields that, with `field`, must be unique on its model, each with the
    condition under which they must be (a partial unique constraint's)."""
    meta = field.model._meta
    sets = [(tuple(names), Q()) for names in meta.unique_together]
    sets += [
        (tuple(constraint.fields), constraint.condition or Q())
        for constraint in meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields
    ]
    if field.unique:
        sets.append(((field.name,), Q()))
    return [
        (tuple(n for n in names if n != field.name), condition)
        for names, condition in sets
        if field.name in names
    ]


def _move_one(field: models.ForeignKey, duplicate: int, keep_id: int) -> None:
    """Point the rows of `duplicate` at `keep_id`. A row that would then break a unique
    constraint (a listener's feedback on both; an aggregated play count of both) is folded
    into the kept one: its `COUNTERS` added to the kept row's, then deleted."""
    related = field.model._default_manager
    counters = [name for name in COUNTERS if any(f.name == name for f in field.model._meta.fields)]
    for others, condition in _unique_sets(field):
        moving = related.filter(condition, **{field.name: duplicate})
        kept = related.filter(condition, **{field.name: keep_id})
        twin = {name: OuterRef(name) for name in others}
        for counter in counters:
            added = Subquery(moving.filter(**twin).values(counter)[:1])
            kept.filter(Exists(moving.filter(**twin))).update(**{counter: F(counter) + added})
        moving.filter(Exists(kept.filter(**twin))).delete()
    related.filter(**{field.name: duplicate}).update(**{field.name: keep_id})


@transaction.atomic
def catalog_merge(
    model: type[Artist] | type[Song], *, keep_id: int, duplicate_ids: Iterable[int]
) -> int:
    """Move every reference to the duplicates onto `keep_id` and delete the duplicates.

    References are moved in bulk per table (listens, feedback, skips, songs of an artist...).
    Where a table holds one row per (something, item) — a listener's feedback on a song, an
    aggregated play count — a duplicate's row that would collide with the kept one's is
    folded into it (`_move_one`: counts added, the kept feedback stands for both). Songs of
    different artists are refused: their listens carry the artist, so merge the artists
    first. The kept row turns public if any duplicate was. Returns the
    number of duplicates deleted.
    """
    duplicates = [pk for pk in set(duplicate_ids) if pk != keep_id]
    keep = model.objects.select_for_update().get(pk=keep_id)
    found = list(model.objects.filter(pk__in=duplicates))
    if len(found) != len(duplicates):
        raise MergeError("some of the duplicates no longer exist")
    if model is Song and any(song.artist_id != keep.artist_id for song in found):
        raise MergeError("these songs have different artists: merge the artists first")
    for field in _references(model):
        if not _unique_sets(field):
            related = field.model._default_manager
            related.filter(**{f"{field.name}__in": duplicates}).update(**{field.name: keep_id})
            continue
        # One duplicate at a time: two duplicates may clash with each other too.
        for duplicate in duplicates:
            _move_one(field, duplicate, keep_id)
    if keep.status == CatalogStatus.PENDING and any(
        row.status == CatalogStatus.PUBLIC for row in found
    ):
        model.objects.filter(pk=keep_id).update(status=CatalogStatus.PUBLIC)
    deleted, _ = model.objects.filter(pk__in=duplicates).delete()
    return len(duplicates) if deleted else 0
