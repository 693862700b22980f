"""Turn the names and ids of clean rows into listener, artist, release and song keys.

Matching follows docs/cleaning.md: a song is found by its external ids first (Echo Nest,
Spotify, MusicBrainz, MSD track), else by its artist and the match key of its title; an
artist by its MusicBrainz id, else by its name key. What is not found is created in bulk.
Every lookup goes through an in-memory map first and asks the database only about keys it
has not seen, in batches: never one query per row.
"""

from collections.abc import Iterable, Iterator
from itertools import islice

import pandas as pd
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


def _valid_uuid(column: pd.Series) -> pd.Series:
    """MusicBrainz ids as lower-case UUID text; anything else (e.g. "<Untagged>") is unknown."""
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

    def __init__(self, *, source: str):
        self.source = source
        self.listeners: dict[str, int] = {}
        self.artists_by_mbid: dict[str, int] = {}
        self.artists_by_key: dict[str, int] = {}
        self.releases: dict[tuple[int, str], int] = {}
        self.songs_by_id: dict[str, dict[str, int]] = {f: {} for f in SONG_ID_FIELDS.values()}
        self.songs_by_name: dict[tuple[int, str], int] = {}
        self.artist_of_song: dict[int, int | None] = {}

    def resolve(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add `listener_id`, `artist_id`, `release_id` and `song_id` to clean rows."""
        frame = frame.copy()
        frame["artist_mbid"] = _valid_uuid(frame["artist_mbid"])
        frame["song_mbid"] = _valid_uuid(frame["song_mbid"])
        frame["release_mbid"] = _valid_uuid(frame["release_mbid"])
        frame["listener_id"] = self._listener_ids(frame["listener"])
        frame["artist_id"] = self._artist_ids(frame).astype("Int64")
        frame["release_id"] = self._release_ids(frame)
        frame["song_id"] = self._song_ids(frame)
        # A song's listens carry the song's artist, as the catalogue knows it.
        known = frame["song_id"].notna()
        song_artists = frame.loc[known, "song_id"].map(self.artist_of_song)
        frame.loc[known, "artist_id"] = pd.array(song_artists.tolist(), dtype="Int64")
        for column in ("listener_id", "artist_id", "release_id", "song_id"):
            frame[column] = frame[column].astype("Int64")
        return frame

    # --- listeners -------------------------------------------------------------------
    def _listener_ids(self, names: pd.Series) -> pd.Series:
        unknown = set(names.unique()) - self.listeners.keys()
        if unknown:
            for chunk in batched(sorted(unknown)):
                rows = Listener.objects.filter(source=self.source, external_id__in=chunk)
                self.listeners.update(rows.values_list("external_id", "pk"))
            new = sorted(unknown - self.listeners.keys())
            created = Listener.objects.bulk_create(
                [Listener(source=self.source, external_id=name, display_name=name) for name in new],
                batch_size=BATCH,
            )
            self.listeners.update((listener.external_id, listener.pk) for listener in created)
        return names.map(self.listeners)

    # --- artists -----------------------------------------------------------------------
    def _artist_ids(self, frame: pd.DataFrame) -> pd.Series:
        mbids = frame["artist_mbid"]
        keys = frame["artist_key"]
        _lookup(
            Artist,
            "musicbrainz_id",
            self._unseen(mbids, self.artists_by_mbid),
            self.artists_by_mbid,
        )
        ids = mbids.map(self.artists_by_mbid)
        _lookup(
            Artist,
            "name_key",
            self._unseen(keys[ids.isna()], self.artists_by_key),
            self.artists_by_key,
        )
        ids = ids.fillna(keys.map(self.artists_by_key))

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
                new.append(Artist(name=name, name_key=key, musicbrainz_id=mbid))
            for artist in Artist.objects.bulk_create(new, batch_size=BATCH):
                self.artists_by_key.setdefault(artist.name_key, artist.pk)
                if artist.musicbrainz_id:
                    self.artists_by_mbid[str(artist.musicbrainz_id)] = artist.pk
            ids = ids.fillna(keys.map(self.artists_by_key))
        return ids

    @staticmethod
    def _unseen(values: pd.Series, seen: dict) -> list:
        return [value for value in values.dropna().unique() if value not in seen]

    # --- releases ----------------------------------------------------------------------
    def _release_ids(self, frame: pd.DataFrame) -> pd.Series:
        has = frame["release"].notna() & frame["artist_id"].notna()
        pairs = list(
            zip(frame.loc[has, "artist_id"].astype(int), frame.loc[has, "release_key"], strict=True)
        )
        unseen = {pair for pair in pairs if pair not in self.releases}
        if unseen:
            for chunk in batched(sorted(unseen)):
                rows = Release.objects.filter(
                    artist_id__in={artist for artist, _ in chunk},
                    title_key__in={key for _, key in chunk},
                ).order_by("pk")
                for artist_id, key, pk in rows.values_list("artist_id", "title_key", "pk"):
                    self.releases.setdefault((artist_id, key), pk)
            firsts = frame[has].drop_duplicates(["artist_id", "release_key"])
            new = [
                Release(title=title, title_key=key, artist_id=int(artist), year=_year(year))
                for title, key, artist, year in firsts[
                    ["release", "release_key", "artist_id", "year"]
                ].itertuples(index=False, name=None)
                if (int(artist), key) not in self.releases
            ]
            for release in Release.objects.bulk_create(new, batch_size=BATCH):
                self.releases[(release.artist_id, release.title_key)] = release.pk
        ids = pd.Series(pd.NA, index=frame.index, dtype="Int64")
        ids[has] = [self.releases[pair] for pair in pairs]
        return ids

    # --- songs -------------------------------------------------------------------------
    def _song_ids(self, frame: pd.DataFrame) -> pd.Series:
        ids = pd.Series(pd.NA, index=frame.index, dtype="Int64")
        for column, field in SONG_ID_FIELDS.items():
            values = frame.loc[ids.isna(), column]
            seen = self.songs_by_id[field]
            self._remember_songs(field, self._unseen(values, seen))
            ids = ids.fillna(frame[column].map(seen).astype("Int64"))

        named = ids.isna() & frame["title"].notna() & frame["artist_id"].notna()
        name_pairs = pd.Series(
            list(
                zip(
                    frame.loc[named, "artist_id"].astype(int),
                    frame.loc[named, "title_key"],
                    strict=True,
                )
            ),
            index=frame.index[named],
            dtype=object,
        )
        self._remember_songs_by_name(
            {pair for pair in name_pairs if pair not in self.songs_by_name}
        )
        ids[named] = name_pairs.map(self.songs_by_name).astype("Int64")

        missing = frame[ids.isna()]
        if len(missing):
            self._create_songs(missing)
            ids = ids.fillna(self._ids_of_created(frame))
        return ids

    def _remember(self, song_rows) -> None:
        for pk, artist_id, title_key, *external in song_rows:
            self.artist_of_song[pk] = artist_id
            if artist_id is not None and title_key:
                self.songs_by_name.setdefault((artist_id, title_key), pk)
            for field, value in zip(SONG_ID_FIELDS.values(), external, strict=True):
                if value is not None:
                    self.songs_by_id[field].setdefault(str(value), pk)

    def _song_rows(self, queryset):
        return queryset.order_by("pk").values_list(
            "pk", "artist_id", "title_key", *SONG_ID_FIELDS.values()
        )

    def _remember_songs(self, field: str, values: list) -> None:
        for chunk in batched(values):
            self._remember(self._song_rows(Song.objects.filter(**{f"{field}__in": chunk})))

    def _remember_songs_by_name(self, pairs: set[tuple[int, str]]) -> None:
        for chunk in batched(sorted(pairs)):
            rows = Song.objects.filter(
                artist_id__in={artist for artist, _ in chunk},
                title_key__in={key for _, key in chunk},
            )
            self._remember(self._song_rows(rows))

    def _create_songs(self, missing: pd.DataFrame) -> None:
        """One new song per distinct (artist, title), or per id for songs known only by id."""
        identity = (
            (missing["artist_id"].astype("string") + "\x1f" + missing["title_key"])
            .fillna(missing["echonest_id"])
            .fillna(missing["spotify_uri"])
            .fillna(missing["song_mbid"])
            .fillna(missing["msd_track_id"])
        )
        firsts = missing.assign(_identity=identity).drop_duplicates("_identity")
        claimed = {field: set() for field in SONG_ID_FIELDS.values()}
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
                    title=row.title if not pd.isna(row.title) else "",
                    title_key=row.title_key if not pd.isna(row.title_key) else "",
                    artist_id=None if pd.isna(row.artist_id) else int(row.artist_id),
                    release_id=None if pd.isna(row.release_id) else int(row.release_id),
                    year=_year(row.year),
                    **external,
                )
            )
        created = Song.objects.bulk_create(new, batch_size=BATCH)
        self._remember(
            (
                song.pk,
                song.artist_id,
                song.title_key,
                *(getattr(song, f) for f in SONG_ID_FIELDS.values()),
            )
            for song in created
        )

    def _ids_of_created(self, frame: pd.DataFrame) -> pd.Series:
        ids = pd.Series(pd.NA, index=frame.index, dtype="Int64")
        for column, field in SONG_ID_FIELDS.items():
            ids = ids.fillna(frame[column].map(self.songs_by_id[field]).astype("Int64"))
        named = ids.isna() & frame["title"].notna() & frame["artist_id"].notna()
        pairs = pd.Series(
            list(
                zip(
                    frame.loc[named, "artist_id"].astype(int),
                    frame.loc[named, "title_key"],
                    strict=True,
                )
            ),
            index=frame.index[named],
            dtype=object,
        )
        ids[named] = pairs.map(self.songs_by_name).astype("Int64")
        return ids


def _year(value) -> int | None:
    if value is None or pd.isna(value) or not 1000 <= int(value) <= 2100:
        return None
    return int(value)
