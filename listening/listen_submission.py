"""Listens sent by a listener's own app or page: validated whole, stored whole, never twice.

A submission holds up to `MAX_LISTENS` items, each naming a song by id, or by artist and
title (matched in the catalogue, or created, as an import does). The caller validates each
item's shape first (the API's input serializer, web/api/inputs.py); here a song id that
names no song is refused per item, and if any is, nothing is stored. An item's
optional `client_id` makes a retried submission record nothing twice. After the listens are
committed, the listener's suggestions are refreshed (one refresh per burst).

A submission from a listener's app (`source="api"`) that records listens is an ImportBatch,
as a file is: its report counts the items read, recorded and found already recorded, and its
listens point to it. A submission with an invalid item stores nothing and makes no batch.

Curation (catalog/curation.py): an artist or song a submission names for the first time is
created pending, seen by its submitter only; a listener adds at most CATALOG_NEW_PER_DAY of
them in 24 hours (past it the item is refused, and so nothing is stored). Right after the
listens are stored, the pending artists and songs the submission played are counted — one
indexed count over only the items it touched, in the same transaction — and those that
CATALOG_PUBLIC_AFTER_LISTENERS distinct listeners have played turn public. Counting here
rather than in a periodic task makes an item public the moment it qualifies, and costs a
query on the listens of at most MAX_LISTENS items.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from catalog.curation import catalog_publish_reached
from catalog.models import Artist, CatalogStatus, Song
from listening import events
from listening.ingest.catalog_resolver import CatalogResolver
from listening.ingest.cleaning import normalise_names
from listening.ingest.report import CleaningReport
from listening.ingest.schema import conform
from listening.models import ImportBatch, Listen, Listener, SubmittedListen
from musicsite.jobs import JobStatus

MAX_LISTENS = 1_000
API_SOURCE = "api"  # the batches of a listener's app's submissions: their format and name
MAX_CLIENT_ID = 64
MAX_PLAY_COUNT = 10_000


class SubmissionError(Exception):
    """Some items are invalid: `errors` is [{"index", "field", "message"}], nothing stored."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(f"{len(errors)} invalid listen(s)")
        self.errors = errors


@dataclass
class SubmissionResult:
    recorded: list[int] = field(default_factory=list)  # new Listen ids, in item order
    duplicates: list[int] = field(default_factory=list)  # item indexes already recorded


@dataclass
class ListenItem:
    """One listen to record, already validated by its caller (web.api.inputs for the API:
    bounded ids and texts, an aware `played_at` inside the importer's window): a song by
    id, or by artist and title. `played_at` None means now; `index` is set by
    `listens_record` (the item's place in the submission)."""

    song_id: int | None = None
    artist: str | None = None
    title: str | None = None
    played_at: datetime | None = None
    play_count: int = 1
    client_id: str | None = None
    index: int = -1


def listens_record(
    listener: Listener, items: list[ListenItem], *, source: str = ""
) -> SubmissionResult:
    """Record the listener's listens (see the module doc); SubmissionError if a song id
    names no song (the one check that needs the database: the shape of each item is the
    caller's input serializer's).

    `source` names the ImportBatch the recorded listens join ("api"); none, no batch. The
    site's "I listened" button passes none: a click is one listen of a signed-in listener,
    and a batch per click would add a report row for every listen, as many as the listens.
    """
    now = timezone.now()
    checked = [
        replace(item, index=index, played_at=item.played_at or now)
        for index, item in enumerate(items)
    ]
    ids = {item.song_id for item in checked if item.song_id}
    # A song the listener may not see (another's pending one, a hidden one) is no song to them.
    visible = Song.objects.visible_to(listener.user).filter(pk__in=ids)
    known = dict(visible.values_list("pk", "artist_id"))
    errors = [
        {"index": item.index, "field": "song", "message": "no such song"}
        for item in checked
        if item.song_id and item.song_id not in known
    ]
    if errors:
        raise SubmissionError(errors)
    try:
        with transaction.atomic():
            result = _store(listener, checked, known, source)
    except IntegrityError:
        # The same listens arrived at the same time (a retry racing the original): now
        # stored, they are found and reported as duplicates.
        with transaction.atomic():
            result = _store(listener, checked, known, source)
    if result.recorded:
        events.listens_recorded.send(sender=Listen, listener_id=listener.pk)
    return result


def _store(
    listener: Listener, items: list[ListenItem], artist_of: dict[int, int], source: str
) -> SubmissionResult:
    """Bulk inserts of the items not stored before (by client id, or the same song at the
    same moment); the rest are reported as duplicates."""
    result = SubmissionResult()
    already = set(
        SubmittedListen.objects.filter(
            listener=listener, client_id__in=[item.client_id for item in items if item.client_id]
        ).values_list("client_id", flat=True)
    )
    fresh = [item for item in items if not (item.client_id and item.client_id in already)]
    _resolve_names(listener, fresh, artist_of)
    stored = set(
        Listen.objects.filter(
            listener=listener,
            song_id__in={item.song_id for item in fresh},
            played_at__in={item.played_at for item in fresh},
        ).values_list("song_id", "played_at")
    )
    new: list[ListenItem] = []
    repeated: list[ListenItem] = []  # the same song at the same moment earlier in this submission
    earlier = set(stored)
    for item in fresh:
        moment = (item.song_id, item.played_at)
        if moment not in stored:
            stored.add(moment)
            new.append(item)
        elif moment not in earlier:
            repeated.append(item)
    kept = {item.index for item in new}
    result.duplicates = [item.index for item in items if item.index not in kept]
    batch = None
    if source and new:
        again = {item.index for item in repeated}
        present = [item for item in items if item.index not in kept and item.index not in again]
        batch = _batch_create(listener, source, items, new, repeated, present)
    listens = Listen.objects.bulk_create(
        Listen(
            listener=listener,
            song_id=item.song_id,
            artist_id=artist_of.get(item.song_id),
            played_at=item.played_at,
            play_count=item.play_count,
            batch=batch,
        )
        for item in new
    )
    SubmittedListen.objects.bulk_create(
        SubmittedListen(listener=listener, client_id=item.client_id, listen=listen)
        for item, listen in zip(new, listens, strict=True)
        if item.client_id
    )
    result.recorded = [listen.pk for listen in listens]
    if listens:
        _publish_reached({item.song_id for item in new}, {artist_of.get(i.song_id) for i in new})
    return result


def _publish_reached(song_ids: set[int], artist_ids: set[int | None]) -> None:
    """Make public the pending songs and artists among these that enough distinct listeners
    have played (the module doc says why here)."""
    threshold = settings.CATALOG_PUBLIC_AFTER_LISTENERS
    for model, column, ids in ((Song, "song_id", song_ids), (Artist, "artist_id", artist_ids)):
        pending = model.objects.filter(pk__in=ids - {None}, status=CatalogStatus.PENDING)
        counts = (
            Listen.objects.filter(**{f"{column}__in": pending.values("pk")})
            .values(column)
            .annotate(listeners=Count("listener_id", distinct=True))
            .values_list(column, "listeners")
        )
        catalog_publish_reached(model, dict(counts), threshold=threshold)


def _batch_create(
    listener: Listener,
    source: str,
    items: list[ListenItem],
    new: list[ListenItem],
    repeated: list[ListenItem],
    present: list[ListenItem],
) -> ImportBatch:
    """The finished batch of one submission, with the cleaning report of an import: the
    same rule names for the same things (a repeat within it, a listen already stored)."""
    report = CleaningReport(rows_read=len(items), rows_loaded=len(new))
    report.count("duplicate_scrobble", _example_frame(listener, repeated))
    report.count("already_imported", _example_frame(listener, present))
    now = timezone.now()
    return ImportBatch.objects.create(
        format=source,
        source_name=source,
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        created_at=now,
        started_at=now,
        finished_at=now,
        rows_read=report.rows_read,
        rows_loaded=report.rows_loaded,
        rows_rejected=report.rows_rejected,
        report=report.to_dict(),
        created_by=listener.user,
    )


def _example_frame(listener: Listener, items: list[ListenItem]) -> pd.DataFrame:
    """Items as the report's example rows (`line`: the item's place, from 1)."""
    return pd.DataFrame(
        {
            "line": [item.index + 1 for item in items],
            "listener": str(listener),
            "artist": [item.artist for item in items],
            "title": [item.title for item in items],
            "played_at": [pd.Timestamp(item.played_at) for item in items],
            "play_count": [item.play_count for item in items],
        }
    )


def _resolve_names(listener: Listener, items: list[ListenItem], artist_of: dict[int, int]) -> None:
    """Give artist + title items their song ids, matching as an import does; what is new to
    the catalogue is created pending, submitted by the listener, within the daily limit
    (SubmissionError past it: the caller's transaction then stores nothing)."""
    named = [item for item in items if item.song_id is None]
    if not named:
        return
    frame = conform(
        pd.DataFrame(
            {"artist": [item.artist for item in named], "title": [item.title for item in named]}
        )
    )
    frame, _ = normalise_names(frame)
    resolver = CatalogResolver(
        source=Listener.SITE_SOURCE,
        new_rows={"status": CatalogStatus.PENDING, "submitted_by_id": listener.user_id},
    )
    resolved = resolver.resolve_catalog(frame)
    for item, song_id, artist_id in zip(
        named, resolved["song_id"], resolved["artist_id"], strict=True
    ):
        item.song_id = int(song_id)
        artist_of[item.song_id] = int(artist_id)
    if listener.user_id and (resolver.created_songs or resolver.created_artists):
        _check_daily_limit(listener, named, resolver, artist_of)


def _check_daily_limit(
    listener: Listener, named: list[ListenItem], resolver: CatalogResolver, artist_of: dict
) -> None:
    """Refuse the items that bring a new artist or song past the listener's daily allowance
    (CATALOG_NEW_PER_DAY new entries in the last 24 hours, this submission's included)."""
    limit = settings.CATALOG_NEW_PER_DAY
    since = timezone.now() - timedelta(days=1)
    new = {("song", pk) for pk in resolver.created_songs}
    new |= {("artist", pk) for pk in resolver.created_artists}
    # The rows just made are in these counts already: take them out to count the earlier.
    made = sum(
        model.objects.filter(submitted_by_id=listener.user_id, created_at__gte=since).count()
        for model in (Song, Artist)
    )
    earlier = made - len(new)
    counted: set[tuple[str, int]] = set()
    errors = []
    message = f"more than {limit} new artists and songs in 24 hours: try again later"
    for item in named:
        adds = {("song", item.song_id), ("artist", artist_of.get(item.song_id))} & new - counted
        counted |= adds
        if adds and earlier + len(counted) > limit:
            errors.append({"index": item.index, "field": "title", "message": message})
    if errors:
        raise SubmissionError(errors)
