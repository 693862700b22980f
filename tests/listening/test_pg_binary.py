import pandas as pd
import pytest
from django.db import connection

from listening.ingest import pg_binary

KINDS = {"a": "int8", "b": "int8", "at": "timestamptz", "n": "int4"}


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_reads_back_exactly_what_was_encoded():
    rows = pd.DataFrame(
        {
            "a": pd.array([1, 2, 3, 2**40], dtype="Int64"),
            "b": pd.array([None, 5, None, 7], dtype="Int64"),
            "at": pd.to_datetime(
                ["2009-05-04T23:08:57Z", None, "1999-12-31T23:59:59.5Z", "2030-01-01T00:00:00Z"],
                utc=True,
                format="ISO8601",
            ),
            "n": [1, 2, 3, 2_000_000_000],
        }
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE t (a bigint, b bigint, at timestamptz, n integer)")
        with cursor.cursor.copy("COPY t (a, b, at, n) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(pg_binary.encode(rows, KINDS))
        cursor.execute("SELECT a, b, at, n FROM t ORDER BY a")
        back = cursor.fetchall()

    expected = [
        (a, None if pd.isna(b) else b, None if pd.isna(at) else at.to_pydatetime(), n)
        for a, b, at, n in rows.itertuples(index=False, name=None)
    ]
    assert back == expected


def test_an_empty_frame_is_a_header_and_a_trailer():
    empty = pd.DataFrame({name: [] for name in KINDS})
    assert pg_binary.encode(empty, KINDS) == pg_binary.HEADER + pg_binary.TRAILER
