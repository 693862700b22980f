"""Each listener's first page of suggestions, rendered by the publication, before anyone asks.

A publication writes its lists block by block into a set still `building`, and announces
each block (recommender.events.lists_written); here every listener of the block gets their
API first page, song and artist level, as the exact bytes the API view would answer
(rendered from the same entries and the same renderer), kept under (set, listener, level).
The read path (web/fast_reads.py) serves them once their set is active, and a listener's
refreshed list (lists_changed) is rendered again at once, so the first read after a
publication or a new listen is one Redis round trip, not DRF and the catalogue.

What the bytes cannot know is the request's own URL, which DRF writes into `next`: the
page keeps a placeholder there, and the reader puts the request's link in (`with_next`).
Pages are zlib-compressed (a sixth of their size: benchmarks/results/serve.md measures
it); a set's pages are deleted when it is retired, and expire after READY_PAGE_SECONDS
whatever happens.

In Redis the pages are raw keys under the cache's prefix (the read script fetches them
itself); in the embedded default they go through the local-memory cache.
"""

import gc
import json
import logging
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from itertools import islice

import redis
from django.conf import settings
from django.core.cache import cache

from listening.models import Listener
from musicsite.safe_cache import attempt
from recommender import serving
from recommender.models import ListenerRecommendations, RecommendationSet, SetStatus
from web.api.entries import entries_of, listener_histories
from web.page_bytes import PageWriter

LEVELS = ("song", "artist")
PAGE_SIZE = 20  # the API's (web.api.recommendations.SuggestionPagination)
BLOCK = 5_000  # listeners rendered together: a dozen queries, a block's songs shaped once
NEXT_PLACEHOLDER = b'"next":"ready-page:next"'
log = logging.getLogger(__name__)
_client: dict[str, redis.Redis] = {}


def page_key(set_id: int, listener_id: int, level: str) -> str:
    return f"ready:page:{set_id}:{listener_id}:{level}"


def redis_client() -> redis.Redis | None:
    """One Redis client per process when Redis is configured, else None (Django's cache
    API builds a client object per call, which costs more than the round trip)."""
    url = settings.REDIS_URL
    if not url:
        return None
    if url not in _client:
        _client.clear()
        _client[url] = redis.Redis.from_url(url)
    return _client[url]


def first_page(value: dict) -> dict:
    """The API's answer for the first page of these entries, as DRF's paginator shapes it
    (`next` the placeholder when there is a second page)."""
    results = value["results"]
    count = value.get("count", len(results))  # entries_of(first=...) shapes only a page
    head = {key: item for key, item in value.items() if key not in ("results", "count")}
    return head | {
        "count": count,
        "next": "ready-page:next" if count > PAGE_SIZE else None,
        "previous": None,
        "results": results[:PAGE_SIZE],
    }


def rendered(value: dict, writer: PageWriter | None = None) -> bytes:
    """A first page's stored form: the JSON bytes of `first_page`, compressed (`writer`:
    one kept for a block, which writes each of its songs' JSON once)."""
    return zlib.compress((writer or PageWriter()).render(first_page(value)), 6)


def with_next(stored: bytes, next_link: Callable[[], bytes]) -> bytes:
    """The bytes DRF answers: the stored page with the request's own `next` link (its
    JSON, as the renderer writes it) in place of the placeholder, if it has one."""
    body = zlib.decompress(stored)
    if NEXT_PLACEHOLDER not in body:
        return body
    return body.replace(NEXT_PLACEHOLDER, b'"next":' + next_link(), 1)


def _lists_of(ready_set: RecommendationSet, listener_ids: list[int]) -> dict[str, dict]:
    """{level: {listener: the list as serving.listener_list shapes it}} for these listeners
    of the set, in one query; a listener without a row at a level gets the set's charts."""
    rows = ListenerRecommendations.objects.filter(
        recommendation_set_id=ready_set.pk, listener_id__in=listener_ids
    ).values_list(
        "listener_id", "level", "item_ids", "scores", "reasons", "is_fallback", "refreshed_at"
    )
    found = {(row[0], row[1]): row[2:] for row in rows}
    lists: dict[str, dict] = {level: {} for level in LEVELS}
    for level in LEVELS:
        chart = ready_set.charts.get(level, [])
        charts = (
            [item for item, _ in chart],
            [score for _, score in chart],
            [None] * len(chart),
            True,
            None,
        )
        # As serving.listener_list: an artist-level set's song lists are made from its
        # artist lists, so their reasons are artists.
        reason_level = "artist" if ready_set.run.level == "artist" else level
        algorithm = ready_set.run.algorithm
        for listener in listener_ids:
            items, scores, reasons, fallback, refreshed = found.get((listener, level), charts)
            lists[level][listener] = {
                "items": items,
                "scores": scores,
                "reasons": reasons,
                "fallback": fallback,
                "refreshed_at": refreshed.isoformat() if refreshed else None,
                "set": ready_set.pk,
                "algorithm": algorithm,
                "level": level,
                "reason_level": reason_level,
            }
    return lists


@contextmanager
def _no_collection():
    """The cyclic garbage collector paused: a block makes hundreds of thousands of small
    dicts and strings (no cycles: freed by their counts), and its generations' collections,
    scanning them all again and again, took a quarter of the render
    (benchmarks/results/serve.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def pages_render(ready_set: RecommendationSet, listener_ids: list[int]) -> dict[str, bytes]:
    """{key: stored page} for these listeners of the set, both levels, in a bounded
    number of queries (about a dozen, whatever the number of listeners)."""
    with _no_collection():
        return _pages_render(ready_set, listener_ids)


def _pages_render(ready_set: RecommendationSet, listener_ids: list[int]) -> dict[str, bytes]:
    pages = {}
    lists = _lists_of(ready_set, listener_ids)
    # Both levels' lists of the block looked up in the listeners' histories at once.
    wanted: dict[str, set[int]] = {level: set() for level in LEVELS}
    for level, listed in lists.items():
        for value in listed.values():
            wanted[level].update(value["items"])
            wanted[value["reason_level"]].update(pk for pk in value["reasons"] if pk)
    histories = listener_histories(listener_ids, wanted)
    for level, listed in lists.items():
        writer = PageWriter()  # per level: its fragments live as long as the entries
        values = entries_of(listed, level, first=PAGE_SIZE, histories=histories)
        for listener, value in values.items():
            pages[page_key(ready_set.pk, listener, level)] = rendered(value, writer)
    return pages


def pages_store(pages: dict[str, bytes]) -> None:
    """Keep these pages for READY_PAGE_SECONDS (raises when Redis cannot take them: a
    publication block that could not keep its pages fails and is retried)."""
    seconds = settings.READY_PAGE_SECONDS
    client = redis_client()
    if client is None:
        cache.set_many(pages, seconds)
        return
    pipe = client.pipeline(transaction=False)
    for key, page in pages.items():
        pipe.set(cache.make_key(key), page, ex=seconds)
    pipe.execute()


def load_page(set_id: int, listener_id: int, level: str) -> bytes | None:
    """A stored page, or None (missing, or the cache is down)."""
    key = page_key(set_id, listener_id, level)
    client = redis_client()
    if client is None:
        return attempt("get", key)
    try:
        return client.get(cache.make_key(key))
    except redis.RedisError:
        return None


def first_page_value(listener_id: int, level: str) -> dict | None:
    """The listener's ready first page in the active set, parsed (what the home page
    shows: the first results and the list's fallback and refresh), or None."""
    current = serving.active_set()
    stored = None if current is None else load_page(current.id, listener_id, level)
    if stored is None:
        return None
    return json.loads(with_next(stored, lambda: b"null"))


def readers(listener_ids: list[int]) -> list[int]:
    """Those of these listeners who can read a page: the ones with an account. An imported
    listener without one (a Taste Profile user id) is never signed in, and rendering their
    pages was most of a publication's time (benchmarks/results/publish.md); one who signs
    up later is answered by DRF once, which keeps what it renders."""
    can_read = Listener.objects.filter(pk__in=listener_ids, user__isnull=False)
    return sorted(can_read.values_list("pk", flat=True))


def ready_pages_write(*, set_id: int, listener_ids) -> int:
    """Render and keep the first pages of these listeners of the set who can read them
    (`readers`), a block at a time; how many listeners."""
    ready_set = RecommendationSet.objects.select_related("run").get(pk=set_id)
    count, ids = 0, iter(listener_ids)
    while block := list(dict.fromkeys(islice(ids, BLOCK))):
        if block := readers(block):
            pages_store(pages_render(ready_set, block))
            count += len(block)
    return count


def on_lists_written(sender=None, *, set_id: int, listener_ids, **kwargs) -> None:
    """A publication block's lists are in their set: render their pages now (an error
    fails the block, which is retried)."""
    ready_pages_write(set_id=set_id, listener_ids=listener_ids)


def on_lists_changed(sender=None, *, listener_id: int, **kwargs) -> None:
    """A listener's list in the active set changed (a refresh, sent once it is saved):
    their pages again. The old ones go first, so a render that fails leaves a miss (DRF
    answers, and keeps what it renders), never the old list."""
    current = serving.active_set()
    if current is None:
        return
    attempt("delete_many", [page_key(current.id, listener_id, level) for level in LEVELS])
    try:
        ready_pages_write(set_id=current.id, listener_ids=[listener_id])
    except (redis.RedisError, RecommendationSet.DoesNotExist):
        log.warning("ready pages of listener %s not rewritten", listener_id, exc_info=True)


def ready_pages_forget(*, set_id: int) -> None:
    """Delete a set's pages (a retired set: a rollback renders them again), so Redis holds
    the active set's pages and, during a publication, the building one's: no more."""
    listeners = ListenerRecommendations.objects.filter(recommendation_set_id=set_id)
    ids = iter(listeners.values_list("listener_id", flat=True).distinct().order_by())
    client = redis_client()
    while block := list(islice(ids, 10 * BLOCK)):
        keys = [page_key(set_id, pk, level) for pk in block for level in LEVELS]
        if client is None:
            cache.delete_many(keys)
        else:
            client.unlink(*[cache.make_key(key) for key in keys])


def on_active_set_changed(sender=None, **kwargs) -> None:
    """The switch is saved when this is sent: the set it retired loses its pages."""
    retired = RecommendationSet.objects.filter(status=SetStatus.RETIRED).order_by("-retired_at")
    retired_id = retired.values_list("pk", flat=True).first()
    if retired_id is not None:
        try:
            ready_pages_forget(set_id=retired_id)
        except redis.RedisError:
            log.warning("ready pages of set %s not deleted", retired_id, exc_info=True)


def missing_pages_of_active_set() -> int | None:
    """The active set, when its listeners with an account have no ready pages (a set made
    active again by a rollback, or published before pages were rendered); else None."""
    set_id = (
        RecommendationSet.objects.filter(status=SetStatus.ACTIVE)
        .values_list("pk", flat=True)
        .first()
    )
    if set_id is None:
        return None
    first = _readers_of(set_id).first()
    if first is None or load_page(set_id, first, "song") is not None:
        return None  # nothing to serve, or the publication rendered them (lists_written)
    return set_id


def ready_pages_render_all(*, set_id: int) -> int:
    """Render the pages of every listener with an account in set `set_id` (while it is
    the active set); how many listeners."""
    listeners = list(_readers_of(set_id))
    try:
        ready_pages_write(set_id=set_id, listener_ids=listeners)
    except redis.RedisError:
        log.warning("ready pages of set %s not written", set_id, exc_info=True)
        return 0
    return len(listeners)


def _readers_of(set_id: int):
    return (
        ListenerRecommendations.objects.filter(
            recommendation_set_id=set_id, listener__user__isnull=False
        )
        .values_list("listener_id", flat=True)
        .order_by("listener_id")
        .distinct()
    )
