"""The one clean shape every importer produces: a pandas frame with these columns.

Parsers (`listening.ingest.formats`) turn each source format into chunks of this frame;
the cleaning rules (`listening.ingest.cleaning`) and the loader read nothing else. Missing
values are `pd.NA` / `NaT`, never "" or 0.
"""

import pandas as pd

STRING = pd.StringDtype()

# name -> dtype. Order is the order of `conform`'s output.
COLUMNS: dict[str, object] = {
    "line": "int64",  # 1-based line (or record) number in the source file
    "listener": STRING,  # the listener's id in the source dataset
    "artist": STRING,  # display name, as given
    "title": STRING,  # song title; NA for artist-level sources
    "release": STRING,  # album / release title
    "year": "Int16",
    "played_at": "datetime64[ns, UTC]",  # start of the play; NaT for aggregated counts
    "play_count": "float64",  # NaN where missing or not a number (cleaning rejects it)
    "artist_mbid": STRING,  # MusicBrainz ids, lower-case UUID text
    "song_mbid": STRING,
    "release_mbid": STRING,
    "spotify_uri": STRING,  # spotify:track:...
    "echonest_id": STRING,  # SO... (Taste Profile / MSD song id)
    "msd_track_id": STRING,  # TR... (MSD track id)
    "ms_played": "Int64",  # Spotify: how long the play lasted
    "skipped": "boolean",  # Spotify's own skip flag
    "is_music": "boolean",  # False for podcast episodes and audiobooks
    "rating": "float64",  # an explicit rating, where the source has one
}


def empty_frame() -> pd.DataFrame:
    return conform(pd.DataFrame())


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with exactly the canonical columns, in order, with their dtypes.

    Columns a parser did not fill are added as all-missing; blank strings become NA.
    """
    out = {}
    for name, dtype in COLUMNS.items():
        if name in frame:
            column = frame[name]
            if dtype is STRING:
                # Blank means missing; other whitespace is left for the cleaning rules
                # to tidy, so that the report counts what they change.
                column = column.astype(STRING)
                column = column.mask(column.str.strip() == "")
            elif name == "is_music":
                column = column.astype("boolean").fillna(True)
            else:
                column = column.astype(dtype)
        elif name == "is_music":
            column = pd.Series(True, index=frame.index, dtype="boolean")
        else:
            column = pd.Series(index=frame.index, dtype=dtype)  # all missing
        out[name] = column
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)
