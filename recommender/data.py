"""The listener x item matrix, straight from the database, with its id maps.

The database sums play counts per listener and item (one row per pair); the rows reach
numpy in bulk (PostgreSQL `COPY ... TO STDOUT`, SQLite in large fetches) and become a
scipy CSR matrix without a Python loop over listens. Flagged listeners (bots) are left
out. Rows and columns are the sorted database ids, so the maps are two arrays.
"""

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from django.db import connection

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


def _pairs(sql: str) -> pd.DataFrame:
    """Three integer columns (listener, item, value) of a grouping query, in bulk."""
    columns = ["listener", "item", "value"]
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT") as copy:
            for block in copy:
                buffer.write(block)
        if not buffer.tell():
            return pd.DataFrame({name: np.empty(0, np.int64) for name in columns})
        buffer.seek(0)
        return pd.read_csv(buffer, sep="\t", header=None, names=columns, dtype=np.int64)
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_ROWS):
            parts.append(np.array(rows, dtype=np.int64).reshape(-1, 3))
    data = np.concatenate(parts) if parts else np.empty((0, 3), np.int64)
    return pd.DataFrame(data, columns=columns)


def build_matrix(level: str) -> InteractionMatrix:
    """The listener x `level` matrix of every listen of listeners not flagged as bots."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    item = f"{level}_id"
    listens, listeners = Listen._meta.db_table, Listener._meta.db_table
    not_flagged = f"listener_id IN (SELECT id FROM {listeners} WHERE NOT is_flagged)"
    plays = _pairs(
        f"SELECT listener_id, {item}, SUM(play_count) FROM {listens}"
        f" WHERE {item} IS NOT NULL AND {not_flagged} GROUP BY listener_id, {item}"
    )
    skip_item = "s.song_id" if level == "song" else "song.artist_id"
    skips = _pairs(
        f"SELECT s.listener_id, {skip_item}, COUNT(*) FROM {Skip._meta.db_table} AS s"
        f" JOIN {Song._meta.db_table} AS song ON song.id = s.song_id"
        f" WHERE {skip_item} IS NOT NULL AND s.{not_flagged} GROUP BY s.listener_id, {skip_item}"
    )
    listener_ids, rows = np.unique(plays["listener"].to_numpy(), return_inverse=True)
    item_ids, columns = np.unique(plays["item"].to_numpy(), return_inverse=True)
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
