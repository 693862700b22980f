"""Turn the names and ids of clean rows into listener, artist, release and song keys.

Matching follows docs/cleaning.md: a song is found by its external ids first (Echo Nest,
Spotify, MusicBrainz, MSD track), else by its artist and the match key of its title; an
artist by its MusicBrainz id, else by its name key. What is not found is created in bulk.
Every lookup goes through an in-memory map first and asks the database only about keys it
has not seen, in batches: never one query per row.
"""

from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Model

from catalog.models import Artist, Release, Song
from listening.models import Listener

BATCH = 5_000
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# canonical column -> Song field, in the order they are trusted
SONG_ID_FIELDS = {
    "echonest_id": "echonest_id",
    "spotify_uri": "spotify_uri",
    "song_mbid": "musicbrainz_id",
    "msd_track_id": "msd_track_id",
}


def batched(values: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def map_ids(keys: pd.Series, ids: dict) -> pd.Series:
    """Look each distinct key up once in `ids` (a Python dict); missing keys give NA.

    `Series.map(dict)` rebuilds an index of the whole dict on every call, which grows with
    the catalogue; this costs one C pass over the rows and one dict lookup per distinct key.
    """
    codes, uniques = pd.factorize(keys)
    found = np.fromiter((ids.get(key, -1) for key in uniques), dtype=np.int64, count=len(uniques))
    values = np.append(found, -1)[codes]  # code -1 (a missing key) reads the trailing -1
    return pd.Series(pd.arrays.IntegerArray(values, values < 0), index=keys.index)


def name_key(artist_ids: pd.Series, title_keys: pd.Series) -> pd.Series:
    """One text key for "this title by this artist" (NA when either is unknown)."""
    return artist_ids.astype("string") + "\x1f" + title_keys


def _valid_uuid(column: pd.Series) -> pd.Series:
    """MusicBrainz ids as lower-case UUID text; anything else (e.g. "<Untagged>") is unknown."""
    if column.isna().all():
        return column
    lower = column.str.lower()
    return lower.where(lower.str.fullmatch(UUID_PATTERN).fillna(False))


def _lookup(model: type[Model], field: str, values: Iterable, into: dict) -> None:
    """Add to `into` the ids of rows whose `field` is one of `values` (first row wins)."""
    for chunk in batched(values):
        rows = model.objects.filter(**{f"{field}__in": chunk}).order_by("pk")
        for value, pk in rows.values_list(field, "pk"):
            into.setdefault(str(value), pk)


class CatalogResolver:
    """Keys for one import; its maps live as long as the import."""

    def __init__(self, *, source: str, new_rows: dict | None = None):
        self.source = source
        # Fields every artist and song created here gets (a listener's submission: pending,
        # and who submitted it); imports leave them at the models' defaults (public).
        self.new_rows = new_rows or {}
        self.created_artists: list[int] = []
        self.created_songs: list[int] = []
        self.listeners: dict[str, int] = {}
        self.artists_by_mbid: dict[str, int] = {}
        self.artists_by_key: dict[str, int] = {}
        self.releases: dict[str, int] = {}  # name_key(artist, title key) -> id
        self.songs_by_id: dict[str, dict[str, int]] = {f: {} for f in SONG_ID_FIELDS.values()}
        self.songs_by_name: dict[str, int] = {}  # name_key(artist, title key) -> id
        self.artist_of_song: dict[int, int] = {}  # songs without an artist are absent

    def resolve(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add `listener_id`, `artist_id`, `release_id` and `song_id` to clean rows."""
        frame = frame.copy()
        frame["listener_id"] = self._listener_ids(frame["listener"])
        return self.resolve_catalog(frame)

    def resolve_catalog(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add `artist_id`, `release_id` and `song_id` to clean rows (listeners untouched)."""
        frame = frame.copy()
        for column in ("artist_mbid", "song_mbid", "release_mbid"):
            frame[column] = _valid_uuid(frame[column])
        frame["artist_id"] = self._artist_ids(frame)
        frame["release_id"] = self._release_ids(frame)
        frame["song_id"] = self._song_ids(frame)
        # A song's listens carry the song's artist, as the catalogue knows it.
        known = frame["song_id"].notna()
        frame.loc[known, "artist_id"] = map_ids(frame.loc[known, "song_id"], self.artist_of_song)
        return frame

    # --- listeners -------------------------------------------------------------------
    def _listener_ids(self, names: pd.Series) -> pd.Series:
        unknown = self._unseen(names, self.listeners)
        if unknown:
            for chunk in batched(sorted(unknown)):
                rows = Listener.objects.filter(source=self.source, external_id__in=chunk)
                self.listeners.update(rows.values_list("external_id", "pk"))
            self.listeners.update(
                self._create_listeners(sorted(set(unknown) - self.listeners.keys()))
            )
        return map_ids(names, self.listeners)

    def _create_listeners(self, names: list[str]) -> list[tuple[str, int]]:
        """New dataset listeners, as (external id, id) pairs.

        A dataset can bring a million listeners: on PostgreSQL one statement per batch
        inserts them from an array, where bulk_create would spend most of its time building
        a model instance per name.
        """
        if connection.vendor != "postgresql":
            created = Listener.objects.bulk_create(
                [
                    Listener(source=self.source, external_id=name, display_name=name)
                    for name in names
                ],
                batch_size=BATCH,
            )
            return [(listener.external_id, listener.pk) for listener in created]
        pairs = []
        with connection.cursor() as cursor:
            for chunk in batched(names, 50_000):
                cursor.execute(
                    f"INSERT INTO {Listener._meta.db_table}"
                    " (source, external_id, display_name, is_flagged, flag_reason, created_at)"
                    " SELECT %s, name, name, false, '', now() FROM unnest(%s::text[]) AS name"
                    " RETURNING external_id, id",
                    [self.source, chunk],
                )
                pairs.extend(cursor.fetchall())
        return pairs

    # --- artists -----------------------------------------------------------------------
    def _artist_ids(self, frame: pd.DataFrame) -> pd.Series:
        mbids, keys = frame["artist_mbid"], frame["artist_key"]
        _lookup(
            Artist,
            "musicbrainz_id",
            self._unseen(mbids, self.artists_by_mbid),
            self.artists_by_mbid,
        )
        ids = map_ids(mbids, self.artists_by_mbid)
        _lookup(
            Artist,
            "name_key",
            self._unseen(keys[ids.isna()], self.artists_by_key),
            self.artists_by_key,
        )
        ids = ids.fillna(map_ids(keys, self.artists_by_key))

        missing = frame[ids.isna() & frame["artist"].notna()]
        if len(missing):
            firsts = missing.drop_duplicates("artist_key")
            used_mbids = set(self.artists_by_mbid)
            new = []
            for name, key, mbid in firsts[["artist", "artist_key", "artist_mbid"]].itertuples(
                index=False, name=None
            ):
                mbid = None if pd.isna(mbid) or mbid in used_mbids else mbid
                used_mbids.add(mbid)
                new.append(Artist(name=name, name_key=key, musicbrainz_id=mbid, **self.new_rows))
            for artist in Artist.objects.bulk_create(new, batch_size=BATCH):
                self.created_artists.append(artist.pk)
                self.artists_by_key.setdefault(artist.name_key, artist.pk)
                if artist.musicbrainz_id:
                    self.artists_by_mbid[str(artist.musicbrainz_id)] = artist.pk
            ids = ids.fillna(map_ids(keys, self.artists_by_key))
        return ids

    @staticmethod
    def _unseen(values: pd.Series, seen: dict) -> list:
        return [value for value in values.dropna().unique() if value not in seen]

    # --- releases ----------------------------------------------------------------------
    def _release_ids(self, frame: pd.DataFrame) -> pd.Series:
        keys = name_key(frame["artist_id"], frame["release_key"])
        unseen = self._unseen(keys, self.releases)
        if unseen:
            wanted = set(unseen)
            for chunk in batched(sorted(unseen)):
                artists = {int(key.split("\x1f", 1)[0]) for key in chunk}
                titles = {key.split("\x1f", 1)[1] for key in chunk}
                rows = Release.objects.filter(artist_id__in=artists, title_key__in=titles)
                for artist_id, title_key, pk in rows.order_by("pk").values_list(
                    "artist_id", "title_key", "pk"
                ):
                    self.releases.setdefault(f"{artist_id}\x1f{title_key}", pk)
            firsts = frame.assign(_key=keys).dropna(subset=["_key"]).drop_duplicates("_key")
            new = [
                Release(title=title, title_key=title_key, artist_id=int(artist), year=_year(year))
                for key, title, title_key, artist, year in firsts[
                    ["_key", "release", "release_key", "artist_id", "year"]
                ].itertuples(index=False, name=None)
                if key in wanted and key not in self.releases
            ]
            for release in Release.objects.bulk_create(new, batch_size=BATCH):
                self.releases[f"{release.artist_id}\x1f{release.title_key}"] = release.pk
        return map_ids(keys, self.releases)

    # --- songs -------------------------------------------------------------------------
    def _song_ids(self, frame: pd.DataFrame) -> pd.Series:
        names = name_key(frame["artist_id"], frame["title_key"])
        for column, field in SONG_ID_FIELDS.items():
            self._remember_songs(field, self._unseen(frame[column], self.songs_by_id[field]))
        ids = self._known_song_ids(frame, names)
        self._remember_songs_by_name(self._unseen(names[ids.isna()], self.songs_by_name))
        ids = ids.fillna(map_ids(names, self.songs_by_name))
        missing = frame[ids.isna()]
        if len(missing):
            self._create_songs(missing, names[ids.isna()])
            ids = ids.fillna(self._known_song_ids(frame, names))
        return ids

    def _known_song_ids(self, frame: pd.DataFrame, names: pd.Series) -> pd.Series:
        """Ids first by external id (in trust order), then by artist and title."""
        ids = map_ids(frame["echonest_id"], self.songs_by_id["echonest_id"])
        for column, field in list(SONG_ID_FIELDS.items())[1:]:
            ids = ids.fillna(map_ids(frame[column], self.songs_by_id[field]))
        return ids.fillna(map_ids(names, self.songs_by_name))

    def _remember(self, song_rows) -> None:
        for pk, artist_id, title_key, *external in song_rows:
            if artist_id is not None:
                self.artist_of_song[pk] = artist_id
                if title_key:
                    self.songs_by_name.setdefault(f"{artist_id}\x1f{title_key}", pk)
            for field, value in zip(SONG_ID_FIELDS.values(), external, strict=True):
                if value is not None:
                    self.songs_by_id[field].setdefault(str(value), pk)

    def _song_rows(self, queryset):
        fields = ("pk", "artist_id", "title_key", *SONG_ID_FIELDS.values())
        return queryset.order_by("pk").values_list(*fields)

    def _remember_songs(self, field: str, values: list) -> None:
        for chunk in batched(values):
            self._remember(self._song_rows(Song.objects.filter(**{f"{field}__in": chunk})))

    def _remember_songs_by_name(self, keys: list[str]) -> None:
        for chunk in batched(sorted(keys)):
            artists = {int(key.split("\x1f", 1)[0]) for key in chunk}
            titles = {key.split("\x1f", 1)[1] for key in chunk}
            rows = Song.objects.filter(artist_id__in=artists, title_key__in=titles)
            self._remember(self._song_rows(rows))

    def _create_songs(self, missing: pd.DataFrame, names: pd.Series) -> None:
        """One new song per distinct (artist, title), or per id for songs known only by id."""
        identity = names
        for column in SONG_ID_FIELDS:
            identity = identity.fillna(missing[column])
        firsts = missing.assign(_identity=identity).drop_duplicates("_identity")
        claimed: dict[str, set] = {field: set() for field in SONG_ID_FIELDS.values()}
        new = []
        for row in firsts.itertuples(index=False):
            external = {}
            for column, field in SONG_ID_FIELDS.items():
                value = getattr(row, column)
                # An id already taken (by a song in the catalogue or one made just now) is
                # not given to a second song: the unique constraint would refuse the batch.
                if pd.isna(value) or value in claimed[field] or value in self.songs_by_id[field]:
                    continue
                claimed[field].add(value)
                external[field] = value
            new.append(
                Song(
                    title="" if pd.isna(row.title) else row.title,
                    title_key="" if pd.isna(row.title_key) else row.title_key,
                    artist_id=None if pd.isna(row.artist_id) else int(row.artist_id),
                    release_id=None if pd.isna(row.release_id) else int(row.release_id),
                    year=_year(row.year),
                    **external,
                    **self.new_rows,
                )
            )
        created = Song.objects.bulk_create(new, batch_size=BATCH)
        self.created_songs.extend(song.pk for song in created)
        self._remember(
            (
                song.pk,
                song.artist_id,
                song.title_key,
                *(getattr(song, field) for field in SONG_ID_FIELDS.values()),
            )
            for song in created
        )


def _year(value) -> int | None:
    if value is None or pd.isna(value) or not 1000 <= int(value) <= 2100:
        return None
    return int(value)
