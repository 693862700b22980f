"""What `listener_lists.lists_build` reads from the database, and refolding a few listeners.

Publishing reads everyone's listening in bulk (`data.build_matrix`); a refresh reads one
listener's with a few indexed queries. Both turn it into confidence rows the same way
(`confidence_rows`: plays, skips and loves in the model's columns, weighted as the run was),
and both read not-for-me and loves through the same functions. `lists_refold` is the
one-or-few-listener path: a refresh of one listener, and the catch-up after a publication
(`changed_since` a `read_point`).

Listeners flagged as bots get no lists on either path (the matrix leaves their listens out).

An artist-level set serves song lists too, made from each listener's artist list
(`listener_lists.songs_from_artists`): publishing keeps each artist's most-listened songs
with the set (`ArtistTopSongs`), and a refresh reads them back (`stored_artist_songs`), so
both paths pick the same songs; `artist_songs` adds what each listener must not be offered.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from django.db.models import Count, Sum
from django.utils import timezone

from catalog.models import Song
from listening.models import Feedback, Listen, Listener, Skip
from recommender import algorithms
from recommender.data import (
    InteractionMatrix,
    newest_listen_id,
    newest_skip_id,
    refused_pairs,
)
from recommender.listener_lists import (
    ARTIST_SONGS_KEPT,
    ArtistMap,
    ArtistSongs,
    cells,
    depth_of,
    lists_build,
    positions,
)
from recommender.models import ArtistTopSongs, ModelRun, RecommendationSet, SimilarItems
from recommender.seeds import live_loves, loved_pairs
from recommender.set_writer import lists_replace
from recommender.suggestions import neighbour_links
from recommender.training import model_run_load, weigh


@dataclass
class PublishedModel:
    """A trained run as the list builder needs it: the model, its id maps and, at song
    level, each song column's artist column over the sorted artist ids."""

    model: algorithms.Recommender
    level: str
    listener_ids: np.ndarray
    item_ids: np.ndarray
    song_artist: np.ndarray | None
    artist_ids: np.ndarray | None

    def artist_map(self, listener_ids: np.ndarray, among: list[int] | None = None) -> ArtistMap:
        """At song level, what the artist roll-up needs for these (sorted) listeners, with
        the artists never offered to them: their live not-for-me artists and the artists they
        loved or picked (read for `among` only, when given)."""
        loves = live_loves(among)
        loved = loves[loves[:, 2] >= 0][:, [0, 2]]
        pairs = np.concatenate([refused_pairs("artist", among), loved])
        return ArtistMap(
            self.song_artist, len(self.artist_ids), cells(listener_ids, self.artist_ids, pairs)
        )


def published_model_load(run: ModelRun) -> PublishedModel:
    model, level, listener_ids, item_ids = model_run_load(run)
    song_artist = artist_ids = None
    if level == "song":
        song_artist, artist_ids = song_artists(item_ids)
    return PublishedModel(model, level, listener_ids, item_ids, song_artist, artist_ids)


def published_model(run: ModelRun) -> PublishedModel:
    """The run's model, kept per process for refreshes (loading is the slow part)."""
    # Keyed by when it was trained too: SQLite may give a new run a deleted run's id.
    return _published_model(run.pk, run.artifact, run.finished_at)


@lru_cache(maxsize=1)
def _published_model(run_id: int, artifact: str, finished_at) -> PublishedModel:
    return published_model_load(ModelRun.objects.get(pk=run_id))


def song_artists(song_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each song's artist column, -1 unknown; the sorted artist ids)."""
    artist_by_song = dict(
        Song.objects.filter(pk__in=song_ids.tolist(), artist__isnull=False).values_list(
            "pk", "artist_id"
        )
    )
    song_artist_ids = np.array([artist_by_song.get(int(pk), -1) for pk in song_ids], np.int64)
    artist_ids = np.unique(song_artist_ids[song_artist_ids >= 0])
    return np.where(song_artist_ids >= 0, positions(artist_ids, song_artist_ids), -1), artist_ids


def confidence_rows(
    plays: sp.csr_matrix,
    skips: sp.csr_matrix,
    loved: sp.csr_matrix,
    run: ModelRun,
    item_ids,
    refused: sp.csr_matrix | None = None,
) -> sp.csr_matrix:
    """Listeners x model items confidences: plays (and skips) weighted by the run's
    weighting, what a listener loves counted as one play where they have not played it,
    and what they refused (`refused`, 0/1) dropped, as training drops it.

    A weighting whose cell depends on the whole matrix (bm25's item frequencies) cannot give
    one listener the value publishing gives them: use "log" or "raw" for refreshes to agree.
    """
    plays = sp.csr_matrix(plays, dtype=np.float32)
    played = plays.copy()
    played.data[:] = 1.0
    loved = sp.csr_matrix(loved - loved.multiply(played), dtype=np.float32)
    loved.eliminate_zeros()
    rows = np.arange(plays.shape[0])
    matrix = InteractionMatrix(
        run.level, sp.csr_matrix(plays + loved), skips, rows, item_ids, refused=refused
    )
    return weigh(matrix, run.weighting)


def held_cells(plays: sp.csr_matrix, loved: sp.csr_matrix) -> sp.csr_matrix:
    """Listeners x model items, 1 where the listener played, loved or picked the item: what
    they hold whatever the weighting makes of it (bm25 drops an item nearly everyone plays,
    and on a refresh's one-row matrix every item), never suggested back to them."""
    held = sp.csr_matrix(sp.csr_matrix(plays, dtype=np.float32) + loved, dtype=np.float32)
    held.data = (held.data > 0).astype(np.float32)
    held.eliminate_zeros()
    return held


def artist_songs(
    listener_ids: np.ndarray,
    song_ids: np.ndarray,
    best: np.ndarray,
    heard: sp.csr_matrix,
    among: list[int] | None = None,
) -> ArtistSongs:
    """What an artist-level set's song lists need for these (sorted) listeners: the artists'
    best songs (columns of `song_ids`) and, never offered, the songs they have `heard`
    (listeners x song_ids), loved or refused (read for `among` only, when given)."""
    loves = live_loves(among)
    loved = loves[loves[:, 1] >= 0][:, :2]
    pairs = np.concatenate([refused_pairs("song", among), loved])
    return ArtistSongs(best, sp.csr_matrix(heard + cells(listener_ids, song_ids, pairs)))


def stored_artist_songs(
    recommendation_set: RecommendationSet, artist_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(sorted song ids, each of `artist_ids`' best songs as columns of them, -1 pad): what
    publishing kept with the set, read once per process and set (a refresh's hot path)."""
    stored_artists, song_ids, best = _stored_artist_songs(
        recommendation_set.pk, recommendation_set.created_at
    )
    if not len(stored_artists):  # a set of artist-only listens, or one published before them
        return song_ids, np.full((len(artist_ids), ARTIST_SONGS_KEPT), -1, dtype=np.int64)
    places = positions(stored_artists, artist_ids)
    return song_ids, np.where((places >= 0)[:, None], best[np.maximum(places, 0)], -1)


@lru_cache(maxsize=2)  # the active set, and a new one catching up
def _stored_artist_songs(set_id: int, created_at) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stored = list(
        ArtistTopSongs.objects.filter(recommendation_set_id=set_id)
        .order_by("artist_id")
        .values_list("artist_id", "song_ids")
    )
    artist_ids = np.array([artist for artist, _ in stored], dtype=np.int64)
    song_ids = np.unique(np.array([song for _, songs in stored for song in songs], np.int64))
    best = np.full((len(stored), ARTIST_SONGS_KEPT), -1, dtype=np.int64)
    for row, (_, songs) in enumerate(stored):
        kept = songs[:ARTIST_SONGS_KEPT]
        best[row, : len(kept)] = positions(song_ids, np.array(kept, np.int64))
    return artist_ids, song_ids, best


# -- one or a few listeners ---------------------------------------------------------------------


def _counts(queryset, listener_ids: np.ndarray, item_ids: np.ndarray) -> sp.csr_matrix:
    """(listener, item, count) rows of a query as a listeners x model items matrix."""
    triples = np.array(list(queryset), dtype=np.int64).reshape(-1, 3)
    rows = positions(listener_ids, triples[:, 0])
    columns = positions(item_ids, triples[:, 1])
    keep = (rows >= 0) & (columns >= 0)
    return sp.csr_matrix(
        (triples[keep, 2].astype(np.float32), (rows[keep], columns[keep])),
        shape=(len(listener_ids), len(item_ids)),
    )


def listener_rows(
    listener_ids: np.ndarray, run: ModelRun, item_ids: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix]:
    """These listeners' confidence rows now, as publishing reads them for everyone, which
    of them get lists at all (a listen at this level, or a love), and what they hold
    (`held_cells`)."""
    ids = listener_ids.tolist()
    field = f"{run.level}_id"
    listens = Listen.objects.filter(
        listener_id__in=ids, listener__is_flagged=False, **{f"{field}__isnull": False}
    )
    plays = _counts(
        listens.values("listener_id", field)
        .annotate(total=Sum("play_count"))
        .values_list("listener_id", field, "total"),
        listener_ids,
        item_ids,
    )
    listening = np.isin(
        listener_ids, list(listens.values_list("listener_id", flat=True).distinct())
    )
    skip_field = "song_id" if run.level == "song" else "song__artist_id"
    skips = _counts(
        Skip.objects.filter(
            listener_id__in=ids, listener__is_flagged=False, **{f"{skip_field}__isnull": False}
        )
        .values("listener_id", skip_field)
        .annotate(total=Count("id"))
        .values_list("listener_id", skip_field, "total"),
        listener_ids,
        item_ids,
    )
    # The matrix holds skips only of listeners who also have plays.
    skips = sp.csr_matrix(sp.diags(listening.astype(np.float32)) @ skips)
    loves = loved_pairs(live_loves(ids), run.level)
    present = listening | np.isin(listener_ids, loves[:, 0])
    loved = cells(listener_ids, item_ids, loves)
    refused = cells(listener_ids, item_ids, refused_pairs(run.level, ids))
    rows = confidence_rows(plays, skips, loved, run, item_ids, refused)
    return rows, present, held_cells(plays, loved)


def heard_songs(listener_ids: np.ndarray, song_ids: np.ndarray) -> sp.csr_matrix:
    """These (few) listeners x `song_ids`: 1 where they have listened to the song."""
    pairs = (
        Listen.objects.filter(listener_id__in=listener_ids.tolist(), song__isnull=False)
        .values_list("listener_id", "song_id")
        .distinct()
    )
    return cells(listener_ids, song_ids, np.array(list(pairs), dtype=np.int64))


def stored_neighbours(set_id: int, level: str, item_ids: np.ndarray):
    """`lists_build`'s neighbours from a set's similar-item rows (what publishing wrote)."""

    def links(columns: np.ndarray) -> sp.csr_matrix:
        stored = list(
            SimilarItems.objects.filter(
                recommendation_set_id=set_id, level=level, item_id__in=item_ids[columns].tolist()
            ).values_list("item_id", "item_ids")
        )
        width = max((len(similar) for _, similar in stored), default=0)
        neighbours = np.full((len(stored), width), -1, dtype=np.int64)
        for row, (_, similar) in enumerate(stored):
            neighbours[row, : len(similar)] = positions(item_ids, np.array(similar, np.int64))
        sources = positions(item_ids, np.array([item for item, _ in stored], np.int64))
        return neighbour_links(sources, neighbours, len(item_ids))

    return links


def stored_chart(charts: dict, level: str, item_ids: np.ndarray):
    """A set's chart at `level` as (item columns, listener counts)."""
    chart = np.array(charts.get(level, []), dtype=np.float64).reshape(-1, 2)
    columns = positions(item_ids, chart[:, 0].astype(np.int64))
    kept = columns >= 0
    return columns[kept], chart[kept, 1].astype(np.float32)


def lists_refold(
    recommendation_set: RecommendationSet, listener_ids, *, published: PublishedModel | None = None
) -> None:
    """Rebuild these listeners' rows in the set from their data now, with the set's model
    (`published`, if the caller has it loaded), as the publication built everyone's (one
    builder: `listener_lists.lists_build`)."""
    run = recommendation_set.run
    published = published or published_model(run)
    listener_ids = np.unique(np.asarray(listener_ids, dtype=np.int64))
    item_ids, level, top_n = published.item_ids, run.level, recommendation_set.top_n
    rows, present, held = listener_rows(listener_ids, run, item_ids)
    ids = listener_ids.tolist()
    artists = songs = None
    if level == "song":
        artists = published.artist_map(listener_ids, ids)
    else:
        song_ids, best = stored_artist_songs(recommendation_set, item_ids)
        if len(song_ids):  # none where the listens name artists only (HetRec)
            heard = heard_songs(listener_ids, song_ids)
            songs = artist_songs(listener_ids, song_ids, best, heard, ids)
    lists = lists_build(
        published.model,
        rows,
        known_rows=positions(published.listener_ids, listener_ids),
        excluded=cells(listener_ids, item_ids, refused_pairs(level, ids)),
        neighbours=stored_neighbours(recommendation_set.pk, level, item_ids),
        chart=stored_chart(recommendation_set.charts, level, item_ids),
        top_n=top_n,
        depth=depth_of(level, top_n),
        artists=artists,
        songs=songs,
        held=held,
    )
    written = {level: (lists.items, item_ids, top_n, None)}
    if lists.artists is not None:
        written["artist"] = (lists.artists, published.artist_ids, None, None)
    if lists.songs is not None:  # song lists of an artist-level set: artist reasons
        written["song"] = (lists.songs, song_ids, top_n, item_ids)
    lists_replace(recommendation_set, listener_ids, present, written, refreshed_at=timezone.now())


# -- what changed since a publication read its data ---------------------------------------------


@dataclass
class ReadPoint:
    """Where a publication read the listening data: the newest listen and skip ids then,
    and every live feedback (listener, song, artist, kind, expiry) then."""

    last_listen_id: int
    last_skip_id: int
    feedback: frozenset


def _feedback_now() -> frozenset:
    return frozenset(
        Feedback.objects.live().values_list(
            "listener_id", "song_id", "artist_id", "kind", "expires_at"
        )
    )


def read_point() -> ReadPoint:
    """Taken just before a publication reads: anything after it is `changed_since` it."""
    return ReadPoint(newest_listen_id(), newest_skip_id(), _feedback_now())


def changed_since(point: ReadPoint) -> list[int]:
    """Listeners with a listen or skip stored after `point`, or whose live feedback (loves,
    not-for-me) is not what it was: given, changed, withdrawn or expired since."""
    listened = Listen.objects.filter(id__gt=point.last_listen_id).values_list(
        "listener_id", flat=True
    )
    skipped = Skip.objects.filter(id__gt=point.last_skip_id).values_list("listener_id", flat=True)
    feedback = {row[0] for row in point.feedback ^ _feedback_now()}
    changed = set(listened.distinct()) | set(skipped.distinct()) | feedback
    return sorted(Listener.objects.filter(pk__in=changed).values_list("pk", flat=True))
