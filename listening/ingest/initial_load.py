"""An initial bulk load into an empty listen table: its indexes are built after the COPY.

Keeping six secondary B-trees up to date row by row is most of what a COPY into
`listening_listen` costs (benchmarks/results/ingest.md: a bare COPY runs an order of
magnitude faster into the unindexed table). When an import finds the table empty
(PostgreSQL only), it takes the table's lock, drops those indexes, loads every chunk with
COPY and builds them again at the end, in the import's own transaction: a failed or
cancelled import rolls the drop back with everything else, and nobody ever sees the
table without its indexes (the lock keeps readers and other imports out until commit).

It ends with ANALYZE, as PostgreSQL's "Populating a Database" advises after a bulk load.

Without the unique indexes, two chunks can hold "the same listen" (a listener's counts of
one song spelled two ways, on either side of a chunk boundary). Building a unique index then
fails; the rows it names are merged as the careful path of `listen_writer` merges them
(counts of one listener and item summed into the first row; a repeated timed play kept
once), and the index is built again. So the rows and the report's counts are those of a
load with the indexes in place.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

TABLE = "listening_listen"

# Each unique index of the listen table (Listen.Meta.constraints): the rows it covers
# (`{t}` is a table alias), the columns that make a listen "the same" (as
# listen_writer.SAME_LISTEN), and whether duplicates sum their counts (a count) or not (a play).
UNIQUE_LISTENS = {
    "listen_unique_play": (
        "{t}played_at IS NOT NULL",
        ("listener_id", "song_id", "played_at"),
        False,
    ),
    "listen_unique_song_count": (
        "{t}played_at IS NULL AND {t}song_id IS NOT NULL",
        ("listener_id", "song_id"),
        True,
    ),
    "listen_unique_artist_count": (
        "{t}played_at IS NULL AND {t}song_id IS NULL",
        ("listener_id", "artist_id"),
        True,
    ),
}


@dataclass
class DroppedIndex:
    name: str
    definition: str  # pg_indexes.indexdef: the CREATE INDEX statement that rebuilds it
    unique: bool


def _run_pending_checks(cursor) -> None:
    """Run the deferred foreign-key checks queued on listens so far, then defer again (as
    Django's keys are). A delete of listens queues checks that no submitted listen refers
    to them, and PostgreSQL builds no index on a table with checks pending."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _is_empty(cursor) -> bool:
    cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {TABLE})")
    return cursor.fetchone()[0]


def drop_indexes_if_empty(cursor) -> list[DroppedIndex] | None:
    """If the listen table is empty: lock it, drop its secondary indexes (not the primary
    key, nor any index behind a constraint) and return them; else None."""
    if not _is_empty(cursor):  # the common case asks for no lock
        return None
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    if not _is_empty(cursor):  # another import committed in between
        return None
    cursor.execute(
        "SELECT i.indexname, i.indexdef, x.indisunique FROM pg_indexes AS i"
        " JOIN pg_class AS c ON c.relname = i.indexname"
        " JOIN pg_index AS x ON x.indexrelid = c.oid"
        " WHERE i.tablename = %s AND i.schemaname = current_schema() AND NOT x.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = x.indexrelid)"
        " ORDER BY i.indexname",
        [TABLE],
    )
    dropped = [DroppedIndex(*row) for row in cursor.fetchall()]
    _run_pending_checks(cursor)  # an emptied table may have some from this transaction
    for index in dropped:
        cursor.execute(f'DROP INDEX "{index.name}"')
    return dropped


def rebuild_indexes(cursor, dropped: list[DroppedIndex]) -> tuple[int, int]:
    """Build the dropped indexes again, merging what a unique one finds twice first.

    Returns (rows merged into another's count, timed plays dropped as repeats)."""
    merged = repeated = 0
    for index in dropped:
        if not index.unique:
            cursor.execute(index.definition)
            continue
        try:
            with transaction.atomic():
                cursor.execute(index.definition)
            continue
        except IntegrityError:
            if index.name not in UNIQUE_LISTENS:
                raise
        where, keys, sums = UNIQUE_LISTENS[index.name]
        removed = _merge_duplicates(cursor, where, keys, sums)
        if sums:
            merged += removed
        else:
            repeated += removed
        cursor.execute(index.definition)
    # A table filled in one transaction has no statistics yet (autovacuum may be off, and
    # is late at best): without them PostgreSQL reads one listener's listens through the
    # song index (measured: 80 ms instead of 0.07 ms for a first read of suggestions).
    # ANALYZE counts this transaction's own rows.
    cursor.execute(f"ANALYZE {TABLE}")
    return merged, repeated


def _merge_duplicates(cursor, where: str, keys: tuple[str, ...], sums: bool) -> int:
    """Keep the first row of each group of equal `keys` (with the group's total count if
    `sums`), delete the others; returns how many were deleted."""
    columns = ", ".join(keys)
    cursor.execute(
        f"CREATE TEMPORARY TABLE listen_duplicates AS SELECT {columns}, min(id) AS keep,"
        f" sum(play_count) AS total FROM {TABLE} WHERE {where.format(t='')}"
        f" GROUP BY {columns} HAVING count(*) > 1"
    )
    if sums:
        cursor.execute(
            f"UPDATE {TABLE} AS l SET play_count = d.total FROM listen_duplicates AS d"
            " WHERE l.id = d.keep"
        )
    same = " AND ".join(f"l.{key} = d.{key}" for key in keys)
    cursor.execute(
        f"DELETE FROM {TABLE} AS l USING listen_duplicates AS d"
        f" WHERE {where.format(t='l.')} AND {same} AND l.id <> d.keep"
    )
    removed = cursor.rowcount
    _run_pending_checks(cursor)  # the delete queued some
    cursor.execute("DROP TABLE listen_duplicates")
    return removed
