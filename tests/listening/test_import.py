"""Importing listening history end to end: every format, idempotence, atomicity, interfaces."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.urls import reverse

from catalog.models import Artist, Song
from listening.listen_import import listen_import_cancel, listen_import_create, listen_import_run
from listening.models import ImportBatch, Listen, Listener, Skip
from musicsite.jobs import JobStatus
from tests.factories import StaffFactory
from tests.listening.fixtures_formats import (
    listen,
    spotify_play,
    spotify_track,
    write_hetrec,
    write_json,
    write_json_lines,
    write_lines,
    write_tsv,
)

HETREC = Path(__file__).resolve().parents[3] / "shared" / "data" / "hetrec2011-lastfm-2k"
MBID_LOW = "0f8a8d8c-1c5e-4f55-b2c6-0b3f3bb0c2a1"


def run(path: Path, **options) -> ImportBatch:
    format_name = options.pop("format", "")
    batch = listen_import_create(path=path, format=format_name, options=options)
    return listen_import_run(batch_id=batch.pk)


def rules(batch: ImportBatch) -> dict[str, int]:
    return {name: entry["rows"] for name, entry in batch.report["rules"].items() if entry["rows"]}


def lastfm_rows() -> list[tuple]:
    return [
        ("user_000001", "2009-05-04T23:08:57Z", MBID_LOW, "Low", "", "Words"),
        ("user_000001", "2009-05-04T23:12:01Z", MBID_LOW, "Low", "", "Sunflower"),
        (
            "user_000001",
            "2009-05-04T23:12:05Z",
            MBID_LOW,
            "Low",
            "",
            "Sunflower",
        ),  # scrobbled twice
        ("user_000002", "2009-05-05T10:00:00Z", "", "Radiohead", "", "Creep"),
        ("user_000002", "2009-05-05T10:00:00Z", "", "Radiohead", "", "Creep"),  # exact duplicate
        ("user_000002", "2031-01-01T00:00:00Z", "", "Radiohead", "", "Creep"),  # future
        ("", "2009-05-05T11:00:00Z", "", "Radiohead", "", "Creep"),  # no listener
        ("user_000003", "2010-01-01T00:00:00Z", "", " radiohead ", "", "CREEP"),  # same song
    ]


@pytest.mark.django_db
def test_it_imports_lastfm_1k_scrobbles_with_the_exact_counts(tmp_path):
    path = write_tsv(tmp_path / "userid-timestamp-artid-artname-traid-traname.tsv", lastfm_rows())

    batch = run(path)

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.format == "lastfm-1k"
    assert (batch.rows_read, batch.rows_loaded, batch.rows_rejected) == (8, 4, 4)
    assert rules(batch) == {
        "exact_duplicate": 1,
        "duplicate_scrobble": 1,
        "time_out_of_range": 1,
        "missing_identity": 1,
        "names_normalised": 1,
        "missing_metadata": 4,
    }
    assert Listen.objects.count() == 4
    assert Listener.objects.filter(source="lastfm-1k").count() == 3
    # " radiohead " / "CREEP" is the same song as "Radiohead" / "Creep".
    assert Song.objects.count() == 3
    assert Artist.objects.get(musicbrainz_id=MBID_LOW).name == "Low"
    assert Listen.objects.filter(song__title="Creep").count() == 2


@pytest.mark.django_db
def test_it_imports_taste_profile_triplets_with_song_metadata(tmp_path):
    folder = tmp_path / "taste"
    folder.mkdir()
    write_tsv(
        folder / "train_triplets.txt",
        [
            ("u1", "SOAAAAA12A8C130001", 3),
            ("u1", "SOAAAAA12A8C130002", 1),
            ("u2", "SOAAAAA12A8C130001", 0),  # not a play count
            ("u2", "SOAAAAA12A8C130002", 50_000_000),  # implausible
            ("u3", "SOAAAAA12A8C130003", 7),  # no metadata: known by its id only
        ],
    )
    write_lines(
        folder / "songs.csv",
        [
            "song_id,title,release,artist_name,year",
            "SOAAAAA12A8C130001,Hallelujah,Grace,Jeff Buckley,1994",
            "SOAAAAA12A8C130002,Lover You Should've Come Over,Grace,Jeff Buckley,0",
        ],
    )

    batch = run(folder)

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.rows_loaded == 3
    assert rules(batch)["bad_play_count"] == 1
    assert rules(batch)["implausible_play_count"] == 1
    hallelujah = Song.objects.get(echonest_id="SOAAAAA12A8C130001")
    assert (hallelujah.title, hallelujah.artist.name, hallelujah.release.title) == (
        "Hallelujah",
        "Jeff Buckley",
        "Grace",
    )
    anonymous = Song.objects.get(echonest_id="SOAAAAA12A8C130003")
    assert anonymous.artist is None and anonymous.title == ""
    assert Listen.objects.get(song=hallelujah).play_count == 3
    assert Listen.objects.filter(played_at__isnull=True).count() == 3


@pytest.mark.django_db
def test_it_imports_hetrec_artist_level_counts(tmp_path):
    folder = write_hetrec(
        tmp_path / "hetrec",
        plays=[(2, 51, 13883), (2, 52, 11690), (3, 51, 228)],
        artists=[(51, "Duran Duran"), (52, "Röyksopp")],
    )

    batch = run(folder)

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.rows_loaded == 3
    assert Listen.objects.filter(song__isnull=True, played_at__isnull=True).count() == 3
    assert Artist.objects.get(name="Röyksopp").listens.get().play_count == 11690


@pytest.mark.django_db
def test_it_imports_a_listenbrainz_export(tmp_path):
    path = write_json_lines(
        tmp_path / "listens.jsonl",
        [
            listen(
                1748964167,
                "The Stranglers",
                "Golden Brown",
                release="La Folie",
                mbid_mapping={
                    "recording_mbid": "c7d0bf6e-b2aa-4ffa-bded-2448415b39b0",
                    "artist_mbids": ["a96d82a0-cdca-40bf-b4c8-3d7ec178d85b"],
                },
            ),
            listen(1748964500, "The Stranglers", "Peaches"),
        ],
    )

    batch = run(path, listener="ada")

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.rows_loaded == 2
    assert Listener.objects.get(source="listenbrainz").external_id == "ada"
    song = Song.objects.get(title="Golden Brown")
    assert str(song.musicbrainz_id) == "c7d0bf6e-b2aa-4ffa-bded-2448415b39b0"
    assert song.release.title == "La Folie"


@pytest.mark.django_db
def test_it_imports_spotify_history_keeping_skips_apart(tmp_path):
    path = write_json(
        tmp_path / "Streaming_History_Audio_2023.json",
        [
            spotify_track(
                "2024-04-20T18:15:22Z",
                185_000,
                "OAFF",
                "Beqaaboo",
                "Gehraiyaan",
                "spotify:track:1U8rhryVYw9gWZ6zvw4Orc",
            ),
            spotify_track(
                "2024-04-20T18:16:00Z",
                2_385,
                "OAFF",
                "Doobey",
                "Gehraiyaan",
                "spotify:track:2U8rhryVYw9gWZ6zvw4Orc",
                skipped=True,
            ),
            spotify_play(
                "2024-04-21T08:00:00Z",
                1_200_000,
                episode_name="Ep. 12",
                episode_show_name="A Podcast",
                spotify_episode_uri="spotify:episode:x",
            ),
        ],
    )

    batch = run(path, listener="ada")

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert rules(batch)["skip"] == 1
    assert rules(batch)["not_music"] == 1
    assert batch.rows_loaded == 1
    assert Skip.objects.get().song.title == "Doobey"
    played = Listen.objects.get()
    assert played.song.spotify_uri == "spotify:track:1U8rhryVYw9gWZ6zvw4Orc"
    assert played.played_at.isoformat() == "2024-04-20T18:12:17+00:00"  # ts - ms_played


@pytest.mark.django_db
def test_it_imports_a_generic_csv_with_a_column_mapping(tmp_path):
    path = write_lines(
        tmp_path / "plays.csv",
        [
            "who,track,band,n",
            "ada,Teardrop,Massive Attack,4",
            "bob,Teardrop,Massive Attack,x",
        ],
    )

    batch = run(path, columns={"user": "who", "song": "track", "artist": "band", "plays": "n"})

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.rows_loaded == 1
    assert rules(batch)["bad_play_count"] == 1


@pytest.mark.django_db
def test_reimporting_a_file_adds_nothing(tmp_path):
    path = write_tsv(tmp_path / "scrobbles.tsv", lastfm_rows())
    first = run(path)

    again = run(path)

    assert again.rows_loaded == 0
    assert rules(again)["already_imported"] == first.rows_loaded
    assert Listen.objects.count() == first.rows_loaded
    assert Song.objects.count() == 3


@pytest.mark.django_db
def test_an_overlapping_file_adds_only_what_is_new(tmp_path):
    rows = lastfm_rows()
    run(write_tsv(tmp_path / "first.tsv", rows[:4]))

    batch = run(
        write_tsv(
            tmp_path / "second.tsv",
            [*rows[2:], ("user_000004", "2011-02-02T02:02:02Z", "", "Low", "", "Words")],
        )
    )

    assert batch.rows_loaded == 3  # Radiohead by 2 and 3, and Low by the new listener 4
    assert Listen.objects.count() == 6


@pytest.mark.django_db
def test_a_file_that_fails_midway_leaves_the_database_as_it_was(tmp_path):
    good = [
        (f"user_{n}", f"2012-01-01T00:{n:02d}:00Z", "", "Low", "", f"Song {n}") for n in range(40)
    ]
    path = write_tsv(tmp_path / "broken.tsv", [*good, ("user_x", "2012-01-01", "Low", "Words")])

    batch = run(path, chunk_rows=10)  # four chunks load before the bad line is read

    assert batch.status == JobStatus.FAILED
    assert "broken.tsv, line 41" in batch.error
    assert batch.rows_loaded == 0
    assert (Listen.objects.count(), Song.objects.count(), Artist.objects.count()) == (0, 0, 0)
    assert not Listener.objects.exists()


@pytest.mark.django_db
def test_the_command_prints_the_report(tmp_path, capsys):
    path = write_tsv(tmp_path / "scrobbles.tsv", lastfm_rows())

    call_command("import_listens", str(path))

    out = capsys.readouterr().out
    assert "succeeded" in out
    assert "duplicate_scrobble" in out
    assert Listen.objects.count() == 4


@pytest.mark.django_db
def test_the_command_prints_example_rows_of_each_rule_that_changed_something(tmp_path, capsys):
    path = write_tsv(tmp_path / "scrobbles.tsv", lastfm_rows())

    call_command("import_listens", str(path))

    lines = capsys.readouterr().out.splitlines()
    after = {line.split()[0]: lines[n + 1].strip() for n, line in enumerate(lines[:-1]) if line}
    assert after["duplicate_scrobble"] == (
        "e.g. line 3: listener=user_000001; artist=Low; title=Sunflower;"
        " played_at=2009-05-04T23:12:05+00:00; play_count=1"
    )
    assert after["exact_duplicate"].startswith("e.g. line 5: listener=user_000002")
    assert after["missing_identity"].startswith("e.g. line 7: artist=Radiohead")
    # A rule that touched nothing has nothing to show.
    assert not after["bad_play_count"].startswith("e.g.")


@pytest.mark.django_db
def test_the_progress_bar_ends_at_100_percent_on_a_hetrec_folder(tmp_path, capsys):
    folder = write_hetrec(
        tmp_path / "hetrec",
        plays=[(2, 51, 13883), (2, 52, 11690), (3, 51, 228), (4, 52, 3), (5, 51, 9)],
        artists=[(51, "Duran Duran"), (52, "Röyksopp")],
    )
    # The dataset's other files, which hold no plays (the real tags.dat has 11,947 lines).
    write_tsv(folder / "tags.dat", [("tagID", "tagValue"), *((n, f"tag {n}") for n in range(40))])
    batch = listen_import_create(path=folder, options={"chunk_rows": 2})
    seen: list[float] = []

    listen_import_run(
        batch_id=batch.pk, on_progress=lambda progress: seen.append(progress.fraction)
    )
    call_command("import_listens", str(folder), "--chunk-rows", "2")

    assert seen == sorted(seen) and seen[-1] == 1.0
    assert seen[:3] == [0.4, 0.8, 0.99]  # rows loaded of the 5 in user_artists.dat
    bar = capsys.readouterr().err.split("\r")[-1]
    assert "100%" in bar and "5 rows read" in bar


@pytest.mark.django_db
def test_progress_on_a_json_array_counts_its_records_not_its_lines(tmp_path):
    plays = [
        spotify_track(f"2024-04-20T18:{n:02d}:00Z", 185_000, "OAFF", f"Song {n}", "G", None)
        for n in range(4)
    ]
    path = write_json(tmp_path / "Streaming_History_Audio_2024.json", plays)  # indented
    batch = listen_import_create(path=path, options={"chunk_rows": 2, "listener": "ada"})
    seen: list[float] = []

    listen_import_run(
        batch_id=batch.pk, on_progress=lambda progress: seen.append(progress.fraction)
    )

    assert seen == [0.5, 0.99, 1.0]


@pytest.mark.django_db
def test_a_dry_run_reports_and_saves_nothing(tmp_path, capsys):
    call_command("import_listens", str(write_tsv(tmp_path / "s.tsv", lastfm_rows())), "--dry-run")

    out = capsys.readouterr().out
    assert "dry run" in out
    assert "rows to load              4" in out
    assert not Listen.objects.exists() and not Song.objects.exists()
    batch = ImportBatch.objects.get()
    assert (batch.rows_loaded, batch.report["rows_loaded"]) == (0, 4)


@pytest.mark.django_db
def test_the_command_names_the_file_and_line_of_a_malformed_file(tmp_path):
    path = write_lines(tmp_path / "odd.txt", ["user_1\tSOAAAAA12A8C130001\t3", "user_2\tonly-two"])
    with pytest.raises(CommandError, match=r"odd.txt, line 2"):
        call_command("import_listens", str(path), "--format", "taste-profile")


@pytest.mark.django_db
def test_the_command_refuses_a_source_longer_than_a_listener_can_hold(tmp_path):
    path = write_tsv(tmp_path / "s.tsv", lastfm_rows())
    with pytest.raises(CommandError, match="--source: at most 32 characters"):
        call_command("import_listens", str(path), "--source", "x" * 33)
    assert not Listen.objects.exists()


@pytest.mark.django_db
def test_an_unknown_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(CommandError, match="expected one of"):
        call_command("import_listens", str(path))


@pytest.mark.django_db
def test_bots_are_flagged_and_their_listens_kept(tmp_path):
    rows = [
        (
            "bot_1",
            f"2015-06-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "",
            "Low",
            "",
            f"Song {n}",
        )
        for n in range(0, 1500 * 30, 30)
    ] + [("user_1", "2015-06-01T10:00:00Z", "", "Low", "", "Words")]

    batch = run(write_tsv(tmp_path / "busy.tsv", rows))

    assert batch.report["flagged_listeners"] == ["bot_1"]
    assert rules(batch)["bot_listener"] == 1500
    assert Listener.objects.get(external_id="bot_1").is_flagged
    assert not Listener.objects.get(external_id="user_1").is_flagged
    assert Listen.objects.count() == 1501


@pytest.mark.django_db
def test_a_queued_import_can_be_cancelled(tmp_path):
    batch = listen_import_create(path=write_tsv(tmp_path / "s.tsv", lastfm_rows()))
    listen_import_cancel(batch=batch)

    batch = listen_import_run(batch_id=batch.pk)

    assert batch.status == JobStatus.CANCELLED
    assert not Listen.objects.exists()


@pytest.mark.django_db
def test_the_celery_task_runs_a_batch_by_id(tmp_path):
    from listening.tasks import listen_import_run as task

    batch = listen_import_create(path=write_tsv(tmp_path / "s.tsv", lastfm_rows()))

    assert task.delay(batch.pk).get() == JobStatus.SUCCEEDED
    batch.refresh_from_db()
    assert (batch.rows_loaded, batch.progress) == (4, 1.0)


@pytest.mark.django_db(transaction=True)
def test_an_admin_upload_queues_the_import_and_offers_the_rejected_rows(client, tmp_path):
    client.force_login(StaffFactory())
    content = "".join("\t".join(row) + "\n" for row in lastfm_rows()).encode()

    response = client.post(
        reverse("admin:listening_importbatch_add"),
        {
            "upload": SimpleUploadedFile("scrobbles.tsv", content),
            "format": "",
            "columns": "",
            "listener": "",
        },
    )

    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.created_by is not None and batch.rows_loaded == 4
    page = client.get(reverse("admin:listening_importbatch_change", args=[batch.pk]))
    assert b"duplicate_scrobble" in page.content
    download = client.get(reverse("import-rejected", args=[batch.pk]))
    rejected = b"".join(download.streaming_content).decode()
    assert rejected.splitlines()[0].startswith("line,reason")
    assert len(rejected.splitlines()) == 1 + batch.rows_rejected


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.django_db
def test_the_real_hetrec_files_import_completely():
    if not HETREC.is_dir():
        pytest.skip(f"{HETREC} is absent")

    batch = run(HETREC)

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert (batch.rows_read, batch.rows_rejected) == (92_834, 0)
    assert rules(batch).get("implausible_play_count", 0) == 0
    # 25 artists.dat entries are 12 artists spelled two or three ways ("Король И Шут",
    # "Король и Шут"); a listener's counts for both spellings are summed, never dropped.
    assert rules(batch)["counts_merged"] == 5
    assert batch.rows_loaded == 92_834 - 5
    assert Listen.objects.aggregate(total=Sum("play_count"))["total"] == 69_183_975
    assert Listener.objects.filter(source="hetrec").count() == 1_892
    assert Artist.objects.count() == 17_632 - 13


@pytest.mark.django_db
def test_counts_of_one_artist_spelled_two_ways_are_summed_even_across_chunks(tmp_path):
    folder = write_hetrec(
        tmp_path / "hetrec",
        plays=[(2, 1, 100), (3, 1, 5), (2, 2, 40), (4, 2, 1)],
        artists=[(1, "Король и Шут"), (2, "Король И Шут")],
    )

    batch = run(folder, chunk_rows=2)  # the two spellings of listener 2 are in two chunks
    again = run(folder, chunk_rows=2)

    assert rules(batch)["counts_merged"] == 1
    assert batch.rows_loaded == 3
    listener_2 = Listener.objects.get(external_id="2")
    assert Listen.objects.get(listener=listener_2).play_count == 140
    assert again.rows_loaded == 0
    assert rules(again)["already_imported"] == 4
    assert Listen.objects.get(listener=listener_2).play_count == 140


def many_scrobbles(count: int) -> list[tuple]:
    return [
        (
            f"user_{n % 7}",
            f"2012-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "",
            "Low",
            "",
            f"Song {n}",
        )
        for n in range(count)
    ]


@pytest.mark.django_db
def test_an_import_cancelled_while_it_runs_leaves_nothing(tmp_path):
    batch = listen_import_create(
        path=write_tsv(tmp_path / "s.tsv", many_scrobbles(60)), options={"chunk_rows": 10}
    )

    def operator_cancels(progress):
        listen_import_cancel(batch=ImportBatch.objects.get(pk=batch.pk))

    batch = listen_import_run(batch_id=batch.pk, on_progress=operator_cancels)

    assert batch.status == JobStatus.CANCELLED
    assert (Listen.objects.count(), Song.objects.count(), Listener.objects.count()) == (0, 0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_is_on_the_row_while_the_import_runs(tmp_path):
    from django.db import connections

    batch = listen_import_create(
        path=write_tsv(tmp_path / "s.tsv", many_scrobbles(600)), options={"chunk_rows": 50}
    )
    seen = []

    def look_from_elsewhere(progress):
        # Another connection, as the admin's would be: the import's transaction is open.
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute(
                    "SELECT progress FROM listening_importbatch WHERE id = %s", [batch.pk]
                )
                seen.append(cursor.fetchone()[0])
                cursor.execute("SELECT count(*) FROM listening_listen")
                seen.append(("listens", cursor.fetchone()[0]))
        finally:
            other.close()

    listen_import_run(batch_id=batch.pk, on_progress=look_from_elsewhere)

    progress_seen = [value for value in seen if isinstance(value, float)]
    assert progress_seen[0] > 0  # written as the first chunk finished
    assert ("listens", 0) in seen  # while the listens themselves were still uncommitted


def rows_across_chunks() -> list[tuple]:
    """Scrobbles where chunks of two rows split "the same listen": Creep spelled two ways at
    one time by listener 1 (a timed play), in rows 2 and 3."""
    return [
        ("user_000001", "2009-05-04T23:08:57Z", MBID_LOW, "Low", "", "Words"),
        ("user_000001", "2009-05-05T10:00:00Z", "", "Radiohead", "", "Creep"),
        ("user_000001", "2009-05-05T10:00:00Z", "", " radiohead ", "", "CREEP"),
        ("user_000002", "2009-05-05T10:00:00Z", "", "Radiohead", "", "Creep"),
    ]


@pytest.fixture
def initial_loads(settings):
    """Any import into an empty listen table is an initial bulk load (PostgreSQL), however
    small (by default only a large one is)."""
    settings.LISTENING_INITIAL_LOAD_ROWS = 0


def stored_listens() -> set[tuple]:
    return set(
        Listen.objects.values_list(
            "listener__external_id", "song__title", "artist__name", "played_at", "play_count"
        )
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("initial_loads")
def test_an_initial_load_stores_and_reports_what_a_load_beside_other_listens_does(tmp_path):
    path = write_tsv(tmp_path / "scrobbles.tsv", rows_across_chunks())
    seed = write_tsv(
        tmp_path / "seed.tsv", [("user_000009", "2010-01-01T00:00:00Z", "", "Other", "", "Seed")]
    )
    initial = run(path, chunk_rows=2)  # into an empty table (PostgreSQL: indexes after COPY)
    initial_rows = stored_listens()
    Listen.objects.all().delete()
    run(seed)

    beside = run(path, chunk_rows=2)  # the same file, the table not empty

    assert {row for row in stored_listens() if row[0] != "user_000009"} == initial_rows
    assert (initial.rows_loaded, rules(initial)) == (beside.rows_loaded, rules(beside))


@pytest.mark.django_db
@pytest.mark.usefixtures("initial_loads")
def test_song_counts_split_across_chunks_of_an_initial_load_are_summed(tmp_path):
    folder = tmp_path / "taste"
    folder.mkdir()
    write_tsv(
        folder / "train_triplets.txt",
        [
            ("u1", "SOAAAAA12A8C130001", 3),
            ("u2", "SOAAAAA12A8C130001", 1),
            ("u1", "SOAAAAA12A8C130001", 5),  # u1's song again, in the second chunk
        ],
    )

    batch = run(folder, chunk_rows=2)
    again = run(folder, chunk_rows=2)

    assert batch.rows_loaded == 2
    assert rules(batch)["counts_merged"] == 1
    assert Listen.objects.get(listener__external_id="u1").play_count == 8
    assert again.rows_loaded == 0
    assert Listen.objects.get(listener__external_id="u1").play_count == 8


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.usefixtures("initial_loads")
def test_an_initial_load_builds_every_index_of_the_listen_table_again_and_analyses_it(tmp_path):
    from django.db import connection

    def indexes() -> set[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'listening_listen'"
            )
            return set(cursor.fetchall())

    before = indexes()
    batch = run(write_tsv(tmp_path / "scrobbles.tsv", rows_across_chunks()), chunk_rows=2)

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.rows_loaded > 0
    assert indexes() == before
    assert len(before) >= 7  # the primary key, the listener's time, 3 unique, 2 foreign keys
    with connection.cursor() as cursor:  # analysed: the planner knows how many rows it has
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'listening_listen'")
        assert cursor.fetchone()[0] == batch.rows_loaded
