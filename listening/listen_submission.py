"""Listens sent by a listener's own app or page: validated whole, stored whole, never twice.

A submission holds up to `MAX_LISTENS` items, each naming a song by id, or by artist and
title (matched in the catalogue, or created, as an import does). Every item is checked
first; if any is wrong, the errors come back per item and nothing is stored. An item's
optional `client_id` makes a retried submission record nothing twice. After the listens are
committed, the listener's suggestions are refreshed (one refresh per burst).

A submission from a listener's app (`source="api"`) that records listens is an ImportBatch,
as a file is: its report counts the items read, recorded and found already recorded, and its
listens point to it. A submission with an invalid item stores nothing and makes no batch.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Song
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
class _Item:
    index: int
    song_id: int | None
    artist: str | None
    title: str | None
    played_at: datetime
    play_count: int
    client_id: str | None


def _check(index: int, raw: Any, now: datetime) -> tuple[_Item | None, list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []

    def error(field_name: str, message: str) -> None:
        errors.append({"index": index, "field": field_name, "message": message})

    if not isinstance(raw, dict):
        error("", "must be an object")
        return None, errors
    unknown = sorted(set(raw) - {"song", "artist", "title", "played_at", "play_count", "client_id"})
    if unknown:
        error(unknown[0], f"unknown field(s): {', '.join(unknown)}")
    song = raw.get("song")
    artist, title = raw.get("artist"), raw.get("title")
    if song is not None:
        if isinstance(song, bool) or not isinstance(song, int) or song < 1:
            error("song", "must be a song id (a positive integer)")
        if artist is not None or title is not None:
            error("song", "give a song id or an artist and title, not both")
    else:
        for name, value in (("artist", artist), ("title", title)):
            if not isinstance(value, str) or not value.strip():
                error(name, "required (with the other) when no song id is given")
            elif len(value) > 500:
                error(name, "must be at most 500 characters")
            elif "\x00" in value:
                error(name, "must not contain NUL characters")
    played_at = raw.get("played_at")
    when = now
    if played_at is not None:
        parsed = (
            pd.to_datetime(played_at, utc=True, errors="coerce")
            if isinstance(played_at, str)
            else None
        )
        if parsed is None or pd.isna(parsed):
            error("played_at", "must be an ISO 8601 date and time, e.g. 2026-11-26T21:04:00Z")
        elif parsed.to_pydatetime() > now + pd.Timedelta(minutes=5):
            error("played_at", "is in the future")
        else:
            when = parsed.to_pydatetime()
    play_count = raw.get("play_count", 1)
    if isinstance(play_count, bool) or not isinstance(play_count, int):
        error("play_count", "must be an integer")
    elif not 1 <= play_count <= MAX_PLAY_COUNT:
        error("play_count", f"must be between 1 and {MAX_PLAY_COUNT}")
    client_id = raw.get("client_id")
    if client_id is not None and (
        not isinstance(client_id, str)
        or not client_id
        or len(client_id) > MAX_CLIENT_ID
        or "\x00" in client_id
    ):
        error("client_id", f"must be a non-empty string of at most {MAX_CLIENT_ID} characters")
    if errors:
        return None, errors
    return _Item(index, song, artist, title, when, play_count, client_id), []


def listens_record(listener: Listener, items: Any, *, source: str = "") -> SubmissionResult:
    """Record the listener's listens (see the module doc); SubmissionError if any is wrong.

    `source` names the ImportBatch the recorded listens join ("api"); none, no batch. The
    site's "I listened" button passes none: a click is one listen of a signed-in listener,
    and a batch per click would add a report row for every listen, as many as the listens.
    """
    if not isinstance(items, list) or not items:
        raise SubmissionError(
            [{"index": None, "field": "listens", "message": "must be a non-empty list"}]
        )
    if len(items) > MAX_LISTENS:
        raise SubmissionError(
            [
                {
                    "index": None,
                    "field": "listens",
                    "message": f"at most {MAX_LISTENS} listens per request, not {len(items)}",
                }
            ]
        )
    now = timezone.now()
    checked: list[_Item] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        item, item_errors = _check(index, raw, now)
        errors.extend(item_errors)
        if item is not None:
            checked.append(item)
    seen: set[str] = set()
    for item in checked:
        if item.client_id and item.client_id in seen:
            message = "repeats the client_id of an earlier item"
            errors.append({"index": item.index, "field": "client_id", "message": message})
        seen.add(item.client_id or "")
    ids = {item.song_id for item in checked if item.song_id}
    known = dict(Song.objects.filter(pk__in=ids).values_list("pk", "artist_id"))
    for item in checked:
        if item.song_id and item.song_id not in known:
            errors.append({"index": item.index, "field": "song", "message": "no such song"})
    if errors:
        raise SubmissionError(sorted(errors, key=lambda e: (e["index"] is not None, e["index"])))
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
    listener: Listener, items: list[_Item], artist_of: dict[int, int], source: str
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
    _resolve_names(fresh, artist_of)
    stored = set(
        Listen.objects.filter(
            listener=listener,
            song_id__in={item.song_id for item in fresh},
            played_at__in={item.played_at for item in fresh},
        ).values_list("song_id", "played_at")
    )
    new: list[_Item] = []
    repeated: list[_Item] = []  # the same song at the same moment earlier in this submission
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
    return result


def _batch_create(
    listener: Listener,
    source: str,
    items: list[_Item],
    new: list[_Item],
    repeated: list[_Item],
    present: list[_Item],
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


def _example_frame(listener: Listener, items: list[_Item]) -> pd.DataFrame:
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


def _resolve_names(items: list[_Item], artist_of: dict[int, int]) -> None:
    """Give artist + title items their song ids, matching or creating as an import does."""
    named = [item for item in items if item.song_id is None]
    if not named:
        return
    frame = conform(
        pd.DataFrame(
            {"artist": [item.artist for item in named], "title": [item.title for item in named]}
        )
    )
    frame, _ = normalise_names(frame)
    resolved = CatalogResolver(source=Listener.SITE_SOURCE).resolve_catalog(frame)
    for item, song_id, artist_id in zip(
        named, resolved["song_id"], resolved["artist_id"], strict=True
    ):
        item.song_id = int(song_id)
        artist_of[item.song_id] = int(artist_id)
