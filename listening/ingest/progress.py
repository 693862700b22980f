"""Progress of a job that runs inside one long transaction, made visible while it runs.

A row updated inside the import's transaction stays invisible until the commit. On
PostgreSQL a second, autocommitting connection writes the progress onto the job's row
(at most every few seconds); SQLite has one writer at a time, so there the live figure
is only in the cache. The cache is written on both, for readers that look there.
"""

import time

from django.core.cache import cache
from django.db import connections


class RowProgress:
    def __init__(self, table: str, row_id: int, cache_key: str, every_seconds: float = 2.0):
        self.table, self.row_id, self.cache_key = table, row_id, cache_key
        self.every_seconds = every_seconds
        self._last = 0.0
        self._connection = None
        if connections["default"].vendor == "postgresql":
            self._connection = connections.create_connection("default")

    def report(self, fraction: float) -> None:
        cache.set(self.cache_key, fraction, timeout=24 * 3600)
        now = time.monotonic()
        if self._connection is None or now - self._last < self.every_seconds:
            return
        self._last = now
        with self._connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET progress = %s WHERE id = %s", [fraction, self.row_id]
            )

    def close(self) -> None:
        cache.delete(self.cache_key)
        if self._connection is not None:
            self._connection.close()
