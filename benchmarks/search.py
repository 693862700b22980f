"""Catalogue search benchmark: a word anywhere in 384k song titles, with and without the
trigram index.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/musicsite_bench_search \
        .venv/bin/python benchmarks/search.py [--songs 384000]

Fills an empty, migrated database once with generated artists (one per ten songs) and
titles, then times the first page and the count of the search page's query
(`catalog.search.songs_search`, for an anonymous visitor) for a few words, as planned with the
trigram indexes and with bitmap scans turned off (what the query costs without them: a
scan of every key). Prints JSON; results/search.md has the last figures.
"""

import argparse
import json
import os
import time

import numpy as np
from ingest import django_setup, ensure_database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_search"
WORDS = ["forest", "harbor", "love", "e", "zq"]


def fill(n_songs: int) -> None:
    from catalog.models import Artist, Song
    from catalog.names import match_key
    from listening.generator.names import artist_names, song_titles

    if Song.objects.exists():
        return
    rng = np.random.default_rng(1)
    n_artists = n_songs // 10
    artists = Artist.objects.bulk_create(
        (Artist(name=name, name_key=match_key(name)) for name in artist_names(n_artists, rng)),
        batch_size=10_000,
    )
    song_artist = rng.integers(0, n_artists, size=n_songs)
    rank = np.zeros(n_songs, dtype=np.int64)
    order = np.argsort(song_artist, kind="stable")
    _, starts = np.unique(song_artist[order], return_index=True)
    rank[order] = np.arange(n_songs) - np.repeat(starts, np.diff(np.append(starts, n_songs)))
    titles = song_titles(song_artist, rank, rng)
    Song.objects.bulk_create(
        (
            Song(title=title, title_key=match_key(title), artist_id=artists[a].pk)
            for title, a in zip(titles, song_artist, strict=True)
        ),
        batch_size=10_000,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_song; ANALYZE catalog_artist")


def timed(word: str, repeats: int = 5) -> dict:
    """The best of `repeats` runs (the machine is shared: the best is the least disturbed)."""
    from catalog.search import songs_search

    page = count = float("inf")
    for _ in range(repeats):
        songs = songs_search(word).select_related("artist")
        started = time.perf_counter()
        first = list(songs[:20])
        page = min(page, time.perf_counter() - started)
        started = time.perf_counter()
        matches = songs.count()
        count = min(count, time.perf_counter() - started)
    return {
        "word": word,
        "matches": matches,
        "first_page_ms": round(page * 1000, 1),
        "count_ms": round(count * 1000, 1),
        "first": first[0].title if first else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=384_000)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    ensure_database()
    django_setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    fill(args.songs)
    result = {"songs": args.songs, "with_index": [timed(word) for word in WORDS]}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        result["without_index"] = [timed(word) for word in WORDS]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
