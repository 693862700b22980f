"""Catalogue search finds a word anywhere in a name, prefix matches first, on both backends."""

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import Song
from catalog.search import artists_search, songs_search
from tests.factories import ArtistFactory, SongFactory


@pytest.fixture
def forests(db):
    harbour = ArtistFactory(name="Moss Harbour")
    songs = {
        "lucky": SongFactory(title="Lucky Forest", artist=harbour),
        "fire": SongFactory(title="Forest Fire", artist=harbour),
        "by_name": SongFactory(title="Glass Bells", artist=ArtistFactory(name="The Forest Band")),
        "other": SongFactory(title="Open Sea", artist=ArtistFactory(name="Ada")),
    }
    return songs


def test_a_word_in_the_middle_of_a_title_or_an_artists_name_is_found(forests):
    found = list(songs_search("FOREST"))
    assert set(found) == {forests["lucky"], forests["fire"], forests["by_name"]}
    assert [a.name for a in artists_search("forest")] == ["The Forest Band"]
    assert [a.name for a in artists_search("harb")] == ["Moss Harbour"]


def test_names_starting_with_the_words_come_first(forests):
    titles = [song.title for song in songs_search("forest")]
    assert titles[0] == "Forest Fire"  # the prefix match, then by title
    assert titles[1:] == ["Glass Bells", "Lucky Forest"]


def test_the_search_page_and_the_api_find_a_word_in_the_middle(forests):
    page = APIClient().get(reverse("search"), {"q": "forest"}).content.decode()
    assert "Lucky Forest" in page and "The Forest Band" in page and "Open Sea" not in page
    api = APIClient().get(reverse("api-v1:song-list"), {"search": "forest"}).json()
    assert [row["title"] for row in api["results"]][:1] == ["Forest Fire"]
    assert forests["lucky"].pk in {row["id"] for row in api["results"]}


def test_like_wildcards_in_the_words_are_literal(forests):
    SongFactory(title="100% Forest")
    assert [song.title for song in songs_search("0%")] == ["100% Forest"]
    assert list(songs_search("_")) == []


def test_words_of_invisible_characters_only_find_nothing(forests):
    assert list(songs_search("\u200b\u2066")) == [] and list(artists_search("\u200d")) == []
    page = APIClient().get(reverse("search"), {"q": "\u202e"}).content.decode()
    assert "Lucky Forest" not in page


@pytest.mark.postgres
def test_the_match_keys_have_trigram_indexes_that_a_contains_search_uses(forests):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s",
            ["catalog_%_trgm"],
        )
        indexes = dict(cursor.fetchall())
        assert set(indexes) == {"catalog_artist_name_key_trgm", "catalog_song_title_key_trgm"}
        assert all("gin_trgm_ops" in definition for definition in indexes.values())
        # With a sequential scan ruled out (the test table is tiny), the planner answers the
        # contains lookup's SQL from the trigram index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = (
            Song.objects.filter(title_key__contains="forest").values("pk").query.sql_with_params()
        )
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "catalog_song_title_key_trgm" in plan
