"""Encode a frame of integers and timestamps in PostgreSQL's binary COPY format, with numpy.

Text COPY spends most of its client time formatting timestamps; the binary format is a
fixed-width record per row (big-endian lengths and values), which numpy lays out in one
pass. Rows are grouped by which of their columns are NULL, since a NULL has no value bytes:
each group is then one fixed-width record type. Row order is not kept (COPY needs none).
"""

import struct

import numpy as np
import pandas as pd

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
PG_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64)

# column kind -> (numpy big-endian type, byte length)
KINDS = {"int8": (">i8", 8), "int4": (">i4", 4), "timestamptz": (">i8", 8)}


def _values(column: pd.Series, kind: str) -> np.ndarray:
    if kind == "timestamptz":
        micros = column.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        return micros.to_numpy().astype(np.int64) - PG_EPOCH_US
    return column.to_numpy(dtype=np.int64, na_value=0)


def encode(frame: pd.DataFrame, kinds: dict[str, str]) -> bytes:
    """The rows of `frame` (columns and PostgreSQL types in `kinds`) as a binary COPY stream."""
    columns = list(kinds)
    nulls = np.column_stack([frame[c].isna().to_numpy() for c in columns]) if len(frame) else None
    parts = [HEADER]
    if nulls is not None:
        patterns = nulls @ (1 << np.arange(len(columns)))
        for pattern in np.unique(patterns):
            chosen = patterns == pattern
            rows = frame[chosen]
            null_here = nulls[chosen][0]
            layout = [("count", ">i2")]
            for column, is_null in zip(columns, null_here, strict=True):
                layout.append((f"{column}__length", ">i4"))
                if not is_null:
                    layout.append((column, KINDS[kinds[column]][0]))
            record = np.empty(len(rows), dtype=layout)
            record["count"] = len(columns)
            for column, is_null in zip(columns, null_here, strict=True):
                kind = kinds[column]
                record[f"{column}__length"] = -1 if is_null else KINDS[kind][1]
                if not is_null:
                    record[column] = _values(rows[column], kind)
            parts.append(record.tobytes())
    parts.append(TRAILER)
    return b"".join(parts)
