"""Writing a generated world in one of four listening-history formats, with a manifest.

Lines are assembled from lookup tables of pre-encoded UTF-8 pieces (one per song, listener,
date, second of the day, ...): a chunk of rows becomes a few numpy fancy-indexing steps and
one `b"".join`, so no Python code runs per row. Chunks are bounded (`chunk_rows`).

Formats (`FORMATS`):

- `lastfm-1k`: TSV, no header: user, ISO time (`2009-05-04T23:08:57Z`), artist MBID,
  artist name, track MBID, track name; unknown MBIDs empty.
- `taste-profile`: TSV, no header: user, Echo Nest song id, play count (one row per listener
  and song), and beside it `OUT.songs.csv`: `song_id,title,release,artist_name,year`.
- `listenbrainz`: JSON lines: `listened_at`, `user_name`, `track_metadata` with
  `additional_info.duration_ms` and, for songs with a recording MBID, `mbid_mapping`.
- `spotify`: one JSON array of extended streaming history records (endsong shape); `ts` is
  the END of the play (start + ms_played, rounded up to the second).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import dirt as dirt_plan
from . import names
from .dirt import DIRTY_NAME, NO_IDENTITY, NO_SONG_ID, PODCAST
from .world import DAY, TIME_RANGE, World, make_world

FORMATS = ("lastfm-1k", "taste-profile", "listenbrainz", "spotify")
SPOTIFY_SKIP_RATE = 0.15
MAX_DIRT = 0.5
# Every rule of docs/cleaning.md that an import's report counts, in order.
RULES = (
    "not_music",
    "missing_identity",
    "names_normalised",
    "bad_play_count",
    "implausible_play_count",
    "time_out_of_range",
    "skip",
    "exact_duplicate",
    "duplicate_scrobble",
    "missing_metadata",
    "bot_listener",
)
Columns = dict[str, np.ndarray]
# Song pieces of a format from (song indices, artist names, titles).
Render = Callable[[np.ndarray, np.ndarray, np.ndarray], list[str]]


def _json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _table(texts: Sequence[str]) -> np.ndarray:
    """An object array of UTF-8 `bytes`, for fancy indexing."""
    out = np.empty(len(texts), dtype=object)
    out[:] = [t.encode() for t in texts]
    return out


def _join(pieces: list[np.ndarray]) -> bytes:
    """Row i is the concatenation of pieces[0][i], pieces[1][i], ..."""
    grid = np.empty((len(pieces[0]), len(pieces)), dtype=object)
    for j, piece in enumerate(pieces):
        grid[:, j] = piece
    return b"".join(grid.ravel().tolist())


class _Dates:
    """`prefix` + "YYYY-MM-DD" + `suffix` for every day from `first` to `last` (Unix days)."""

    def __init__(self, first: int, last: int, prefix: str, suffix: str):
        days = np.arange(first, last + 1).astype("datetime64[D]").astype(str)
        self.first, self.table = first, _table([f"{prefix}{d}{suffix}" for d in days])

    def __getitem__(self, seconds: np.ndarray) -> np.ndarray:
        return self.table[seconds // DAY - self.first]


def _times_of_day(suffix: str) -> np.ndarray:
    h, rest = np.divmod(np.arange(DAY), 3600)
    m, s = np.divmod(rest, 60)
    return _table([f"{a:02d}:{b:02d}:{c:02d}{suffix}" for a, b, c in zip(h, m, s, strict=True)])


class _Digits:
    """Decimal text of integers >= `base` as two pieces: high digits, and `width` low digits
    (zero-padded) followed by `suffix`."""

    def __init__(self, low: int, high: int, width: int, prefix: str = "", suffix: str = ""):
        self.base = 10**width
        self.first = low // self.base
        self.high = _table([f"{prefix}{h}" for h in range(self.first, high // self.base + 1)])
        self.low = _table([f"{v:0{width}d}{suffix}" for v in range(self.base)])

    def pieces(self, values: np.ndarray) -> list[np.ndarray]:
        return [self.high[values // self.base - self.first], self.low[values % self.base]]


def _user_ids(world: World, rows: Columns) -> tuple[np.ndarray, list[str]]:
    """Every listener id a row can name (listeners, then bots); and the bots' ids."""
    n = len(world.listeners.ids)
    n_bots = int(rows["user"].max(initial=-1)) + 1 - n if len(rows["user"]) else 0
    bots = [f"bot_{i + 1:04d}" for i in range(max(0, n_bots))]
    return np.concatenate([world.listeners.ids, np.array(bots, dtype=object)]), bots


def _song_names(world: World, dirty: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(songs, artist names, titles): every song, then the songs with dirty-name variants."""
    catalogue = world.catalogue
    songs = np.concatenate([np.arange(catalogue.n_songs), dirty["songs"]]).astype(np.int64)
    artist = catalogue.artist_name[catalogue.song_artist[songs]]
    title = catalogue.song_title[songs]
    if len(dirty["songs"]):
        artist[catalogue.n_songs :] = dirty["artist"]
        title[catalogue.n_songs :] = dirty["title"]
    return songs, artist, title


def _song_table(world: World, dirty: dict, render: Render, specials: list[str]) -> np.ndarray:
    """Pieces per song, `render(songs, artist names, titles)`, laid out as `_song_index`
    reads them: every song, then `specials` (the no-identity piece, then any podcasts),
    then the dirty-name variants."""
    n_songs = world.catalogue.n_songs
    rendered = render(*_song_names(world, dirty))
    return _table(rendered[:n_songs] + specials + rendered[n_songs:])


def _song_index(rows: Columns, n_songs: int, n_podcasts: int = 0) -> np.ndarray:
    """Each row's index into its format's `_song_table`."""
    index = rows["song"].copy()
    variant, aux = rows["variant"], rows["aux"]
    index[variant == NO_IDENTITY] = n_songs
    where = variant == PODCAST
    index[where] = n_songs + 1 + aux[where]
    where = variant == DIRTY_NAME
    index[where] = n_songs + 1 + n_podcasts + aux[where]
    return index


def _chunks(rows: Columns, size: int) -> Iterator[Columns]:
    total = len(rows["user"])
    for begin in range(0, total, size):
        yield {name: column[begin : begin + size] for name, column in rows.items()}


def _extent(values: np.ndarray, low: int = 0) -> tuple[int, int]:
    """The smallest and largest of `values` (`low`, `low` when there are none)."""
    return (int(values.min()), int(values.max())) if len(values) else (low, low)


def _day_range(seconds: np.ndarray) -> tuple[int, int]:
    first, last = _extent(seconds)
    return first // DAY, last // DAY


def _write_lastfm(world: World, rows: Columns, dirty: dict, out: BinaryIO, size: int) -> None:
    catalogue = world.catalogue

    def render(songs: np.ndarray, artist: np.ndarray, title: np.ndarray) -> list[str]:
        artist_mbid = catalogue.artist_mbid[catalogue.song_artist[songs]]
        song_mbid = catalogue.song_mbid[songs]
        return [
            f"{am}\t{a}\t{sm}\t{t}\n"
            for am, a, sm, t in zip(artist_mbid, artist, song_mbid, title, strict=True)
        ]

    songs = _song_table(world, dirty, render, ["\t\t\t\n"])
    ids, _ = _user_ids(world, rows)
    users = _table([f"{u}\t" for u in ids] + ["\t"])  # the last one: EMPTY_USER
    dates = _Dates(*_day_range(rows["start"]), "", "T")
    clock = _times_of_day("Z\t")
    for chunk in _chunks(rows, size):
        start = chunk["start"]
        index = _song_index(chunk, catalogue.n_songs)
        out.write(_join([users[chunk["user"]], dates[start], clock[start % DAY], songs[index]]))


def _write_listenbrainz(world: World, rows: Columns, dirty: dict, out: BinaryIO, size: int) -> None:
    catalogue = world.catalogue

    def render(songs: np.ndarray, artist: np.ndarray, title: np.ndarray) -> list[str]:
        artist_mbid = catalogue.artist_mbid[catalogue.song_artist[songs]]
        out = []
        for i, song in enumerate(songs):
            meta: dict = {
                "artist_name": artist[i],
                "track_name": title[i],
                "release_name": catalogue.song_release[song],
                "additional_info": {"duration_ms": int(catalogue.song_duration_ms[song])},
            }
            if catalogue.song_mbid[song]:  # mapped to a recording
                mapping = {"recording_mbid": catalogue.song_mbid[song]}
                if catalogue.song_release_mbid[song]:
                    mapping["release_mbid"] = catalogue.song_release_mbid[song]
                if artist_mbid[i]:
                    mapping["artist_mbids"] = [artist_mbid[i]]
                meta["mbid_mapping"] = mapping
            out.append(json.dumps(meta, ensure_ascii=False) + "}\n")
        return out

    no_identity = '{"artist_name": "", "track_name": "", "additional_info": {}}}\n'
    songs = _song_table(world, dirty, render, [no_identity])
    ids, _ = _user_ids(world, rows)
    users = _table([f', "user_name": {_json(u)}, "track_metadata": ' for u in [*ids, ""]])
    stamps = _Digits(*_extent(rows["start"], DAY), 5, '{"listened_at": ')
    for chunk in _chunks(rows, size):
        index = _song_index(chunk, catalogue.n_songs)
        out.write(_join([*stamps.pieces(chunk["start"]), users[chunk["user"]], songs[index]]))


def _podcasts(world: World) -> list[str]:
    rng = np.random.default_rng([world.seed, 7])
    shows = np.array(names.SHOW_NAMES, dtype=object)[rng.integers(0, 8, dirt_plan.N_PODCASTS)]
    titles = names.TITLE_COMBOS[rng.integers(0, len(names.TITLE_COMBOS), dirt_plan.N_PODCASTS)]
    codes = names.random_codes(rng, dirt_plan.N_PODCASTS, 22, names.BASE62).astype(str)
    return [
        '"master_metadata_track_name": null, "master_metadata_album_artist_name": null, '
        '"master_metadata_album_album_name": null, "spotify_track_uri": null, '
        f'"episode_name": {_json(f"Episode {i + 1}: {t}")}, "episode_show_name": {_json(s)}, '
        f'"spotify_episode_uri": "spotify:episode:{c}", '
        for i, (s, t, c) in enumerate(zip(shows, titles, codes, strict=True))
    ]


def _write_spotify(world: World, rows: Columns, dirty: dict, out: BinaryIO, size: int) -> None:
    catalogue = world.catalogue

    def render(songs: np.ndarray, artist: np.ndarray, title: np.ndarray) -> list[str]:
        release, uri = catalogue.song_release[songs], catalogue.song_spotify_uri[songs]
        return [
            f'"master_metadata_track_name": {_json(t)}, '
            f'"master_metadata_album_artist_name": {_json(a)}, '
            f'"master_metadata_album_album_name": {_json(r)}, "spotify_track_uri": "{u}", '
            '"episode_name": null, "episode_show_name": null, "spotify_episode_uri": null, '
            for a, t, r, u in zip(artist, title, release, uri, strict=True)
        ]

    no_identity = (
        '"master_metadata_track_name": null, "master_metadata_album_artist_name": null, '
        '"master_metadata_album_album_name": null, "spotify_track_uri": null, '
        '"episode_name": null, "episode_show_name": null, "spotify_episode_uri": null, '
    )
    songs = _song_table(world, dirty, render, [no_identity, *_podcasts(world)])
    ids, bots = _user_ids(world, rows)
    listeners = world.listeners
    platform = np.concatenate([listeners.platform, ["web_player linux;chrome;desktop"] * len(bots)])
    country = np.concatenate([listeners.country, ["US"] * len(bots)])
    users = _table(
        [
            f'"username": {_json(u)}, "platform": {_json(p)}, "conn_country": "{c}", "ms_played": '
            for u, p, c in zip([*ids, ""], [*platform, ""], [*country, ""], strict=True)
        ]
    )
    flags = _table(
        [
            f'"reason_start": "{rs}", "reason_end": "{re}", "shuffle": {sh}, '
            f'"skipped": {sk}, "offline": false, "offline_timestamp": '
            for rs in dirt_plan.REASONS_START
            for re in dirt_plan.REASONS_END
            for sh in ("false", "true")
            for sk in ("false", "true")
        ]
    )
    end = rows["start"] + -(-rows["ms"] // 1000)
    dates = _Dates(*_day_range(end), ',\n{"ts": "', "T")
    clock = _times_of_day('Z", ')
    played = _Digits(*_extent(rows["ms"], 1_000), 3, "", ", ")
    started = _Digits(*_extent(rows["start"], DAY), 5, "", '000, "incognito_mode": false}')
    out.write(b"[")
    size = max(1, size // 4)  # records are ~600 bytes: keep a chunk's text near 150 MB
    for begin in range(0, len(end), size):
        chunk = {name: column[begin : begin + size] for name, column in rows.items()}
        stop = end[begin : begin + size]
        index = _song_index(chunk, catalogue.n_songs, dirt_plan.N_PODCASTS)
        text = _join(
            [
                dates[stop],
                clock[stop % DAY],
                users[chunk["user"]],
                *played.pieces(chunk["ms"]),
                songs[index],
                flags[chunk["flag"]],
                *started.pieces(chunk["start"]),
            ]
        )
        out.write(text[1:] if begin == 0 else text)  # no comma before the first record
    out.write(b"\n]\n")


def _write_taste_profile(
    world: World, rows: Columns, dirty: dict, out: BinaryIO, size: int
) -> None:
    catalogue = world.catalogue
    ids, _ = _user_ids(world, rows)
    users = _table([f"{u}\t" for u in ids] + ["\t"])
    songs = _table([f"{s}\t" for s in catalogue.song_echonest_id] + ["\t"])
    values = np.unique(rows["count"])
    counts = _table([f"{c}\n" for c in values] + [f"{b}\n" for b in dirt_plan.BAD_COUNTS])
    for chunk in _chunks(rows, size):
        song = np.where(chunk["variant"] == NO_SONG_ID, catalogue.n_songs, chunk["song"])
        count = np.searchsorted(values, chunk["count"])
        bad = chunk["variant"] >= 10
        count[bad] = len(values) + chunk["variant"][bad].astype(np.int64) - 10
        out.write(_join([users[chunk["user"]], songs[song], counts[count]]))


def write_songs_csv(world: World, dirty: dict, path: Path) -> None:
    """The Taste Profile's song metadata: `song_id,title,release,artist_name,year`."""
    catalogue = world.catalogue
    artist = catalogue.artist_name[catalogue.song_artist]
    title = catalogue.song_title.copy()
    if len(dirty["songs"]):
        artist[dirty["songs"]] = dirty["artist"]
        title[dirty["songs"]] = dirty["title"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["song_id", "title", "release", "artist_name", "year"])
        writer.writerows(
            zip(
                catalogue.song_echonest_id,
                title,
                catalogue.song_release,
                artist,
                catalogue.song_year.tolist(),
                strict=True,
            )
        )


def manifest_path(out: Path | str) -> Path:
    return Path(f"{out}.manifest.json")


def songs_path(out: Path | str) -> Path:
    return Path(f"{out}.songs.csv")


def _check(fmt: str, dirt: float) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not 0.0 <= dirt <= MAX_DIRT:
        raise ValueError(f"the dirt fraction must be between 0 and {MAX_DIRT}")


def write_listens(
    out: Path | str,
    fmt: str,
    world: World,
    *,
    dirt: float = 0.0,
    chunk_rows: int = 1_000_000,
) -> dict:
    """Write `world`'s plays to `out` in `fmt`, with a `dirt` share of dirty rows; return
    the manifest (not written; see `generate`)."""
    _check(fmt, dirt)
    out = Path(out)
    rng = np.random.default_rng([world.seed, 4])
    if fmt == "taste-profile":
        rows, counts, variants, dirty, clean_rows = dirt_plan.plan_counts(world, dirt, rng)
        write_songs_csv(world, dirty, songs_path(out))
    else:
        rows, counts, variants, dirty = dirt_plan.plan_timed(world, fmt, dirt, rng)
        clean_rows = len(world.plays)
    writer = {
        "lastfm-1k": _write_lastfm,
        "listenbrainz": _write_listenbrainz,
        "spotify": _write_spotify,
        "taste-profile": _write_taste_profile,
    }[fmt]
    with open(out, "wb") as handle:
        writer(world, rows, dirty, handle, chunk_rows)
    return _manifest(world, fmt, rows, counts, variants, clean_rows, dirt)


def _manifest(
    world: World,
    fmt: str,
    rows: Columns,
    counts: dict[str, int],
    variants: dict,
    clean_rows: int,
    dirt: float,
) -> dict:
    catalogue = world.catalogue
    _, bots = _user_ids(world, rows) if fmt != "taste-profile" else (None, [])
    bot_rows = int((rows["kind"] == dirt_plan.KIND_CODES["bot_listener"]).sum())
    skip = int(rows["skipped"].sum()) if fmt == "spotify" else 0
    # Every song in songs.csv has a release and a year; the other formats have no year
    # (lastfm-1k no release either), so every play the rules keep lacks metadata.
    missing_metadata = 0 if fmt == "taste-profile" else clean_rows - skip + bot_rows
    expected = dict.fromkeys(RULES, 0)
    expected.update(counts)
    expected.update(skip=skip, missing_metadata=missing_metadata, bot_listener=bot_rows)
    return {
        "format": fmt,
        "seed": world.seed,
        "listeners": len(world.listeners.ids),
        "songs": catalogue.n_songs,
        "artists": catalogue.n_artists,
        "genres": catalogue.n_genres,
        "listens": len(world.plays),
        "dirt_fraction": dirt,
        "clean_rows": clean_rows,
        "rows_written": len(rows["user"]),
        "dirt": counts,
        "dirt_variants": variants,
        "bot_listeners": bots,
        "bot_listener_rows": bot_rows,
        "skip": skip,
        "missing_metadata": missing_metadata,
        "expected_report": expected,
        "time_range": list(TIME_RANGE),
    }


def generate(
    out: Path | str,
    fmt: str,
    *,
    n_listeners: int,
    n_songs: int,
    n_listens: int,
    seed: int,
    dirt: float = 0.0,
    chunk_rows: int = 1_000_000,
) -> dict:
    """Generate a world and write it to `out` in `fmt`, with the manifest beside it
    (`out + ".manifest.json"`; and for the Taste Profile `out + ".songs.csv"`).

    Returns the manifest. The same arguments give byte-identical files.
    """
    _check(fmt, dirt)
    began = time.perf_counter()
    skip_rate = SPOTIFY_SKIP_RATE if fmt == "spotify" else 0.0
    world = make_world(n_listeners, n_songs, n_listens, seed, skip_rate=skip_rate)
    manifest = write_listens(out, fmt, world, dirt=dirt, chunk_rows=chunk_rows)
    manifest["files"] = {"listens": Path(out).name}
    if fmt == "taste-profile":
        manifest["files"]["songs"] = songs_path(out).name
    manifest["generator_seconds"] = round(time.perf_counter() - began, 3)
    manifest_path(out).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest
