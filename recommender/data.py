"""The listener x item matrix, straight from the database, with its id maps.

The listens reach numpy in bulk (on PostgreSQL packed by the server into one binary value
per ten million rows, on SQLite in large fetches) and become a scipy CSR matrix, which
sums each listener's plays of an item: no Python loop over listens. Flagged listeners
(bots) are left out. Rows and columns are the sorted database ids, so the maps are two
arrays.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import scipy.sparse as sp
from django.db import connection
from django.db.models import Max, Min

from catalog.models import Song
from listening.models import Listen, Listener, Skip

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

    @property
    def shape(self) -> tuple[int, int]:
        return self.plays.shape

    def rows_of(self, listener_pks: np.ndarray) -> np.ndarray:
        """Row numbers of these listeners; -1 for listeners not in the matrix."""
        return _positions(self.listener_ids, listener_pks)

    def columns_of(self, item_pks: np.ndarray) -> np.ndarray:
        return _positions(self.item_ids, item_pks)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            level=np.array(self.level),
            listener_ids=self.listener_ids,
            item_ids=self.item_ids,
        )

    @staticmethod
    def load_ids(path: Path) -> tuple[str, np.ndarray, np.ndarray]:
        """The level and id maps saved beside a model (the matrix itself is not kept)."""
        with np.load(path) as saved:
            return str(saved["level"]), saved["listener_ids"], saved["item_ids"]


def _positions(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    wanted = np.asarray(wanted, dtype=np.int64)
    found = np.searchsorted(sorted_ids, wanted)
    found = np.minimum(found, max(len(sorted_ids) - 1, 0))
    hit = (sorted_ids[found] == wanted) if len(sorted_ids) else np.zeros(len(wanted), bool)
    return np.where(hit, found, -1)


# Rows of three big-endian int64 (listener, item, value), as PostgreSQL's int8send writes them.
_TRIPLE = np.dtype([("listener", ">i8"), ("item", ">i8"), ("value", ">i8")])
# One bytea value may hold 1 GB: stay well under it per query.
POSTGRES_ROWS_PER_QUERY = 10_000_000


def _triples(sql: str) -> pd.DataFrame:
    """The columns listener, item, value (integers) of a query, in bulk.

    On PostgreSQL the server packs the rows into one bytea (int8send, string_agg) that numpy
    reads in place: one round trip, where COPY would hand Python a message per row. SQLite
    hands them over in large fetches.
    """
    if connection.vendor == "postgresql":
        packed = (
            "SELECT string_agg(int8send(listener) || int8send(item) || int8send(value), ''::bytea)"
            f" FROM ({sql}) AS rows"
        )
        connection.ensure_connection()
        # Django's cursors bind on the client and cannot ask for binary results.
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(packed, binary=True)
            data = cursor.fetchone()[0] or b""
        records = np.frombuffer(data, dtype=_TRIPLE)
        return pd.DataFrame({name: records[name].astype(np.int64) for name in _TRIPLE.names})
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_ROWS):
            parts.append(np.array(rows, dtype=np.int64).reshape(-1, 3))
    data = np.concatenate(parts) if parts else np.empty((0, 3), np.int64)
    return pd.DataFrame(data, columns=list(_TRIPLE.names))


def _listen_triples(item: str, not_flagged: str) -> pd.DataFrame:
    """Every unflagged listen of an item, a bounded range of ids per query."""
    table = Listen._meta.db_table
    bounds = Listen.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return _triples("SELECT 0 AS listener, 0 AS item, 0 AS value WHERE 1 = 0")
    step = POSTGRES_ROWS_PER_QUERY if connection.vendor == "postgresql" else bounds["high"] + 1
    parts = []
    for low in range(bounds["low"] - 1, bounds["high"], step):
        parts.append(
            _triples(
                f"SELECT CAST(listener_id AS bigint) AS listener, CAST({item} AS bigint) AS item,"
                f" CAST(play_count AS bigint) AS value FROM {table}"
                f" WHERE {item} IS NOT NULL AND {not_flagged} AND id > {low} AND id <= {low + step}"
            )
        )
    return pd.concat(parts, ignore_index=True)


def build_matrix(level: str) -> InteractionMatrix:
    """The listener x `level` matrix of every listen of listeners not flagged as bots."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    item = f"{level}_id"
    listeners = Listener._meta.db_table
    not_flagged = f"listener_id IN (SELECT id FROM {listeners} WHERE NOT is_flagged)"
    # Listens are not grouped in SQL: the CSR constructor below sums a pair's rows, which
    # is faster than a GROUP BY whose result must cross the wire anyway.
    plays = _listen_triples(item, not_flagged)
    skip_item = "s.song_id" if level == "song" else "song.artist_id"
    skips = _triples(
        f"SELECT CAST(s.listener_id AS bigint) AS listener, CAST({skip_item} AS bigint) AS item,"
        f" COUNT(*) AS value FROM {Skip._meta.db_table} AS s JOIN {Song._meta.db_table} AS song"
        f" ON song.id = s.song_id WHERE {skip_item} IS NOT NULL AND s.{not_flagged}"
        f" GROUP BY s.listener_id, {skip_item}"
    )
    # Hashing beats np.unique's sort of every listen; sort=True keeps the ids ascending.
    rows, listener_ids = pd.factorize(plays["listener"].to_numpy(), sort=True)
    columns, item_ids = pd.factorize(plays["item"].to_numpy(), sort=True)
    shape = (len(listener_ids), len(item_ids))
    matrix = sp.csr_matrix(
        (plays["value"].to_numpy(np.float32), (rows, columns)), shape=shape, dtype=np.float32
    )
    # Skips of items nobody played (or by listeners with no plays) carry nothing to rank.
    skip_rows = _positions(listener_ids, skips["listener"].to_numpy())
    skip_columns = _positions(item_ids, skips["item"].to_numpy())
    keep = (skip_rows >= 0) & (skip_columns >= 0)
    skip_matrix = sp.csr_matrix(
        (skips["value"].to_numpy(np.float32)[keep], (skip_rows[keep], skip_columns[keep])),
        shape=shape,
        dtype=np.float32,
    )
    return InteractionMatrix(level, matrix, skip_matrix, listener_ids, item_ids)
