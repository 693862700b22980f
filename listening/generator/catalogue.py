"""The song catalogue: artists in genres, their songs and albums, power-law popularity.

Artists' popularity is Zipf-distributed, and so is the popularity of songs within an artist
(the first song is the hit); popular artists tend to have more songs. Albums hold 8-14
songs and come out every 1-3 years from an artist's first year (1960-2025). Artists fall
into 8-20 genres of varying size. Names and ids come from `names`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import names

MIN_SONG_MS, MAX_SONG_MS = 120_000, 420_000


@dataclass(frozen=True)
class Catalogue:
    """Songs (grouped by artist), artists and genres. Name and id arrays hold `str`;
    an unknown MusicBrainz id is ""."""

    artist_name: np.ndarray
    artist_mbid: np.ndarray
    artist_genre: np.ndarray  # int, 0..n_genres-1
    song_artist: np.ndarray  # int32, index into the artist arrays
    song_title: np.ndarray
    song_release: np.ndarray
    song_release_mbid: np.ndarray
    song_year: np.ndarray  # int16
    song_duration_ms: np.ndarray  # int32, 120,000..420,000
    song_mbid: np.ndarray  # MusicBrainz recording id, for ~70% of songs
    song_echonest_id: np.ndarray  # "SO" + 16
    song_spotify_uri: np.ndarray  # "spotify:track:" + 22
    song_weight: np.ndarray  # float64, popularity; sums to 1
    n_genres: int

    @property
    def n_songs(self) -> int:
        return len(self.song_artist)

    @property
    def n_artists(self) -> int:
        return len(self.artist_name)

    @property
    def song_genre(self) -> np.ndarray:
        return self.artist_genre[self.song_artist]


def segments(counts: np.ndarray) -> np.ndarray:
    """Start offsets of consecutive segments of the given lengths (length n + 1)."""
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])


def _zipf(n: int, exponent: float) -> np.ndarray:
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent


def make_catalogue(n_songs: int, rng: np.random.Generator) -> Catalogue:
    """`n_songs` songs by about `n_songs / 10` artists, with power-law popularity."""
    if n_songs < 1:
        raise ValueError("the catalogue needs at least one song")
    n_artists = max(1, min(n_songs, round(n_songs / 10)))
    artist_weight = _zipf(n_artists, 1.1)[rng.permutation(n_artists)]
    artist_weight /= artist_weight.sum()
    # Every artist has a song; popular artists tend to have more.
    share = artist_weight**0.5 * rng.lognormal(0, 0.8, n_artists)
    per_artist = 1 + rng.multinomial(n_songs - n_artists, share / share.sum())
    song_artist = np.repeat(np.arange(n_artists, dtype=np.int32), per_artist)
    rank = np.arange(n_songs) - np.repeat(segments(per_artist)[:-1], per_artist)
    within = _zipf(int(per_artist.max()), 1.1)
    within_total = np.bincount(song_artist, weights=within[rank], minlength=n_artists)
    song_weight = artist_weight[song_artist] * within[rank] / within_total[song_artist]
    song_weight /= song_weight.sum()

    # Albums of 8-14 songs; an artist's albums come out every 1-3 years from a start year.
    album_size = rng.integers(8, 15, n_artists)
    album_of_artist = rank // album_size[song_artist]
    n_albums_per = np.bincount(song_artist, minlength=n_artists)
    n_albums_per = -(-n_albums_per // album_size)
    album = np.repeat(segments(n_albums_per)[:-1], per_artist) + album_of_artist
    n_albums = int(n_albums_per.sum())
    album_artist = np.repeat(np.arange(n_artists), n_albums_per)
    album_rank = np.arange(n_albums) - np.repeat(segments(n_albums_per)[:-1], n_albums_per)
    first_year = 1960 + np.floor(66 * rng.beta(1.6, 1.2, n_artists)).astype(np.int64)
    cadence = rng.integers(1, 4, n_artists)
    album_year = np.minimum(2025, first_year[album_artist] + album_rank * cadence[album_artist])
    album_name = names.album_names(n_albums, album_year, rng)
    album_mbid = names.uuids(n_albums, rng, share=0.6)

    # Genres partition the artists; genre sizes vary.
    n_genres = min(n_artists, int(np.clip(round(2 * np.sqrt(n_artists)), 8, 20)))
    genre_share = rng.dirichlet(np.full(n_genres, 2.0))
    artist_genre = rng.choice(n_genres, size=n_artists, p=genre_share)
    artist_genre[rng.permutation(n_artists)[:n_genres]] = np.arange(n_genres)

    duration = np.exp(rng.normal(np.log(230_000), 0.3, n_songs))
    return Catalogue(
        artist_name=names.artist_names(n_artists, rng),
        artist_mbid=names.uuids(n_artists, rng, share=0.8),
        artist_genre=artist_genre,
        song_artist=song_artist,
        song_title=names.song_titles(song_artist, rank, rng),
        song_release=album_name[album],
        song_release_mbid=album_mbid[album],
        song_year=album_year[album].astype(np.int16),
        song_duration_ms=np.clip(duration, MIN_SONG_MS, MAX_SONG_MS).astype(np.int32),
        song_mbid=names.uuids(n_songs, rng, share=0.7),
        song_echonest_id=names.echonest_ids(n_songs, rng),
        song_spotify_uri=names.spotify_uris(n_songs, rng),
        song_weight=song_weight,
        n_genres=n_genres,
    )


class SongSampler:
    """Draws songs by popularity, overall or within a genre (inverse CDF, vectorised)."""

    def __init__(self, catalogue: Catalogue):
        self.cdf = np.cumsum(catalogue.song_weight)
        genre = catalogue.song_genre
        self.by_genre = np.argsort(genre, kind="stable")
        self.genre_cum = np.cumsum(catalogue.song_weight[self.by_genre])
        bounds = segments(np.bincount(genre, minlength=catalogue.n_genres))
        self.lo_index, self.hi_index = bounds[:-1], bounds[1:] - 1
        self.lo = np.concatenate([[0.0], self.genre_cum])[bounds[:-1]]
        self.hi = self.genre_cum[bounds[1:] - 1]

    def popular(self, n: int, rng: np.random.Generator) -> np.ndarray:
        index = np.searchsorted(self.cdf, rng.random(n) * self.cdf[-1], side="right")
        return np.minimum(index, len(self.cdf) - 1).astype(np.int32)

    def in_genre(self, genre: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        target = self.lo[genre] + rng.random(len(genre)) * (self.hi[genre] - self.lo[genre])
        pos = np.searchsorted(self.genre_cum, target, side="left")
        pos = np.clip(pos, self.lo_index[genre], self.hi_index[genre])
        return self.by_genre[pos].astype(np.int32)
