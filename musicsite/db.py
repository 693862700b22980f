"""Database helpers shared by the apps."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

ANALYTICS_WORK_MEM = "256MB"


@contextmanager
def roomy_sorts() -> Iterator[None]:
    """A transaction in which PostgreSQL may sort and hash in memory (work_mem).

    Reports and snapshots group millions of listens in a few statements: with the default
    4 MB each would spill to disk. SET LOCAL ends with the transaction; SQLite ignores this.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{ANALYTICS_WORK_MEM}'")
        yield
