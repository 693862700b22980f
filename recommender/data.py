"""The listener x item matrix, straight from the database, with its id maps.

The listens reach numpy in bulk (on PostgreSQL packed by the server into one binary value
per ten million rows, on SQLite in large fetches) and become a scipy CSR matrix, which
sums each listener's plays of an item: no Python loop over listens. Flagged listeners
(bots) are left out. Rows and columns are the sorted database ids, so the maps are two
arrays.

A matrix can be pinned to a data snapshot: given the snapshot's `last_listen_id`, only the
listens up to it are read, so every step that reads "the snapshot" reads the same listens,
whatever arrived since.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import scipy.sparse as sp
from django.db import connection
from django.db.models import Max, Min

from catalog.models import Artist, CatalogStatus, Song
from listening.models import Feedback, FeedbackKind, Listen, Listener, Skip
from recommender.evaluation.splits import Interactions
from recommender.listener_lists import cells, positions

LEVELS = ("song", "artist")
FETCH_ROWS = 200_000


@dataclass
class InteractionMatrix:
    """Play counts per listener (row) and item (column), with the database ids of both."""

    level: str
    plays: sp.csr_matrix  # float32 summed play counts
    skips: sp.csr_matrix  # float32 skip counts, same shape (negative feedback)
    listener_ids: np.ndarray  # row -> Listener.pk (sorted)
    item_ids: np.ndarray  # column -> Song.pk or Artist.pk (sorted)
    last_listen_id: int | None = None  # the newest listen read, when pinned to a snapshot
    last_skip_id: int | None = None  # the newest skip read, likewise
    # 0/1, same shape: cells the listener said "not for me" to (at build time), which
    # training drops whatever their plays (`weighting.confidence`).
    refused: sp.csr_matrix | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.plays.shape

    def rows_of(self, listener_pks: np.ndarray) -> np.ndarray:
        """Row numbers of these listeners; -1 for listeners not in the matrix."""
        return positions(self.listener_ids, listener_pks)

    def columns_of(self, item_pks: np.ndarray) -> np.ndarray:
        return positions(self.item_ids, item_pks)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            level=np.array(self.level),
            listener_ids=self.listener_ids,
            item_ids=self.item_ids,
        )

    def is_of(self, snapshot) -> bool:
        """Whether this matrix reads exactly `snapshot`'s listens and skips."""
        return (self.last_listen_id, self.last_skip_id) == (
            snapshot.last_listen_id or 0,
            snapshot.last_skip_id,
        )

    @staticmethod
    def load_ids(path: Path) -> tuple[str, np.ndarray, np.ndarray]:
        """The level and id maps saved beside a model (the matrix itself is not kept)."""
        with np.load(path) as saved:
            return str(saved["level"]), saved["listener_ids"], saved["item_ids"]


# One bytea value may hold 1 GB: stay well under it per query.
POSTGRES_ROWS_PER_QUERY = 10_000_000
NO_TIME = -1  # the epoch second given to a listen without a time (an aggregated count)


def _integers(sql: str, names: tuple[str, ...]) -> pd.DataFrame:
    """The integer columns `names` of a query, in bulk.

    On PostgreSQL the server packs the rows into one bytea (int8send, string_agg) that numpy
    reads in place: one round trip, where COPY would hand Python a message per row. SQLite
    hands them over in large fetches.
    """
    if connection.vendor == "postgresql":
        row = " || ".join(f"int8send({name})" for name in names)
        packed = f"SELECT string_agg({row}, ''::bytea) FROM ({sql}) AS rows"
        connection.ensure_connection()
        # Django's cursors bind on the client and cannot ask for binary results.
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(packed, binary=True)
            data = cursor.fetchone()[0] or b""
        records = np.frombuffer(data, dtype=np.dtype([(name, ">i8") for name in names]))
        return pd.DataFrame({name: records[name].astype(np.int64) for name in names})
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_ROWS):
            parts.append(np.array(rows, dtype=np.int64).reshape(-1, len(names)))
    data = np.concatenate(parts) if parts else np.empty((0, len(names)), np.int64)
    return pd.DataFrame(data, columns=list(names))


def _epoch_seconds(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(COALESCE(EXTRACT(EPOCH FROM {column}), {NO_TIME}) AS bigint)"
    return f"COALESCE(CAST(strftime('%s', {column}) AS INTEGER), {NO_TIME})"


def newest_listen_id() -> int:
    """The id of the newest listen (0 when there is none): what a snapshot taken now pins."""
    return Listen.objects.aggregate(newest=Max("id"))["newest"] or 0


def newest_skip_id() -> int:
    """The id of the newest skip (0 when there is none), likewise."""
    return Skip.objects.aggregate(newest=Max("id"))["newest"] or 0


def _listens(
    item: str, not_flagged: str, *, with_times: bool, last_listen_id: int | None = None
) -> pd.DataFrame:
    """Every unflagged listen of an item (listener, item, value[, at]), by ranges of ids,
    up to `last_listen_id` when given."""
    names = ("listener", "item", "value", "at") if with_times else ("listener", "item", "value")
    at = f", {_epoch_seconds('played_at')} AS at" if with_times else ""
    listens = Listen.objects.all()
    if last_listen_id is not None:
        listens = listens.filter(id__lte=last_listen_id)
    bounds = listens.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return pd.DataFrame({name: np.empty(0, np.int64) for name in names})
    high = bounds["high"]  # the last id read: a pinned matrix reads nothing past it
    step = POSTGRES_ROWS_PER_QUERY if connection.vendor == "postgresql" else high + 1
    parts = [
        _integers(
            f"SELECT CAST(listener_id AS bigint) AS listener, CAST({item} AS bigint) AS item,"
            f" CAST(play_count AS bigint) AS value{at} FROM {Listen._meta.db_table}"
            f" WHERE {item} IS NOT NULL AND {not_flagged}"
            f" AND id > {low} AND id <= {min(low + step, high)}",
            names,
        )
        for low in range(bounds["low"] - 1, high, step)
    ]
    return pd.concat(parts, ignore_index=True)


def recency_weights(at: np.ndarray, half_life_days: float) -> np.ndarray:
    """0.5 ** (age / half-life), age counted back from the newest listen; 1 for no time."""
    timed = at != NO_TIME
    newest = at[timed].max() if timed.any() else 0
    age_days = (newest - at) / 86_400
    return np.where(timed, 0.5 ** (age_days / half_life_days), 1.0)


def build_matrix(
    level: str,
    *,
    half_life_days: float | None = None,
    last_listen_id: int | None = None,
    last_skip_id: int | None = None,
) -> InteractionMatrix:
    """The listener x `level` matrix of every listen of listeners not flagged as bots.

    With `last_listen_id` (a snapshot's), only the listens up to that id: the snapshot's
    matrix, the same however often it is built (0 reads none); `last_skip_id` bounds the
    skips so.

    With `half_life_days`, each timed play counts 0.5 ** (age / half-life), age measured
    back from the newest listen, so recent listening weighs more (a time-decayed popularity
    is the popularity model on such a matrix); aggregated counts without a time keep their
    full weight.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    item = f"{level}_id"
    listeners = Listener._meta.db_table
    not_flagged = f"listener_id IN (SELECT id FROM {listeners} WHERE NOT is_flagged)"
    # Listens are not grouped in SQL: the CSR constructor below sums a pair's rows, which
    # is faster than a GROUP BY whose result must cross the wire anyway.
    plays = _listens(
        item, not_flagged, with_times=half_life_days is not None, last_listen_id=last_listen_id
    )
    # Curation: a pending or hidden item is nobody's candidate (its submitter sees it on
    # their own pages, not in anyone's suggestions), so it never enters the matrix. They are
    # few, so dropping them here costs less than joining every listen to its item's status.
    unlisted = _unlisted(level)
    if len(unlisted):
        plays = plays[~plays["item"].isin(unlisted)].reset_index(drop=True)
    values = plays["value"].to_numpy(np.float64)
    if half_life_days is not None:
        values = values * recency_weights(plays["at"].to_numpy(), half_life_days)
    skip_item = "s.song_id" if level == "song" else "song.artist_id"
    skip_bound = f" AND s.id <= {int(last_skip_id)}" if last_skip_id is not None else ""
    skips = _integers(
        f"SELECT CAST(s.listener_id AS bigint) AS listener, CAST({skip_item} AS bigint) AS item,"
        f" COUNT(*) AS value FROM {Skip._meta.db_table} AS s JOIN {Song._meta.db_table} AS song"
        f" ON song.id = s.song_id WHERE {skip_item} IS NOT NULL AND s.{not_flagged}{skip_bound}"
        f" GROUP BY s.listener_id, {skip_item}",
        ("listener", "item", "value"),
    )
    # Hashing beats np.unique's sort of every listen; sort=True keeps the ids ascending.
    rows, listener_ids = pd.factorize(plays["listener"].to_numpy(), sort=True)
    columns, item_ids = pd.factorize(plays["item"].to_numpy(), sort=True)
    shape = (len(listener_ids), len(item_ids))
    matrix = sp.csr_matrix(
        (values.astype(np.float32), (rows, columns)), shape=shape, dtype=np.float32
    )
    # Skips of items nobody played (or by listeners with no plays) carry nothing to rank.
    skip_rows = positions(listener_ids, skips["listener"].to_numpy())
    skip_columns = positions(item_ids, skips["item"].to_numpy())
    keep = (skip_rows >= 0) & (skip_columns >= 0)
    skip_matrix = sp.csr_matrix(
        (skips["value"].to_numpy(np.float32)[keep], (skip_rows[keep], skip_columns[keep])),
        shape=shape,
        dtype=np.float32,
    )
    refused = cells(listener_ids, item_ids, refused_pairs(level))
    return InteractionMatrix(
        level, matrix, skip_matrix, listener_ids, item_ids, last_listen_id, last_skip_id, refused
    )


def _unlisted(level: str) -> np.ndarray:
    """The ids of the pending and hidden songs or artists (catalog.curation)."""
    model = Song if level == "song" else Artist
    ids = model.objects.exclude(status=CatalogStatus.PUBLIC).values_list("pk", flat=True)
    return np.fromiter(ids, dtype=np.int64)


def refused_pairs(level: str, listener_ids: list[int] | None = None) -> np.ndarray:
    """Live "not for me" feedback as (listener, item) pairs at `level`, of these listeners
    or of everyone: what training and fold-in count against, and what lists never offer.

    At song level an artist refused stands for each of its songs (the listener wants none
    of them); at artist level only artists refused count, since one song refused says
    little about its artist. Feedback is read as it holds now, as loves are: it is not
    part of a snapshot's pinned listens.
    """
    refused = Feedback.objects.live().filter(kind=FeedbackKind.NOT_FOR_ME)
    if listener_ids is not None:
        refused = refused.filter(listener_id__in=listener_ids)
    if level == "artist":
        pairs = refused.filter(artist__isnull=False).values_list("listener_id", "artist_id")
        return np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
    on_songs = refused.filter(song__isnull=False).values_list("listener_id", "song_id")
    on_artists = np.array(
        list(refused.filter(artist__isnull=False).values_list("listener_id", "artist_id")),
        dtype=np.int64,
    ).reshape(-1, 2)
    songs = pd.DataFrame(
        list(
            Song.objects.filter(artist_id__in=np.unique(on_artists[:, 1]).tolist()).values_list(
                "artist_id", "pk"
            )
        ),
        columns=["artist", "song"],
        dtype=np.int64,
    )
    of_artists = pd.DataFrame(on_artists, columns=["listener", "artist"]).merge(songs)
    return np.concatenate(
        [
            np.array(list(on_songs), dtype=np.int64).reshape(-1, 2),
            of_artists[["listener", "song"]].to_numpy(np.int64).reshape(-1, 2),
        ]
    )


def _not_flagged() -> str:
    return f"listener_id IN (SELECT id FROM {Listener._meta.db_table} WHERE NOT is_flagged)"


def listen_events(
    matrix: InteractionMatrix, *, half_life_days: float | None = None
) -> Interactions:
    """The listens behind `matrix`, one row per listen: row, column, value, time.

    What a time-based split needs, where the matrix has summed a cell's plays: the plays
    after a cut-off must stay out of training, not only the cells first heard after it.
    The same listens as the matrix (a pinned matrix's, up to its last listen), read in bulk;
    values are weighted by the half-life as `build_matrix` weights them, so they sum to the
    matrix's cells. Times are Unix seconds, NaN for a listen without one (an aggregated
    count).
    """
    listens = _listens(
        f"{matrix.level}_id", _not_flagged(), with_times=True, last_listen_id=matrix.last_listen_id
    )
    at = listens["at"].to_numpy()
    values = listens["value"].to_numpy(np.float64)
    if half_life_days is not None:
        values = values * recency_weights(at, half_life_days)
    return _events(matrix, listens, values, at)


def skip_events(matrix: InteractionMatrix) -> Interactions:
    """The skips behind `matrix.skips`, one row per skip (value 1) with its time, in the
    matrix's rows and columns: a time-based split counts only those before its cut-off."""
    item = "s.song_id" if matrix.level == "song" else "song.artist_id"
    bound = f" AND s.id <= {int(matrix.last_skip_id)}" if matrix.last_skip_id is not None else ""
    skips = _integers(
        f"SELECT CAST(s.listener_id AS bigint) AS listener, CAST({item} AS bigint) AS item,"
        f" {_epoch_seconds('s.skipped_at')} AS at FROM {Skip._meta.db_table} AS s"
        f" JOIN {Song._meta.db_table} AS song ON song.id = s.song_id"
        f" WHERE {item} IS NOT NULL AND s.{_not_flagged()}{bound}",
        ("listener", "item", "at"),
    )
    return _events(matrix, skips, np.ones(len(skips)), skips["at"].to_numpy())


def _events(
    matrix: InteractionMatrix, frame: pd.DataFrame, values: np.ndarray, at: np.ndarray
) -> Interactions:
    rows = matrix.rows_of(frame["listener"].to_numpy())
    columns = matrix.columns_of(frame["item"].to_numpy())
    keep = (rows >= 0) & (columns >= 0)  # as the matrix, which has no row for the rest
    times = np.where(at == NO_TIME, np.nan, at.astype(np.float64))
    return Interactions(rows[keep], columns[keep], values[keep].astype(np.float32), times[keep])
