"""The format parsers: each source shape in, the canonical frame out, faithfully (no cleaning)."""

import math
from pathlib import Path

import pandas as pd
import pytest

from listening.ingest.errors import ImportFormatError
from listening.ingest.formats import (
    ARTIST_LEVEL_FORMATS,
    FORMAT_NAMES,
    ReadOptions,
    detect_format,
    read_chunks,
)
from listening.ingest.schema import COLUMNS
from tests.listening.fixtures_formats import (
    listen,
    records,
    spotify_play,
    spotify_track,
    utc,
    write_hetrec,
    write_json,
    write_json_lines,
    write_lines,
    write_tsv,
)

REPO = Path(__file__).resolve().parents[2]
HETREC = REPO.parent / "shared" / "data" / "hetrec2011-lastfm-2k"

SONG_A, SONG_B, SONG_C = "SOAKIMP12A8C130995", "SOBBMDR12A8C13253B", "SOBXHDL12A81C204C0"
USER_1 = "b80344d063b5ccb3212f76538f3d9e43d87dca9e"
USER_2 = "85c1f87fea955d09b4bec2e36aee110927aedf9a"
MBID = "8d5f2a1c-1d77-4ff0-9f3a-3c1c9d3a1e11"


def read_all(path: Path, format: str | None = None, **options) -> pd.DataFrame:
    chunks = list(read_chunks(path, format, ReadOptions(**options)))
    return pd.concat(chunks, ignore_index=True)


def assert_same_in_chunks_of_two(path: Path, **options) -> None:
    whole = read_all(path, **options)
    chunks = list(read_chunks(path, None, ReadOptions(chunk_rows=2, **options)))
    assert [len(chunk) for chunk in chunks[:-1]] == [2] * (len(chunks) - 1)
    assert len(chunks) == math.ceil(len(whole) / 2)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def error_of(path: Path, format: str | None = None, **options) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as caught:
        read_all(path, format, **options)
    return caught.value


# --- Taste Profile -------------------------------------------------------------------------


def triplets(tmp_path: Path, name: str = "train_triplets.txt") -> Path:
    return write_tsv(
        tmp_path / name,
        [(USER_1, SONG_A, 1), (USER_1, SONG_B, 12), (USER_2, SONG_A, "many"), (USER_2, SONG_C, "")],
    )


def test_it_detects_a_taste_profile_file_from_its_content_not_its_name(tmp_path):
    assert detect_format(triplets(tmp_path, name="listens.dat")) == "taste-profile"


def test_it_reads_a_taste_profile_file_keeping_dirty_play_counts_as_nan(tmp_path):
    frame = read_all(triplets(tmp_path))

    assert list(frame.columns) == list(COLUMNS)
    assert records(frame, "line", "listener", "echonest_id", "play_count") == [
        (1, USER_1, SONG_A, 1.0),
        (2, USER_1, SONG_B, 12.0),
        (3, USER_2, SONG_A, None),
        (4, USER_2, SONG_C, None),
    ]
    assert frame["played_at"].isna().all()
    assert frame[["artist", "title", "release", "year", "msd_track_id"]].isna().all().all()


def test_it_reads_a_taste_profile_file_in_chunks_with_the_same_result(tmp_path):
    assert_same_in_chunks_of_two(triplets(tmp_path))


def test_blank_lines_are_skipped_but_still_counted_in_line_numbers(tmp_path):
    path = write_lines(tmp_path / "t.txt", [f"{USER_1}\t{SONG_A}\t3", "", f"{USER_2}\t{SONG_B}\t4"])

    assert records(read_all(path), "line", "listener") == [(1, USER_1), (3, USER_2)]


def test_it_joins_the_song_list_found_beside_the_triplets_in_a_folder(tmp_path):
    triplets(tmp_path)
    write_lines(
        tmp_path / "unique_tracks.txt",
        [
            f"TRMMMYQ128F932D901<SEP>{SONG_A}<SEP>Faster Pussy cat<SEP>Silent Night",
            f"TRMMMKD128F425225D<SEP>{SONG_B}<SEP>Karkkiautomaatti<SEP>Tanssi vaan",
            f"TRSECOND128F425225<SEP>{SONG_B}<SEP>Another artist<SEP>Another title",
        ],
    )

    assert detect_format(tmp_path) == "taste-profile"
    frame = read_all(tmp_path)

    assert records(frame, "echonest_id", "msd_track_id", "artist", "title", "release") == [
        (SONG_A, "TRMMMYQ128F932D901", "Faster Pussy cat", "Silent Night", None),
        (SONG_B, "TRMMMKD128F425225D", "Karkkiautomaatti", "Tanssi vaan", None),  # first wins
        (SONG_A, "TRMMMYQ128F932D901", "Faster Pussy cat", "Silent Night", None),
        (SONG_C, None, None, None, None),  # not in the song list
    ]


def test_it_joins_a_song_csv_given_as_an_option_with_year_zero_as_unknown(tmp_path):
    songs = write_lines(
        tmp_path / "song_data.csv",
        [
            "song_id,title,release,artist_name,year",
            f'{SONG_A},Silent Night,"Monster Ballads X-Mas, Vol. 2",Faster Pussy cat,2003',
            f"{SONG_B},Tanssi vaan,Karkuteillä,Karkkiautomaatti,0",
        ],
    )

    frame = read_all(triplets(tmp_path), songs_path=songs)

    assert records(frame, "echonest_id", "title", "release", "artist", "year")[:2] == [
        (SONG_A, "Silent Night", "Monster Ballads X-Mas, Vol. 2", "Faster Pussy cat", 2003),
        (SONG_B, "Tanssi vaan", "Karkuteillä", "Karkkiautomaatti", None),
    ]


def test_a_taste_profile_line_with_two_fields_is_an_error_naming_the_file_and_line(tmp_path):
    path = write_lines(tmp_path / "t.txt", [f"{USER_1}\t{SONG_A}\t1", f"{USER_1}\t{SONG_B}"])

    error = error_of(path, "taste-profile")

    assert (error.path, error.line) == (str(path), 2)
    assert str(error) == (
        f"{path}, line 2: expected 3 tab-separated fields (user, song, play count), found 2"
    )


def test_a_line_with_too_many_fields_in_a_later_chunk_names_its_own_line(tmp_path):
    lines = [f"{USER_1}\t{SONG_A}\t{n}" for n in range(1, 8)] + [f"{USER_1}\t{SONG_A}\t1\textra"]
    path = write_lines(tmp_path / "t.txt", lines)

    error = error_of(path, chunk_rows=3)

    assert error.line == 8
    assert "expected 3 tab-separated fields (user, song, play count), found 4" in str(error)


def test_a_folder_with_two_triplet_files_asks_for_one(tmp_path):
    triplets(tmp_path, "train_triplets.txt")
    triplets(tmp_path, "kaggle_visible_evaluation_triplets.txt")

    error = error_of(tmp_path)

    assert "expected one *triplets* file" in str(error)
    assert "train_triplets.txt" in str(error)


# --- Last.fm 1K --------------------------------------------------------------------------------

ARTIST_MBID = "F1B1CF71-BD35-4E99-8624-24A6E15F133A"
TRACK_MBID = "f8f9a3a0-1b2c-4d5e-8f90-123456789abc"


def scrobbles(tmp_path: Path) -> Path:
    return write_tsv(
        tmp_path / "userid-timestamp-artid-artname-traid-traname.tsv",
        [
            ("user_000001", "2009-05-04T23:08:57Z", ARTIST_MBID, "Deep Dish", "", "Flashdance"),
            ("user_000001", "2009-05-04T13:54:10Z", "", "坂本龍一", TRACK_MBID, "Composition 0919"),
            ("user_000002", "2008-01-27T22:02:37Z", "", "Underworld", "", "Boy, Boy, Boy"),
            ("user_000002", "2008-01-27T21:56:22Z", "", "", "", ""),
        ],
    )


def test_it_detects_last_fm_1k_scrobbles_from_their_content(tmp_path):
    assert detect_format(scrobbles(tmp_path)) == "lastfm-1k"


def test_it_reads_last_fm_1k_scrobbles_one_play_a_row_with_utc_times(tmp_path):
    frame = read_all(scrobbles(tmp_path))

    assert records(frame, "line", "listener", "played_at", "artist", "title", "play_count") == [
        (1, "user_000001", utc("2009-05-04 23:08:57"), "Deep Dish", "Flashdance", 1.0),
        (2, "user_000001", utc("2009-05-04 13:54:10"), "坂本龍一", "Composition 0919", 1.0),
        (3, "user_000002", utc("2008-01-27 22:02:37"), "Underworld", "Boy, Boy, Boy", 1.0),
        (4, "user_000002", utc("2008-01-27 21:56:22"), None, None, 1.0),
    ]
    assert records(frame, "artist_mbid", "song_mbid")[:2] == [
        (ARTIST_MBID.lower(), None),
        (None, TRACK_MBID),
    ]
    assert str(frame["played_at"].dtype) == "datetime64[ns, UTC]"


def test_it_reads_last_fm_1k_scrobbles_in_chunks_with_the_same_result(tmp_path):
    assert_same_in_chunks_of_two(scrobbles(tmp_path))


def test_a_scrobble_whose_time_cannot_be_read_is_an_error_naming_its_line(tmp_path):
    path = scrobbles(tmp_path)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("2008-01-27T22:02:37Z", "yesterday")
    write_lines(path, lines)

    error = error_of(path, "lastfm-1k")

    assert error.line == 3
    assert "cannot read the time 'yesterday'" in str(error)
    assert str(path) in str(error)


def test_a_scrobble_with_five_fields_is_an_error_naming_its_line(tmp_path):
    path = write_tsv(tmp_path / "s.tsv", [("user_000001", "2009-05-04T23:08:57Z", "", "A", "B")])

    error = error_of(path, "lastfm-1k")

    assert error.line == 1
    assert "expected 6 tab-separated fields (user id, timestamp" in str(error)
    assert str(error).endswith("found 5")


# --- HetRec 2011 -------------------------------------------------------------------------------


def hetrec(tmp_path: Path) -> Path:
    return write_hetrec(
        tmp_path / "hetrec2011-lastfm-2k",
        plays=[(2, 51, 13883), (2, 52, 11690), (3, 53, 7), (3, 99, 250), (4, 51, "x")],
        artists=[(51, "Duran Duran"), (52, "Röyksopp"), (53, "Ленинград")],
    )


def test_it_detects_a_hetrec_folder_and_its_user_artists_file(tmp_path):
    folder = hetrec(tmp_path)

    assert detect_format(folder) == "hetrec"
    assert detect_format(folder / "user_artists.dat") == "hetrec"
    assert "hetrec" in ARTIST_LEVEL_FORMATS


def test_it_reads_hetrec_artist_plays_with_names_from_artists_dat(tmp_path):
    frame = read_all(hetrec(tmp_path))

    assert records(frame, "line", "listener", "artist", "title", "play_count") == [
        (2, "2", "Duran Duran", None, 13883.0),
        (3, "2", "Röyksopp", None, 11690.0),
        (4, "3", "Ленинград", None, 7.0),
        (5, "3", None, None, 250.0),  # artist 99 is not in artists.dat: cleaning drops it
        (6, "4", "Duran Duran", None, None),  # weight "x" kept as NaN for cleaning to count
    ]
    assert frame["played_at"].isna().all()


def test_it_reads_hetrec_from_the_user_artists_file_in_chunks_with_the_same_result(tmp_path):
    assert_same_in_chunks_of_two(hetrec(tmp_path) / "user_artists.dat")


def test_hetrec_without_artists_dat_is_an_error_saying_so(tmp_path):
    folder = hetrec(tmp_path)
    (folder / "artists.dat").unlink()

    assert "artists.dat" in str(error_of(folder))


def test_a_hetrec_file_with_another_header_is_an_error_on_line_one(tmp_path):
    folder = hetrec(tmp_path)
    write_tsv(folder / "user_artists.dat", [("user", "artist", "plays"), (2, 51, 3)])

    error = error_of(folder, "hetrec")

    assert error.line == 1
    assert "userID artistID weight" in str(error)


@pytest.mark.realdata
def test_it_reads_the_real_hetrec_dataset_with_unicode_artist_names():
    if not (HETREC / "user_artists.dat").is_file():
        pytest.skip(f"the HetRec 2011 Last.fm 2K data is not at {HETREC}")

    frame = read_all(HETREC, chunk_rows=20_000)

    assert len(frame) == 92_834
    assert frame["listener"].nunique() == 1_892
    # Every artistID in user_artists.dat is in artists.dat, and every name is distinct there.
    assert frame["artist"].notna().all()
    assert frame["artist"].nunique() == 17_632
    assert frame["play_count"].sum() == 69_183_975
    artists = set(frame["artist"])
    assert {"Röyksopp", "Ленинград", "עברי לידר", "The Crüxshadows"} <= artists
    assert frame["line"].tolist() == list(range(2, 92_836))


# --- ListenBrainz ------------------------------------------------------------------------------

RECORDING, RELEASE, ARTIST = (
    "c7d0bf6e-b2aa-4ffa-bded-2448415b39b0",
    "c6911b3b-135f-4b7b-a2cc-b90ea1e11ac9",
    "a96d82a0-cdca-40bf-b4c8-3d7ec178d85b",
)


def listens() -> list[dict]:
    return [
        listen(
            1748964167,
            "The Stranglers",
            "Golden Brown",
            release="La Folie",
            mbid_mapping={
                "recording_mbid": RECORDING,
                "release_mbid": RELEASE,
                "artist_mbids": [ARTIST, MBID],
            },
            additional_info={
                "recording_mbid": MBID,
                "spotify_id": "https://open.spotify.com/track/2AX5E86cn9n2dgioZEjirI",
                "duration_ms": 206760,
            },
        ),
        listen(
            1748967954,
            "Björk",
            "Jóga",
            user_name="rob",
            additional_info={"recording_mbid": MBID.upper(), "artist_mbids": [ARTIST]},
        ),
        listen(1748968000, "Nobody", "Nothing"),
    ]


def test_it_detects_listenbrainz_json_lines_and_json_arrays(tmp_path):
    assert detect_format(write_json_lines(tmp_path / "export.txt", listens())) == "listenbrainz"
    assert detect_format(write_json(tmp_path / "listens.json", listens())) == "listenbrainz"


def test_it_reads_listenbrainz_json_lines_preferring_mbid_mapping_ids(tmp_path):
    path = write_json_lines(tmp_path / "alice.jsonl", listens())

    frame = read_all(path)

    assert records(frame, "line", "listener", "played_at", "artist", "title", "release") == [
        (1, "alice", utc("2025-06-03 15:22:47"), "The Stranglers", "Golden Brown", "La Folie"),
        (2, "rob", utc("2025-06-03 16:25:54"), "Björk", "Jóga", None),
        (3, "alice", utc("2025-06-03 16:26:40"), "Nobody", "Nothing", None),
    ]
    assert records(frame, "song_mbid", "release_mbid", "artist_mbid", "spotify_uri") == [
        (RECORDING, RELEASE, ARTIST, "spotify:track:2AX5E86cn9n2dgioZEjirI"),
        (MBID, None, ARTIST, None),  # from additional_info, lower-cased
        (None, None, None, None),
    ]
    assert (frame["play_count"] == 1).all()


def test_a_listenbrainz_listener_comes_from_the_record_then_the_option_then_the_file(tmp_path):
    path = write_json_lines(tmp_path / "export.jsonl", listens())

    assert list(read_all(path, listener="carol")["listener"]) == ["carol", "rob", "carol"]


def test_it_numbers_a_listenbrainz_json_array_by_record(tmp_path):
    path = write_json(tmp_path / "listens.json", listens())  # indented: records span many lines

    frame = read_all(path)

    assert list(frame["line"]) == [1, 2, 3]
    assert list(frame["title"]) == ["Golden Brown", "Jóga", "Nothing"]


def test_it_reads_listenbrainz_listens_in_chunks_with_the_same_result(tmp_path):
    assert_same_in_chunks_of_two(write_json_lines(tmp_path / "a.jsonl", listens()))
    assert_same_in_chunks_of_two(write_json(tmp_path / "a.json", listens()))


def test_a_listenbrainz_line_of_invalid_json_is_an_error_naming_its_line(tmp_path):
    path = write_json_lines(tmp_path / "a.jsonl", listens())
    path.write_text(path.read_text() + '{"listened_at": 1748968000, "track_metadata": {\n')

    error = error_of(path, "listenbrainz")

    assert error.line == 4
    assert "is not valid JSON" in str(error)


def test_a_listen_without_a_time_is_an_error_naming_its_line(tmp_path):
    bad = listen(None, "A", "B")
    path = write_json_lines(tmp_path / "a.jsonl", [*listens(), bad])

    error = error_of(path, "listenbrainz")

    assert error.line == 4
    assert "listened_at" in str(error)


# --- Spotify -----------------------------------------------------------------------------------

TRACK_URI = "spotify:track:6hgoYQDUcPyCz7LcTUHKxa"


def extended_history() -> list[dict]:
    return [
        spotify_track("2023-03-19T18:20:49Z", 219813, "Rema", "Calm Down", "Calm Down", TRACK_URI),
        spotify_track(
            "2024-04-20T18:15:22Z",
            2385,
            "OAFF",
            "Beqaaboo",
            "Gehraiyaan",
            "spotify:track:1U8rhryVYw9gWZ6zvw4Orc",
            skipped=None,
            username="mordicus!",
        ),
        spotify_play(
            "2023-03-20T08:00:00Z",
            600000,
            episode_name="Episode 12",
            episode_show_name="A Podcast",
            spotify_episode_uri="spotify:episode:5mAb",
        ),
        spotify_play(
            "2023-03-21T08:00:00Z",
            60000,
            audiobook_title="A Book",
            audiobook_uri="spotify:show:1",
            audiobook_chapter_title="Chapter 1",
        ),
    ]


def test_it_detects_both_spotify_history_shapes(tmp_path):
    short = [{"endTime": "2023-01-05 13:45", "artistName": "A", "trackName": "B", "msPlayed": 1}]

    assert detect_format(write_json(tmp_path / "a.json", extended_history())) == "spotify"
    assert detect_format(write_json(tmp_path / "b.json", short, indent=None)) == "spotify"


def test_it_reads_spotify_extended_history_with_plays_starting_ms_played_before_ts(tmp_path):
    path = write_json(tmp_path / "Streaming_History_Audio_2023.json", extended_history())

    frame = read_all(path, listener="ada")

    assert records(frame, "line", "listener", "artist", "title", "release", "spotify_uri") == [
        (1, "ada", "Rema", "Calm Down", "Calm Down", TRACK_URI),
        (2, "mordicus!", "OAFF", "Beqaaboo", "Gehraiyaan", "spotify:track:1U8rhryVYw9gWZ6zvw4Orc"),
        (3, "ada", "A Podcast", "Episode 12", None, None),
        (4, "ada", "A Book", "Chapter 1", None, None),
    ]
    assert records(frame, "played_at", "ms_played", "skipped", "is_music", "play_count") == [
        (utc("2023-03-19 18:17:09.187"), 219813, False, True, 1.0),
        (utc("2024-04-20 18:15:19.615"), 2385, None, True, 1.0),
        (utc("2023-03-20 07:50:00"), 600000, False, False, 1.0),
        (utc("2023-03-21 07:59:00"), 60000, False, False, 1.0),
    ]


def test_a_spotify_listener_defaults_to_the_file_name_without_its_suffix(tmp_path):
    path = write_json(tmp_path / "endsong_0.json", extended_history()[:2])

    assert list(read_all(path)["listener"]) == ["endsong_0", "mordicus!"]


def test_it_reads_spotify_account_data_keeping_podcasts_as_music(tmp_path):
    path = write_json(
        tmp_path / "StreamingHistory0.json",
        [
            {"endTime": "2023-01-05 13:45", "artistName": "Rema", "trackName": "Calm Down",
             "msPlayed": 219813},
            {"endTime": "2023-01-05 14:30", "artistName": "A Podcast", "trackName": "Episode 12",
             "msPlayed": 600000},
        ],
    )  # fmt: skip

    frame = read_all(path, listener="ada")

    assert records(frame, "line", "listener", "artist", "title", "played_at", "is_music") == [
        (1, "ada", "Rema", "Calm Down", utc("2023-01-05 13:41:20.187"), True),
        (2, "ada", "A Podcast", "Episode 12", utc("2023-01-05 14:20"), True),
    ]
    assert frame["skipped"].isna().all()


def test_it_reads_spotify_history_in_chunks_with_the_same_result(tmp_path):
    assert_same_in_chunks_of_two(write_json(tmp_path / "endsong_0.json", extended_history()))


def test_a_spotify_record_with_an_unreadable_time_is_an_error_naming_the_record(tmp_path):
    plays = extended_history()
    plays[2]["ts"] = "not a time"
    path = write_json(tmp_path / "endsong_0.json", plays)

    error = error_of(path, "spotify", chunk_rows=2)

    assert error.line == 3
    assert str(path) in str(error)


def test_spotify_json_that_is_cut_off_is_an_error_naming_its_line(tmp_path):
    path = write_json(tmp_path / "endsong_0.json", extended_history())
    path.write_text(path.read_text()[:-40])

    error = error_of(path, "spotify")

    assert error.line is not None
    assert "is not valid JSON" in str(error)


# --- generic CSV -------------------------------------------------------------------------------

MAPPING = {"user": "user_id", "title": "track", "artist": "artist", "plays": "plays", "time": "at"}


def test_it_reads_a_csv_through_a_column_mapping_with_iso_and_unix_times(tmp_path):
    path = write_lines(
        tmp_path / "plays.csv",
        [
            "user_id,artist,track,plays,at,stars",
            "ada,Rema,Calm Down,3,2023-03-19T18:20:49Z,4.5",
            'bob,"Crosby, Stills & Nash","Suite: Judy ""Blue"" Eyes",1,1679250049,',
            "bob,Rema,Calm Down,lots,,x",
        ],
    )

    assert detect_format(path) == "csv"
    frame = read_all(path, columns={**MAPPING, "rating": "stars"})

    at = utc("2023-03-19 18:20:49")  # 1679250049 in Unix seconds
    assert records(frame, "line", "listener", "artist", "title", "play_count", "played_at") == [
        (2, "ada", "Rema", "Calm Down", 3.0, at),
        (3, "bob", "Crosby, Stills & Nash", 'Suite: Judy "Blue" Eyes', 1.0, at),
        (4, "bob", "Rema", "Calm Down", None, None),
    ]
    assert records(frame, "rating") == [(4.5,), (None,), (None,)]


def test_it_sniffs_tab_and_semicolon_separators_and_defaults_the_play_count_to_one(tmp_path):
    tsv = write_lines(tmp_path / "a.tsv", ["who\tsong\tband", "ada\tJóga\tBjörk"])
    semi = write_lines(tmp_path / "b.csv", ["who;song;band", "ada;Jóga;Björk"])
    columns = {"listener": "who", "song": "song", "artist": "band"}

    for path in (tsv, semi):
        frame = read_all(path, "csv", columns=columns)
        assert records(frame, "line", "listener", "title", "artist", "play_count") == [
            (2, "ada", "Jóga", "Björk", 1.0)
        ]


def test_a_csv_without_a_listener_column_takes_the_option_or_the_file_name(tmp_path):
    path = write_lines(tmp_path / "my_plays.csv", ["artist,track", "Rema,Calm Down"])
    columns = {"artist": "artist", "title": "track"}

    assert list(read_all(path, columns=columns)["listener"]) == ["my_plays"]
    assert list(read_all(path, columns=columns, listener="ada")["listener"]) == ["ada"]


def test_csv_line_numbers_follow_quoted_line_breaks(tmp_path):
    path = write_lines(
        tmp_path / "a.csv",
        ["user_id,artist,track,plays,at", 'ada,A,"two\nlines",1,', "", "bob,B,C,2,"],
    )

    frame = read_all(path, columns=MAPPING)

    assert records(frame, "line", "title") == [(2, "two\nlines"), (5, "C")]


def test_it_reads_a_csv_in_chunks_with_the_same_result(tmp_path):
    rows = [f"u{n},Artist {n},Track {n},{n},2023-03-19T18:{n:02d}:00Z" for n in range(7)]
    path = write_lines(tmp_path / "a.csv", ["user_id,artist,track,plays,at", *rows])

    assert_same_in_chunks_of_two(path, columns=MAPPING)


def test_a_csv_without_a_column_mapping_is_an_error_asking_for_one(tmp_path):
    path = write_lines(tmp_path / "random.csv", ["a,b,c", "1,2,3"])

    assert detect_format(path) == "csv"
    assert "needs a column mapping (--columns)" in str(error_of(path))


def test_a_csv_mapping_naming_a_missing_column_says_which(tmp_path):
    path = write_lines(tmp_path / "a.csv", ["user_id,artist,track", "ada,Rema,Calm Down"])

    error = error_of(path, columns={"listener": "user_id", "title": "song_title"})

    assert "'song_title' (for title) is not in the header" in str(error)
    assert "user_id, artist, track" in str(error)


def test_a_csv_mapping_with_an_unknown_canonical_name_is_an_error(tmp_path):
    path = write_lines(tmp_path / "a.csv", ["user_id,artist", "ada,Rema"])

    assert "unknown column 'mood'" in str(error_of(path, columns={"mood": "artist"}))


def test_a_csv_line_with_the_wrong_number_of_fields_is_an_error_naming_it(tmp_path):
    path = write_lines(tmp_path / "a.csv", ["user_id,artist,track", "ada,Rema,Calm Down", "bob,X"])

    error = error_of(path, columns={"listener": "user_id", "artist": "artist"})

    assert error.line == 3
    assert "expected 3 comma-separated fields (as in the header), found 2" in str(error)


def test_a_csv_time_that_cannot_be_read_is_an_error_naming_its_line(tmp_path):
    path = write_lines(tmp_path / "a.csv", ["user_id,artist,track,plays,at", "ada,A,B,1,soon"])

    error = error_of(path, columns=MAPPING)

    assert error.line == 2
    assert "cannot read the time 'soon'" in str(error)


# --- unknown and broken files ------------------------------------------------------------------


def test_a_png_is_not_mistaken_for_listening_history(tmp_path):
    path = tmp_path / "plays.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10")

    with pytest.raises(ImportFormatError) as caught:
        detect_format(path)

    assert caught.value.line == 1
    assert "is a PNG image" in str(caught.value)
    assert "expected one of: Taste Profile triplets (user<TAB>song<TAB>count" in str(caught.value)


def test_text_in_no_known_shape_points_at_its_first_line_and_lists_the_formats(tmp_path):
    path = write_lines(tmp_path / "notes.txt", ["", "just some words", "more words"])

    with pytest.raises(ImportFormatError) as caught:
        detect_format(path)

    assert caught.value.line == 2
    assert "Last.fm 1K scrobbles (6 tab-separated fields" in str(caught.value)


def test_json_that_is_not_listening_history_is_not_recognised(tmp_path):
    path = write_json(tmp_path / "a.json", {"scrobbles": [{"time": 1, "track": {}}]})

    with pytest.raises(ImportFormatError, match="is JSON, but not listening history"):
        detect_format(path)


def test_an_empty_file_a_missing_file_and_a_folder_of_other_things_are_clear_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "readme.txt").write_text("hello")

    with pytest.raises(ImportFormatError, match="is empty"):
        detect_format(tmp_path / "empty.txt")
    with pytest.raises(ImportFormatError, match="no such file"):
        read_chunks(tmp_path / "absent.tsv", "lastfm-1k")
    with pytest.raises(ImportFormatError, match=r"it holds readme\.txt"):
        detect_format(tmp_path / "folder")


def test_a_file_that_is_not_utf8_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(f"{USER_1}\t{SONG_A}\t1\n{USER_1}\tCaf\xe9\t1\n".encode("latin-1"))

    error = error_of(path, "taste-profile")

    assert error.line == 2
    assert "is not UTF-8 text" in str(error)


def test_an_unknown_format_name_is_refused_before_reading():
    with pytest.raises(ValueError, match="expected one of taste-profile, lastfm-1k"):
        read_chunks(Path("anything"), "itunes")


def test_every_format_yields_the_canonical_columns_and_dtypes(tmp_path):
    sources = {
        "taste-profile": triplets(tmp_path),
        "lastfm-1k": scrobbles(tmp_path),
        "hetrec": hetrec(tmp_path),
        "listenbrainz": write_json_lines(tmp_path / "lb.jsonl", listens()),
        "spotify": write_json(tmp_path / "sp.json", extended_history()),
        "csv": write_lines(tmp_path / "c.csv", ["user_id,artist,track,plays,at", "a,b,c,1,"]),
    }
    assert tuple(sources) == FORMAT_NAMES

    for name, path in sources.items():
        assert detect_format(path) == name
        frame = read_all(path, columns=MAPPING)
        assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == {
            column: str(dtype) for column, dtype in COLUMNS.items()
        }, name


def test_a_source_with_no_rows_yields_no_chunks(tmp_path):
    folder = write_hetrec(tmp_path / "hetrec", plays=[], artists=[(1, "A")])
    (tmp_path / "empty.jsonl").write_text("\n")

    assert list(read_chunks(folder, "hetrec")) == []
    assert list(read_chunks(tmp_path / "empty.jsonl", "listenbrainz")) == []


def test_a_song_list_in_an_unknown_shape_is_an_error(tmp_path):
    songs = write_lines(tmp_path / "songs.txt", ["just a list of songs"])

    error = error_of(triplets(tmp_path), songs_path=songs)

    assert error.line == 1
    assert "expected MSD unique_tracks.txt" in str(error)
