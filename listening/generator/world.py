"""The generated world: a song catalogue (`catalogue`), listeners with tastes, their plays.

Everything is vectorised over whole arrays (songs, listeners, sessions, plays); nothing loops
per listen or per listener. The structure imitates real listening:

- popularity is power-law (see `catalogue`);
- each listener has 1-3 taste genres, 20 favourite songs played again and again (the first
  most), and a share of plays from the overall charts;
- activity is heavy-tailed (lognormal plays per listener);
- plays come in sessions, at most one per listener and local day, starting between 07:00
  and 24:00 local time (evening-heavy; more sessions on Fridays and weekends), each play
  starting when the one before ends. A session holds at most 55 plays, so it ends before
  07:00 the next morning: sessions never overlap, a UTC day holds at most ~110 plays of a
  listener, and (without skips) plays of one listener are at least 120 s apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .catalogue import Catalogue, SongSampler, make_catalogue, segments

DAY = 86_400
EPOCH = np.datetime64("1970-01-01", "D")
# Sessions start on local days in this range; with time zones and session length every play
# falls between 2005-01-01 and 2025-06-30 UTC.
FIRST_DAY = int((np.datetime64("2005-01-02", "D") - EPOCH).astype(int))
LAST_DAY = int((np.datetime64("2025-06-28", "D") - EPOCH).astype(int))
N_DAYS = LAST_DAY - FIRST_DAY + 1
TIME_RANGE = ("2005-01-01T00:00:00Z", "2025-06-30T00:00:00Z")

SESSION_MAX_PLAYS = 55  # 55 x (420 s + 2 s) < 7 h: a session started by 24:00 ends by 07:00
N_FAVOURITES = 20
MAX_PLAYS_PER_LISTENER = 120_000
REPEAT_GAP = 61  # no listener plays one song twice closer than this (seconds)

# Local start-hour weights, 07..23 (sessions never start 00-06).
_WEEKDAY_HOURS = np.array([1, 2, 1.5, 1, 1, 1.5, 1.2, 1, 1, 1.2, 2, 3, 3.5, 4, 4, 3, 1.5])
_WEEKEND_HOURS = np.array([0.5, 1, 1.5, 2, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 3, 3.5, 4, 4, 3.5, 2])
# Monday..Sunday: how much likelier a session is on that day.
_WEEKDAY_WEIGHT = np.array([1.0, 1.0, 1.0, 1.05, 1.3, 1.6, 1.4])
_FAVOURITE_CDF = np.cumsum(np.arange(1, N_FAVOURITES + 1) ** -0.7)
_FAVOURITE_CDF /= _FAVOURITE_CDF[-1]

# (country, UTC offset in hours, weight): a listener's country sets their time zone.
COUNTRIES = (
    ("US", -5, 18), ("US", -8, 10), ("GB", 0, 12), ("DE", 1, 10), ("SE", 1, 6), ("FR", 1, 6),
    ("ES", 1, 4), ("NL", 1, 4), ("PL", 1, 4), ("FI", 2, 2), ("BR", -3, 8), ("MX", -6, 5),
    ("CA", -5, 4), ("JP", 9, 5), ("AU", 10, 2),
)  # fmt: skip
PLATFORMS = (
    "Android OS 9 API 28 (samsung, SM-G960F)",
    "iOS 15.1 (iPhone12,1)",
    "Windows 10 (10.0.19041; x64)",
    "OS X 10.15.7 [x86 8]",
    "web_player windows 10;chrome 96.0.4664.110;desktop",
    "android",
    "ios",
)


@dataclass(frozen=True)
class Listeners:
    """Listeners, their tastes and how much they listen."""

    ids: np.ndarray  # "user_000001", ...
    country: np.ndarray
    utc_offset: np.ndarray  # hours, int
    platform: np.ndarray
    shuffle_share: np.ndarray  # float, share of plays with shuffle on (Spotify)
    genres: np.ndarray  # (n, 3) int: taste genres, strongest first
    genre_cdf: np.ndarray  # (n, 3) float: cumulative weights of those genres
    favourites: np.ndarray  # (n, N_FAVOURITES) int32 song indices, most played first
    p_favourite: np.ndarray  # share of plays from favourites
    p_popular: np.ndarray  # share of plays from the overall charts
    n_plays: np.ndarray  # int64 plays per listener; sums to the number of listens


@dataclass(frozen=True)
class Plays:
    """Clean plays, sorted by listener and then time."""

    listener: np.ndarray  # int32
    song: np.ndarray  # int32
    start: np.ndarray  # int64 Unix seconds (UTC) when the play started
    ms_played: np.ndarray  # int32: the song's duration, or less for a skip
    skipped: np.ndarray  # bool: stopped after 1-29.999 s (Spotify skips)
    session_first: np.ndarray  # bool: first play of its session

    def __len__(self) -> int:
        return len(self.listener)


@dataclass(frozen=True)
class World:
    """A generated catalogue, its listeners and their plays."""

    seed: int
    catalogue: Catalogue
    listeners: Listeners
    plays: Plays


def _plays_per_listener(n_listeners: int, n_listens: int, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed (lognormal) activity; everyone plays once if there are enough listens."""
    cap = min(MAX_PLAYS_PER_LISTENER, max(1_000, -(-25 * n_listens // n_listeners)))
    if cap * n_listeners < n_listens:
        raise ValueError(f"{n_listens} listens are too many for {n_listeners} listeners")
    weight = rng.lognormal(0, 1.3, n_listeners)
    base = 1 if n_listens >= n_listeners else 0
    counts = base + rng.multinomial(n_listens - base * n_listeners, weight / weight.sum())
    for _ in range(1_000):
        excess = int(np.maximum(counts - cap, 0).sum())
        if not excess:
            return counts.astype(np.int64)
        counts = np.minimum(counts, cap)
        room = np.where(counts < cap, weight, 0.0)
        counts += rng.multinomial(excess, room / room.sum())
    raise RuntimeError("could not spread the listens over the listeners")


def make_listeners(
    n_listeners: int, n_listens: int, catalogue: Catalogue, rng: np.random.Generator
) -> Listeners:
    """`n_listeners` listeners with taste genres, favourites and heavy-tailed activity."""
    if n_listeners < 1:
        raise ValueError("there must be at least one listener")
    n = n_listeners
    width = max(6, len(str(n)))
    ids = np.char.add("user_", np.char.zfill(np.arange(1, n + 1).astype(str), width))
    countries = np.array([c[0] for c in COUNTRIES], dtype=object)
    offsets = np.array([c[1] for c in COUNTRIES])
    where = rng.choice(len(COUNTRIES), size=n, p=_normalised([c[2] for c in COUNTRIES]))

    genre_popularity = np.bincount(
        catalogue.song_genre, weights=catalogue.song_weight, minlength=catalogue.n_genres
    )
    genres = rng.choice(catalogue.n_genres, size=(n, 3), p=_normalised(genre_popularity**0.5))
    weight = -np.sort(-rng.dirichlet([4.0, 1.5, 1.0], size=n), axis=1)
    weight[rng.random(n) < 0.3, 1:] = 0.0  # a third of listeners stick to one genre
    weight[rng.random(n) < 0.4, 2:] = 0.0
    genre_cdf = np.cumsum(weight / weight.sum(axis=1, keepdims=True), axis=1)
    genre_cdf[:, 2] = 1.0

    partial = Listeners(
        ids=ids.astype(object),
        country=countries[where],
        utc_offset=offsets[where],
        platform=np.array(PLATFORMS, dtype=object)[rng.integers(0, len(PLATFORMS), n)],
        shuffle_share=rng.beta(1, 2, n),
        genres=genres,
        genre_cdf=genre_cdf,
        favourites=np.empty((n, 0), dtype=np.int32),
        p_favourite=rng.uniform(0.15, 0.45, n),
        p_popular=rng.uniform(0.1, 0.3, n),
        n_plays=_plays_per_listener(n, n_listens, rng),
    )
    sampler = SongSampler(catalogue)
    who = np.repeat(np.arange(n), N_FAVOURITES)
    favourites = _taste_songs(sampler, partial, who, rng)
    popular = rng.random(len(who)) < 0.2
    favourites[popular] = sampler.popular(int(popular.sum()), rng)
    return replace(partial, favourites=favourites.reshape(n, N_FAVOURITES))


def _taste_songs(
    sampler: SongSampler, listeners: Listeners, who: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A song from a taste genre of each listener in `who`."""
    column = (rng.random(len(who))[:, None] > listeners.genre_cdf[who]).sum(axis=1)
    return sampler.in_genre(listeners.genres[who, np.minimum(column, 2)], rng)


def _normalised(weights: Sequence[float] | np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    return weights / weights.sum()


def _choose_songs(
    catalogue: Catalogue, listeners: Listeners, listener: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One song per play: a favourite, a chart song, or a song from a taste genre."""
    sampler = SongSampler(catalogue)
    draw = rng.random(len(listener))
    p_fav = listeners.p_favourite[listener]
    favourite = draw < p_fav
    popular = ~favourite & (draw < p_fav + listeners.p_popular[listener])
    genre = ~favourite & ~popular
    song = np.empty(len(listener), dtype=np.int32)
    slot = np.searchsorted(_FAVOURITE_CDF, rng.random(int(favourite.sum())), side="right")
    song[favourite] = listeners.favourites[listener[favourite], slot]
    song[popular] = sampler.popular(int(popular.sum()), rng)
    song[genre] = _taste_songs(sampler, listeners, listener[genre], rng)
    return song


def _session_days(counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Session days per listener: (listener of each session, local day), sorted by both.

    A listener gets enough sessions for their plays (8-16 plays a session on average, never
    needing more than 40), spread over a lognormal active span; candidate days are drawn
    with random gaps and the sessions kept from them favour Fridays and weekends.
    """
    n = len(counts)
    mean_length = rng.uniform(8, 16, n)
    sessions = np.maximum(np.ceil(counts / mean_length), np.ceil(counts / 40))
    sessions = np.minimum(sessions, N_DAYS).astype(np.int64)
    candidates = np.minimum(np.ceil(sessions * 1.6), N_DAYS).astype(np.int64)
    span = np.clip(np.exp(rng.normal(np.log(900), 0.9, n)), candidates * 1.05, N_DAYS)
    mean_gap = np.maximum(span / np.maximum(candidates, 1), 1.0)

    owner = np.repeat(np.arange(n), candidates)
    bounds = segments(candidates)
    first, last = bounds[:-1], bounds[1:] - 1
    has = candidates > 0
    gap = rng.geometric(1.0 / mean_gap[owner])
    gap[first[has]] = 0
    total = np.cumsum(gap)
    base = np.zeros(n, dtype=np.int64)
    base[has] = total[first[has]]  # the gap at a listener's first candidate is 0
    day = total - base[owner]
    too_long = np.zeros(n, dtype=bool)
    too_long[has] = day[last[has]] >= N_DAYS
    if too_long.any():  # fall back to consecutive days
        rows = too_long[owner]
        day[rows] = (np.arange(len(day)) - bounds[owner])[rows]
    span_used = np.zeros(n, dtype=np.int64)
    span_used[has] = day[last[has]]
    start = np.floor(rng.random(n) * (N_DAYS - span_used)).astype(np.int64)
    day = FIRST_DAY + start[owner] + day

    # Keep `sessions` of the candidates, weighted by weekday (Efraimidis-Spirakis keys).
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    key = rng.random(len(day)) ** (1.0 / _WEEKDAY_WEIGHT[weekday])
    order = np.lexsort((-key, owner))
    rank = np.arange(len(day)) - bounds[owner[order]]
    keep = np.zeros(len(day), dtype=bool)
    keep[order[rank < sessions[owner[order]]]] = True
    return owner[keep], day[keep]


def _assign_sessions(
    listener: np.ndarray,
    session_owner: np.ndarray,
    session_day: np.ndarray,
    n_listeners: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Spread each listener's plays over their sessions (weighted), at most 55 a session."""
    n_sessions = len(session_owner)
    per_listener = np.bincount(session_owner, minlength=n_listeners)
    bounds = segments(per_listener)
    weekend = (session_day + 3) % 7 >= 5
    weight = rng.exponential(1.0, n_sessions) * np.where(weekend, 1.4, 1.0)
    cum = np.cumsum(weight)
    cum0 = np.concatenate([[0.0], cum])
    lo, hi = cum0[bounds[:-1]][listener], cum0[bounds[1:]][listener]
    session = np.searchsorted(cum, lo + rng.random(len(listener)) * (hi - lo), side="left")
    session = np.clip(session, bounds[listener], bounds[listener + 1] - 1)

    # Plays beyond a session's 55th move, at random, to sessions of theirs with room.
    order = np.argsort(session, kind="stable")
    length = np.bincount(session, minlength=n_sessions)
    rank = np.arange(len(session)) - segments(length)[:-1][session[order]]
    moved = order[rank >= SESSION_MAX_PLAYS]
    filled = np.minimum(length, SESSION_MAX_PLAYS)
    for _ in range(10_000):
        if not len(moved):
            return session
        owner = listener[moved]
        target = bounds[owner] + np.floor(rng.random(len(moved)) * per_listener[owner]).astype(
            np.int64
        )
        by_target = np.argsort(target, kind="stable")
        sorted_target = target[by_target]
        _, first, count = np.unique(sorted_target, return_index=True, return_counts=True)
        within = np.arange(len(moved)) - np.repeat(first, count)
        fits = within < SESSION_MAX_PLAYS - filled[sorted_target]
        session[moved[by_target[fits]]] = sorted_target[fits]
        filled += np.bincount(sorted_target[fits], minlength=n_sessions)
        moved = moved[by_target[~fits]]
    raise RuntimeError("could not fit the plays into sessions")


def _timeline(
    session: np.ndarray, session_start: np.ndarray, ms_played: np.ndarray, gap: np.ndarray
) -> np.ndarray:
    """Start times: each play (sorted by session) starts when the one before it ends."""
    step = -(-ms_played.astype(np.int64) // 1000) + gap
    before = np.cumsum(step) - step
    first = segments(np.bincount(session, minlength=len(session_start)))[:-1]
    return session_start[session] + before - before[first[session]]


def _close_repeats(listener: np.ndarray, song: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Plays (sorted by listener and time) that repeat the listener's song within 61 s."""
    key = listener.astype(np.int64) * (int(song.max(initial=0)) + 1) + song
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    close = (start[order][1:] - start[order][:-1]) < REPEAT_GAP
    return order[1:][same & close]


def make_plays(
    catalogue: Catalogue,
    listeners: Listeners,
    rng: np.random.Generator,
    skip_rate: float = 0.0,
) -> Plays:
    """The listeners' plays (`listeners.n_plays` each), in sessions over 2005-2025.

    With `skip_rate` > 0 that share of plays is skipped after 1-29.999 s (Spotify).
    """
    counts = listeners.n_plays
    n = len(counts)
    listener = np.repeat(np.arange(n, dtype=np.int32), counts)
    song = _choose_songs(catalogue, listeners, listener, rng)

    session_owner, session_day = _session_days(counts, rng)
    weekend = (session_day + 3) % 7 >= 5
    hours = np.where(weekend[:, None], _WEEKEND_HOURS, _WEEKDAY_HOURS)
    hour_cdf = np.cumsum(hours, axis=1)
    hour = 7 + (rng.random(len(session_day))[:, None] * hour_cdf[:, -1:] > hour_cdf).sum(axis=1)
    local = session_day * DAY + hour * 3600 + rng.integers(0, 3600, len(session_day))
    session_start = local - listeners.utc_offset[session_owner] * 3600

    session = _assign_sessions(listener, session_owner, session_day, n, rng)
    order = np.argsort(session, kind="stable")  # plays in a session are in random order
    listener, song, session = listener[order], song[order], session[order]

    skipped = rng.random(len(song)) < skip_rate
    skip_ms = rng.integers(1_000, 30_000, len(song), dtype=np.int32)
    gap = rng.integers(0, 3, len(song))
    ms_played = np.where(skipped, skip_ms, catalogue.song_duration_ms[song])
    start = _timeline(session, session_start, ms_played, gap)
    if skip_rate > 0:
        # Skips can bring a repeat of a song within a minute: redraw the later song a few
        # times; what remains, resolve by playing the skip just before it in full (then the
        # repeat starts >= 120 s after the earlier play, and nothing else comes closer).
        sampler = SongSampler(catalogue)
        for attempt in range(1_000):
            again = _close_repeats(listener, song, start)
            if not len(again):
                break
            if attempt < 5:
                song[again] = sampler.popular(len(again), rng)
            else:
                skipped[again - 1] = False
            ms_played = np.where(skipped, skip_ms, catalogue.song_duration_ms[song])
            start = _timeline(session, session_start, ms_played, gap)
    session_first = np.ones(len(session), dtype=bool)
    session_first[1:] = session[1:] != session[:-1]
    return Plays(
        listener=listener,
        song=song,
        start=start,
        ms_played=ms_played.astype(np.int32),
        skipped=skipped,
        session_first=session_first,
    )


def make_world(
    n_listeners: int, n_songs: int, n_listens: int, seed: int, skip_rate: float = 0.0
) -> World:
    """A catalogue of `n_songs`, `n_listeners` listeners and `n_listens` clean plays.

    The same arguments give the same world. The catalogue depends only on `seed` and
    `n_songs`.
    """
    if n_listens < 0:
        raise ValueError("the number of listens cannot be negative")
    catalogue = make_catalogue(n_songs, np.random.default_rng([seed, 1]))
    listeners = make_listeners(n_listeners, n_listens, catalogue, np.random.default_rng([seed, 2]))
    plays = make_plays(catalogue, listeners, np.random.default_rng([seed, 3]), skip_rate)
    return World(seed=seed, catalogue=catalogue, listeners=listeners, plays=plays)
