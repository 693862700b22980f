"""Which rows a generated file holds, in which order, and the dirt among them.

A *row plan* is a dict of equal-length numpy columns, one entry per row of the file, in file
order. Clean rows come from the world's plays (or, for the Taste Profile, from their counts
per listener and song); dirty rows are derived each from a distinct clean row and inserted
at random positions (an exact duplicate somewhere after its original, a duplicate scrobble
right after it). Every dirty row carries one kind of dirt and trips exactly the cleaning
rule named by its kind (docs/cleaning.md):

- `names_normalised` rows are clean rows whose artist or title is written with a doubled
  inner space or in NFD; they are changed in place, not added. (Leading and trailing
  spaces would not do: the canonical frame strips them before the rule runs.)
- `missing_identity`, `time_out_of_range`, `not_music`, `bad_play_count`,
  `implausible_play_count`, `exact_duplicate` and `duplicate_scrobble` rows are added.
  No two missing-identity lines are the same (Last.fm 1K: half have no listener, half no
  artist, title or ids; Taste Profile: half no listener, half no song id, with a fresh
  count 1-99, since the same song or listener alone recurs too often).
- Bot listeners (`bot_0001`, ...) each play 1,500-2,500 songs within one UTC day, 10-30 s
  apart; their rows are otherwise clean and are not counted as dirt.

For Spotify, dirt is derived from plays of 30 s or more only, so that no dirty row is also
a skip; its `missing_identity` rows are music records with every track and episode field
null (an empty `username` would not do: the parser falls back to the file name).
"""

from __future__ import annotations

import unicodedata

import numpy as np

from .catalogue import SongSampler
from .world import DAY, FIRST_DAY, LAST_DAY, World

TIMED_KINDS = (
    "exact_duplicate",
    "duplicate_scrobble",
    "missing_identity",
    "time_out_of_range",
    "names_normalised",
)
DIRT_KINDS: dict[str, tuple[str, ...]] = {
    "lastfm-1k": TIMED_KINDS,
    "listenbrainz": TIMED_KINDS,
    "spotify": (*TIMED_KINDS, "not_music"),
    "taste-profile": (
        "exact_duplicate",
        "missing_identity",
        "bad_play_count",
        "implausible_play_count",
        "names_normalised",
    ),
}
# Codes of the `kind` column: 0 is a clean row.
KIND_CODES = {
    "clean": 0,
    "bot_listener": 1,
    **{k: i + 2 for i, k in enumerate(sorted({k for ks in DIRT_KINDS.values() for k in ks}))},
}
# Codes of the `variant` column (which song part a row is written with).
NORMAL, NO_IDENTITY, PODCAST, DIRTY_NAME, NO_SONG_ID = 0, 1, 2, 3, 4
EMPTY_USER = -1  # `user` value of a row with no listener
BAD_COUNTS = ("0", "-3", "abc", "")
N_PODCASTS = 40
# Spotify's reason_start / reason_end values; the `flag` column indexes their combinations
# with shuffle and skipped: ((start * len(REASONS_END) + end) * 2 + shuffle) * 2 + skipped.
REASONS_START = ("trackdone", "fwdbtn", "clickrow", "playbtn", "appload", "backbtn")
REASONS_END = ("trackdone", "fwdbtn", "endplay", "logout")

_FUTURE = (int(np.datetime64("2031-01-01T00:00:00", "s").astype(int)), 5 * 365 * DAY)
_PAST = (int(np.datetime64("1995-01-01T00:00:00", "s").astype(int)), 7 * 365 * DAY)


def split_budget(total: int, kinds: tuple[str, ...]) -> dict[str, int]:
    """`total` dirty rows spread evenly over `kinds`."""
    base, extra = divmod(total, len(kinds))
    return {kind: base + (i < extra) for i, kind in enumerate(kinds)}


def dirty_names(
    world: World, songs: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Artist and title of `songs` with one of them made dirty; and which way ("nfd" or
    "space"), per song. Case is never changed: it only affects the match key."""
    catalogue = world.catalogue
    artist = catalogue.artist_name[catalogue.song_artist[songs]].copy()
    title = catalogue.song_title[songs].copy()
    use_title = rng.random(len(songs)) < 0.5
    want_nfd = rng.random(len(songs)) < 0.5
    how = np.empty(len(songs), dtype=object)
    for i in range(len(songs)):  # once per song, not per row
        names = title if use_title[i] else artist
        nfd = unicodedata.normalize("NFD", names[i])
        if want_nfd[i] and nfd != names[i]:
            names[i], how[i] = nfd, "nfd"
        else:  # every generated name has an inner space
            names[i], how[i] = names[i].replace(" ", "  ", 1), "space"
    return artist, title, how


def spotify_flags(world: World, rng: np.random.Generator) -> np.ndarray:
    """The `flag` of each play: how it started and ended, shuffle, skipped."""
    plays = world.plays
    n = len(plays)
    prev_skipped = np.zeros(n, dtype=bool)
    prev_skipped[1:] = plays.skipped[:-1]
    start = np.where(prev_skipped, 1, np.where(rng.random(n) < 0.95, 0, 5))
    opened = plays.session_first
    start[opened] = rng.choice([2, 3, 4], size=int(opened.sum()), p=[0.5, 0.3, 0.2])
    end = np.where(plays.skipped, 1, rng.choice([0, 2, 3], size=n, p=[0.95, 0.04, 0.01]))
    shuffle = rng.random(n) < world.listeners.shuffle_share[plays.listener]
    return (((start * len(REASONS_END) + end) * 2 + shuffle) * 2 + plays.skipped).astype(np.int8)


def _bots(world: World, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Rows of a few bot listeners, each with 1,500-2,500 plays within one UTC day."""
    n_bots = int(np.clip(len(world.listeners.ids) // 1000, 2, 5))
    counts = rng.integers(1_500, 2_501, n_bots)
    bot = np.repeat(np.arange(n_bots), counts)
    gap = rng.integers(10, 31, len(bot))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    gap[first] = 0
    offset = np.cumsum(gap)
    offset -= np.repeat(offset[first], counts)
    span = offset[np.cumsum(counts) - 1]
    day = rng.integers(FIRST_DAY, LAST_DAY + 1, n_bots)
    begin = day * DAY + np.floor(rng.random(n_bots) * (DAY - span)).astype(np.int64)
    song = SongSampler(world.catalogue).popular(len(bot), rng)
    return {
        "user": (len(world.listeners.ids) + bot).astype(np.int32),
        "song": song.astype(np.int32),
        "start": begin[bot] + offset,
        "ms": world.catalogue.song_duration_ms[song],
        "skipped": np.zeros(len(bot), dtype=bool),
        "variant": np.full(len(bot), NORMAL, dtype=np.int8),
        "aux": np.zeros(len(bot), dtype=np.int32),
        "flag": np.zeros(len(bot), dtype=np.int8),  # trackdone, trackdone, no shuffle
        "kind": np.full(len(bot), KIND_CODES["bot_listener"], dtype=np.int8),
    }


def _insert(
    clean: dict[str, np.ndarray],
    extra: list[tuple[dict[str, np.ndarray], np.ndarray]],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Clean rows in order with the extra rows inserted, each after the clean row whose
    position it gives."""
    n = len(next(iter(clean.values())))
    if not extra:
        return clean
    rows = {name: np.concatenate([clean[name]] + [e[name] for e, _ in extra]) for name in clean}
    after = np.concatenate([p for _, p in extra])
    key = np.concatenate([2 * np.arange(n, dtype=np.int64), 2 * after.astype(np.int64) + 1])
    order = np.lexsort((rng.random(len(key)), key))
    return {name: column[order] for name, column in rows.items()}


def _first_of(a: np.ndarray, b: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
    """True for the first row of each distinct (a, b) pair (among the rows `among`)."""
    among = np.ones(len(a), dtype=bool) if among is None else among
    where = np.flatnonzero(among)
    _, first = np.unique(np.stack([a[where], b[where]]), axis=1, return_index=True)
    out = np.zeros(len(a), dtype=bool)
    out[where[first]] = True
    return out


def _distinct(
    key_a: np.ndarray, key_b: np.ndarray, prefer_a: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Choose variant A or B per row so that no two rows share a key (`key_a` for rows
    made A, `key_b` for rows made B), as the rows prefer where possible. Returns
    (made A, kept); the few rows whose keys are both taken are not kept."""
    decided = np.zeros(len(key_a), dtype=bool)
    made_a = np.zeros(len(key_a), dtype=bool)
    used = {True: np.zeros(0, dtype=np.int64), False: np.zeros(0, dtype=np.int64)}
    for want_a, only in ((True, prefer_a), (False, ~prefer_a), (False, None), (True, None)):
        key = key_a if want_a else key_b
        open_rows = ~decided if only is None else ~decided & only
        fresh = _first_of(key, np.zeros_like(key), open_rows) & ~np.isin(key, used[want_a])
        decided |= fresh
        made_a |= fresh & want_a
        used[want_a] = np.concatenate([used[want_a], key[fresh]])
    return made_a, decided


def _take(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: column[index].copy() for name, column in columns.items()}


def plan_timed(
    world: World, fmt: str, dirt: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, int], dict[str, dict[str, int]], dict]:
    """The rows of a timed format's file: (columns in file order, dirt per kind, dirt per
    kind and variant, dirty names {"songs", "artist", "title"} for `DIRTY_NAME` rows).

    Columns: `user` (listener index; bots follow the listeners; `EMPTY_USER`), `song`,
    `start` (Unix s), `ms`, `skipped`, `variant`, `aux` (variant data:
    podcast number, or index into the dirty names), `flag` (Spotify), `kind`.
    """
    plays = world.plays
    n = len(plays)
    clean = {
        "user": plays.listener,
        "song": plays.song,
        "start": plays.start,
        "ms": plays.ms_played,
        "skipped": plays.skipped,
        "variant": np.full(n, NORMAL, dtype=np.int8),
        "aux": np.zeros(n, dtype=np.int32),
        "flag": spotify_flags(world, rng) if fmt == "spotify" else np.zeros(n, dtype=np.int8),
        "kind": np.zeros(n, dtype=np.int8),
    }
    kinds = DIRT_KINDS[fmt]
    counts = dict.fromkeys(kinds, 0)
    variants: dict[str, dict[str, int]] = {}
    names = {"songs": np.zeros(0, dtype=np.int64), "artist": None, "title": None}
    if dirt <= 0:
        return clean, counts, variants, names
    eligible = np.flatnonzero(~plays.skipped)  # no dirty row is also a skip
    budget = split_budget(round(dirt * n), kinds)
    total = sum(budget.values())
    if total > len(eligible):
        raise ValueError(f"a dirt fraction of {dirt} needs more clean rows than there are")
    picks = rng.choice(eligible, size=total, replace=False)
    bounds = np.cumsum([0, *budget.values()])
    pick = {kind: picks[bounds[i] : bounds[i + 1]] for i, kind in enumerate(kinds)}
    extra: list[tuple[dict[str, np.ndarray], np.ndarray]] = []

    def add(kind: str, rows: dict[str, np.ndarray], after: np.ndarray) -> None:
        rows["kind"][:] = KIND_CODES[kind]
        extra.append((rows, after))
        counts[kind] += len(after)

    # names_normalised: in place.
    src = pick["names_normalised"]
    songs, where = np.unique(clean["song"][src], return_inverse=True)
    artist, title, how = dirty_names(world, songs, rng)
    clean["variant"][src] = DIRTY_NAME
    clean["aux"][src] = where
    clean["kind"][src] = KIND_CODES["names_normalised"]
    counts["names_normalised"] = len(src)
    names = {"songs": songs, "artist": artist, "title": title}
    ways = how[where]
    variants["names_normalised"] = {w: int((ways == w).sum()) for w in ("nfd", "space")}

    src = pick["exact_duplicate"]
    add("exact_duplicate", _take(clean, src), src + np.floor(rng.random(len(src)) * (n - src)))

    src = pick["duplicate_scrobble"]
    rows = _take(clean, src)
    rows["start"] += rng.integers(1, 10, len(src))
    add("duplicate_scrobble", rows, src)

    src = pick["missing_identity"]
    rows = _take(clean, src)
    no_listener = np.zeros(len(src), dtype=bool)
    if fmt == "lastfm-1k":  # half without a listener, unless that would repeat a line
        no_listener = (rng.random(len(src)) < 0.5) & _first_of(rows["start"], rows["song"])
    rows["user"][no_listener] = EMPTY_USER
    rows["variant"][~no_listener] = NO_IDENTITY
    add("missing_identity", rows, rng.integers(0, n, len(src)))
    variants["missing_identity"] = {
        "empty_listener": int(no_listener.sum()),
        "no_track": int((~no_listener).sum()),
    }

    src = pick["time_out_of_range"]
    rows = _take(clean, src)
    future = rng.random(len(src)) < 0.5
    origin = np.where(future, _FUTURE[0], _PAST[0])
    length = np.where(future, _FUTURE[1], _PAST[1])
    rows["start"] = origin + np.floor(rng.random(len(src)) * length).astype(np.int64)
    add("time_out_of_range", rows, rng.integers(0, n, len(src)))
    variants["time_out_of_range"] = {"future": int(future.sum()), "past": int((~future).sum())}

    if "not_music" in pick:
        src = pick["not_music"]
        rows = _take(clean, src)
        rows["variant"][:] = PODCAST
        rows["aux"] = rng.integers(0, N_PODCASTS, len(src))
        add("not_music", rows, rng.integers(0, n, len(src)))

    bots = _bots(world, rng)
    extra.append((bots, rng.integers(0, max(n, 1), len(bots["user"]))))
    return _insert(clean, extra, rng), counts, variants, names


def plan_counts(
    world: World, dirt: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, int], dict[str, dict[str, int]], dict, int]:
    """The rows of a Taste Profile file: (columns in file order, dirt per kind, dirt per
    kind and variant, dirty song names {"songs", "artist", "title"}, clean pairs).

    Columns: `user` (or `EMPTY_USER`), `song`, `count` (the play count; for dirty counts
    see `variant`), `variant` (NORMAL, NO_SONG_ID, or for bad counts 10 + index into
    `BAD_COUNTS`), `kind`.
    """
    plays = world.plays
    n_songs = world.catalogue.n_songs
    key, count = np.unique(
        plays.listener.astype(np.int64) * n_songs + plays.song, return_counts=True
    )
    user, song = key // n_songs, key % n_songs
    order = np.lexsort((rng.random(len(key)), user))  # grouped by listener, songs shuffled
    n = len(key)
    clean = {
        "user": user[order].astype(np.int32),
        "song": song[order].astype(np.int32),
        "count": count[order].astype(np.int64),
        "variant": np.full(n, NORMAL, dtype=np.int8),
        "kind": np.zeros(n, dtype=np.int8),
    }
    kinds = DIRT_KINDS["taste-profile"]
    counts = dict.fromkeys(kinds, 0)
    variants: dict[str, dict[str, int]] = {}
    names = {"songs": np.zeros(0, dtype=np.int64), "artist": None, "title": None}
    if dirt <= 0:
        return clean, counts, variants, names, n
    budget = split_budget(round(dirt * n), kinds)

    # names_normalised: dirty names in the song metadata, for songs whose pairs add up to
    # about the budget; every pair row of those songs is counted.
    pairs_of = np.bincount(clean["song"], minlength=n_songs)
    target = budget["names_normalised"]
    candidates = np.flatnonzero((pairs_of > 0) & (pairs_of <= max(1, target)))
    candidates = candidates[rng.permutation(len(candidates))]
    taken = int(np.searchsorted(np.cumsum(pairs_of[candidates]), target, side="right"))
    dirty_songs = np.sort(candidates[:taken]) if target else candidates[:0]
    artist, title, how = dirty_names(world, dirty_songs, rng)
    names = {"songs": dirty_songs, "artist": artist, "title": title}
    on_dirty = np.isin(clean["song"], dirty_songs)
    clean["kind"][on_dirty] = KIND_CODES["names_normalised"]
    counts["names_normalised"] = int(on_dirty.sum())
    way_rows = np.bincount(
        np.searchsorted(dirty_songs, clean["song"][on_dirty]), minlength=len(dirty_songs)
    )
    variants["names_normalised"] = {w: int(way_rows[how == w].sum()) for w in ("nfd", "space")} | {
        "songs": len(dirty_songs)
    }

    others = [k for k in kinds if k != "names_normalised"]
    eligible = np.flatnonzero(~on_dirty)
    total = sum(budget[k] for k in others)
    if total > len(eligible):
        raise ValueError(f"a dirt fraction of {dirt} needs more clean rows than there are")
    picks = rng.choice(eligible, size=total, replace=False)
    bounds = np.cumsum([0, *(budget[k] for k in others)])
    pick = {kind: picks[bounds[i] : bounds[i + 1]] for i, kind in enumerate(others)}
    extra = []

    def add(kind: str, rows: dict[str, np.ndarray], after: np.ndarray) -> None:
        rows["kind"][:] = KIND_CODES[kind]
        extra.append((rows, after))
        counts[kind] += len(after)

    src = pick["exact_duplicate"]
    add("exact_duplicate", _take(clean, src), src + np.floor(rng.random(len(src)) * (n - src)))

    src = pick["missing_identity"]
    rows = _take(clean, src)
    # Half without a listener, half without a song id; never two identical lines (so the
    # play count is drawn afresh, 1-99: the listener or the song alone repeats too often).
    rows["count"] = rng.integers(1, 100, len(src))
    size = 100
    no_listener, unique = _distinct(
        rows["song"].astype(np.int64) * size + rows["count"],
        rows["user"].astype(np.int64) * size + rows["count"],
        rng.random(len(src)) < 0.5,
    )
    rows = {name: column[unique] for name, column in rows.items()}
    no_listener = no_listener[unique]
    rows["user"][no_listener] = EMPTY_USER
    rows["variant"][~no_listener] = NO_SONG_ID
    add("missing_identity", rows, rng.integers(0, n, len(no_listener)))
    variants["missing_identity"] = {
        "empty_listener": int(no_listener.sum()),
        "no_song_id": int((~no_listener).sum()),
    }

    src = pick["bad_play_count"]
    rows = _take(clean, src)
    which = np.arange(len(src)) % len(BAD_COUNTS)
    rows["variant"] = (10 + which).astype(np.int8)
    add("bad_play_count", rows, rng.integers(0, n, len(src)))
    variants["bad_play_count"] = {v: int((which == i).sum()) for i, v in enumerate(BAD_COUNTS)}

    src = pick["implausible_play_count"]
    rows = _take(clean, src)
    rows["count"] = rng.integers(1_000_000, 100_000_001, len(src))
    add("implausible_play_count", rows, rng.integers(0, n, len(src)))
    return _insert(clean, extra, rng), counts, variants, names, n
