"""Imports uploaded through the admin: several files or an archive, every option of the command,
and hostile uploads told on the page, never a 500."""

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from catalog.models import Song
from listening.models import ImportBatch, Listen, Listener
from musicsite.jobs import JobStatus
from tests.factories import StaffFactory
from tests.listening.fixtures_formats import write_hetrec, write_lines, write_tsv

HETREC = Path(__file__).resolve().parents[3] / "shared" / "data" / "hetrec2011-lastfm-2k"
ADD = "admin:listening_importbatch_add"


@pytest.fixture
def staff(client):
    client.force_login(StaffFactory())
    return client


def small_hetrec(folder: Path) -> Path:
    """A few lines of HetRec in its real shape, with something for several rules to do."""
    return write_hetrec(
        folder,
        plays=[
            (2, 51, 13883),
            (2, 52, 11690),
            (3, 51, 228),
            (3, 53, 40),  # the same artist spelled another way: summed with 51
            (4, 99, 7),  # an artist artists.dat does not name: dropped
            (4, 52, 0),  # not a play count
        ],
        artists=[(51, "Duran Duran"), (52, "Röyksopp  "), (53, "duran duran")],
    )


def upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


def post(client, files, **fields):
    data = {"format": "", "columns": "", "listener": "", "source": "", "chunk_rows": ""}
    return client.post(reverse(ADD), {**data, "upload": files, **fields})


def counts(batch: ImportBatch) -> tuple:
    rules = {name: entry["rows"] for name, entry in batch.report["rules"].items()}
    return batch.rows_read, batch.report["rows_loaded"], batch.rows_rejected, rules


def command_counts(path: Path) -> tuple:
    """What `import_listens` reports on the same files (a dry run: it leaves the rows free)."""
    call_command("import_listens", str(path), "--dry-run")
    return counts(ImportBatch.objects.latest("id"))


def zipped(folder: Path, names, *, top="hetrec2011-lastfm-2k") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.write(folder / name, f"{top}/{name}")
        archive.writestr(f"__MACOSX/{top}/._{names[0]}", b"\x00\x05\x16\x07")  # Finder's
    return SimpleUploadedFile(f"{top}.zip", buffer.getvalue())


def tarred(folder: Path, names) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in names:
            archive.add(folder / name, f"hetrec/{name}")
    return SimpleUploadedFile("hetrec.tar.gz", buffer.getvalue())


def form_errors(response) -> str:
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def staged_files(settings) -> list[Path]:
    imports = Path(settings.MEDIA_ROOT) / "imports"
    return [path for path in imports.rglob("*") if path.is_file()] if imports.exists() else []


@pytest.mark.django_db
@pytest.mark.parametrize("packing", ["two files", "zip", "tar.gz"])
def test_hetrec_uploaded_with_its_artists_counts_as_the_command_does(
    staff, tmp_path, django_capture_on_commit_callbacks, packing
):
    folder = small_hetrec(tmp_path / "hetrec")
    names = ["user_artists.dat", "artists.dat"]
    files = {
        "two files": lambda: [upload(folder / name) for name in names],
        "zip": lambda: [zipped(folder, names)],
        "tar.gz": lambda: [tarred(folder, names)],
    }[packing]()
    expected = command_counts(folder)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(staff, files)

    assert response.status_code == 302, form_errors(response)
    batch = ImportBatch.objects.latest("id")
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert (batch.format, batch.upload.name.rsplit("/", 1)[1]) == ("hetrec", "user_artists.dat")
    assert counts(batch) == expected
    assert expected[:3] == (6, 3, 2) and expected[3]["counts_merged"] == 1
    assert Listen.objects.filter(batch=batch).count() == 3


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.django_db
def test_the_real_hetrec_files_uploaded_count_as_the_command_does(
    staff, django_capture_on_commit_callbacks
):
    if not HETREC.is_dir():
        pytest.skip(f"{HETREC} is absent")
    expected = command_counts(HETREC)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            staff, [upload(HETREC / "user_artists.dat"), upload(HETREC / "artists.dat")]
        )

    assert response.status_code == 302, form_errors(response)
    batch = ImportBatch.objects.latest("id")
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert counts(batch) == expected
    assert (batch.rows_read, batch.rows_loaded) == (92_834, 92_834 - 5)


@pytest.mark.django_db
def test_a_taste_profile_upload_takes_its_song_metadata_and_source(
    staff, tmp_path, django_capture_on_commit_callbacks
):
    plays = write_tsv(
        tmp_path / "plays.txt",
        [("u1", "SOAAAAA12A8C130001", 3), ("u2", "SOAAAAA12A8C130002", 1)],
    )
    songs = write_lines(
        tmp_path / "songs.csv",
        [
            "song_id,title,release,artist_name,year",
            "SOAAAAA12A8C130001,Hallelujah,Grace,Jeff Buckley,1994",
            "SOAAAAA12A8C130002,Lover You Should've Come Over,Grace,Jeff Buckley,0",
        ],
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            staff,
            [upload(plays)],
            songs=upload(songs),
            source="echo-nest",
            format="taste-profile",
            chunk_rows="1",
        )

    assert response.status_code == 302, form_errors(response)
    batch = ImportBatch.objects.get()
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.options == {"source": "echo-nest", "chunk_rows": 1, "songs_path": "songs.csv"}
    assert batch.rows_loaded == 2
    assert sorted(Listener.objects.values_list("source", "external_id")) == [
        ("echo-nest", "u1"),
        ("echo-nest", "u2"),
    ]
    song = Song.objects.get(echonest_id="SOAAAAA12A8C130001")
    assert (song.title, song.artist.name, song.release.title) == (
        "Hallelujah",
        "Jeff Buckley",
        "Grace",
    )


@pytest.mark.django_db
def test_a_dry_run_from_the_admin_reports_and_saves_nothing(
    staff, tmp_path, django_capture_on_commit_callbacks
):
    folder = small_hetrec(tmp_path / "hetrec")

    with django_capture_on_commit_callbacks(execute=True):
        post(
            staff,
            [upload(folder / "user_artists.dat"), upload(folder / "artists.dat")],
            dry_run="on",
        )

    batch = ImportBatch.objects.get()
    assert batch.status == JobStatus.SUCCEEDED and batch.report["dry_run"]
    assert (batch.rows_loaded, batch.report["rows_loaded"]) == (0, 3)
    assert not Listen.objects.exists()


def hostile_zip(entries: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return SimpleUploadedFile("data.zip", buffer.getvalue())


def linking_zip() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("hetrec/artists.dat")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return SimpleUploadedFile("data.zip", buffer.getvalue())


def linking_tar() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        link = tarfile.TarInfo("hetrec/artists.dat")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    return SimpleUploadedFile("data.tar.gz", buffer.getvalue())


PLAYS = b"userID\tartistID\tweight\r\n2\t51\t13883\r\n"
LASTFM = b"user_000001\t2009-05-04T23:08:57Z\t\tLow\t\tWords\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("files", "fields", "message"),
    [
        (
            lambda: [hostile_zip({"../../evil.dat": b"x", "user_artists.dat": PLAYS})],
            {},
            "data.zip: entry '../../evil.dat' points outside the archive's folder (..)",
        ),
        (
            lambda: [hostile_zip({"/tmp/evil.dat": b"x"})],
            {},
            "data.zip: entry '/tmp/evil.dat' has an absolute path",
        ),
        (
            lambda: [linking_zip()],
            {},
            "data.zip: entry 'hetrec/artists.dat' is a link or a device file",
        ),
        (
            lambda: [SimpleUploadedFile("x" * 70 + ".tsv", LASTFM)],
            {},
            "file names of at most 60 characters",
        ),
        (
            lambda: [linking_tar()],
            {},
            "data.tar.gz: entry 'hetrec/artists.dat' is a link or a device file",
        ),
        (
            lambda: [SimpleUploadedFile("plays.gz", b"\x1f\x8b\x08\x00not really")],
            {},
            "plays.gz: cannot be read as a tar.gz archive",
        ),
        (
            lambda: [hostile_zip({"user_artists.dat": PLAYS * 40})],
            {},
            "data.zip: more than 1,000 bytes (at 'user_artists.dat')",
        ),
        (
            lambda: [SimpleUploadedFile("user_artists.dat", PLAYS)],
            {},
            "artists.dat: not found: HetRec needs artists.dat beside its user_artists.dat",
        ),
        (
            lambda: [SimpleUploadedFile("scrobbles.tsv", LASTFM)],
            {"format": "hetrec"},
            "scrobbles.tsv, line 1: expected the tab-separated header 'userID artistID weight'",
        ),
        (
            lambda: [SimpleUploadedFile("cover.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)],
            {},
            "cover.png, line 1: is a PNG image, not listening history",
        ),
        (
            lambda: [SimpleUploadedFile("a.tsv", LASTFM), SimpleUploadedFile("b.tsv", LASTFM)],
            {},
            "2 files (a.tsv, b.tsv): several files are read together only as a HetRec dataset",
        ),
        (
            lambda: [SimpleUploadedFile("a.tsv", LASTFM), SimpleUploadedFile("a.tsv", LASTFM)],
            {},
            "two files named 'a.tsv'",
        ),
        (
            lambda: [SimpleUploadedFile("plays.txt", b"u1\tSOAAAAA12A8C130001\t3\n")],
            {"songs": SimpleUploadedFile("songs.txt", b"just some words\n")},
            "songs.txt, line 1: expected MSD unique_tracks.txt",
        ),
        (
            lambda: [SimpleUploadedFile("scrobbles.tsv", LASTFM)],
            {"since": "1800-01-01"},
            "1800-01-01 is not between 1900-01-01 and today",
        ),
        (
            lambda: [SimpleUploadedFile("scrobbles.tsv", LASTFM)],
            {"since": "1990-02-30"},
            "Enter a valid date.",
        ),
    ],
    ids=[
        "dot-dot entry",
        "absolute entry",
        "zip symlink entry",
        "name too long",
        "symlink entry",
        "gzip but no tar",
        "too big unpacked",
        "no artists.dat",
        "format does not match",
        "not listening history",
        "unrelated files",
        "one name twice",
        "song list not one",
        "since before 1900",
        "since no date",
    ],
)
def test_a_hostile_or_wrong_upload_is_told_on_the_page_and_nothing_is_kept(
    staff, settings, tmp_path, files, fields, message
):
    settings.LISTENING_UPLOAD = {"MAX_BYTES": 1_000}

    response = post(staff, files(), **fields)

    assert message in form_errors(response)
    assert not ImportBatch.objects.exists()
    assert staged_files(settings) == []
    assert not list(Path(settings.MEDIA_ROOT).parent.rglob("evil.dat"))


@pytest.mark.django_db
def test_an_upload_says_it_is_queued_and_its_page_reloads_until_it_ends(
    staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = post(staff, [SimpleUploadedFile("scrobbles.tsv", LASTFM * 2)])

    batch = ImportBatch.objects.get()
    page = reverse("admin:listening_importbatch_change", args=[batch.pk])
    assert response.status_code == 302 and response.url == page
    waiting = staff.get(page)
    said = [str(message) for message in waiting.context["messages"]]
    assert said == [
        f'Import <a href="{page}">{batch.pk}</a> of scrobbles.tsv is queued; '
        "this page shows its status as it runs."
    ]
    assert b"added successfully" not in waiting.content
    assert b'<meta http-equiv="refresh" content="3">' in waiting.content

    for callback in queued:
        callback()

    done = staff.get(page)
    assert b'http-equiv="refresh"' not in done.content
    assert b"Succeeded" in done.content


@pytest.mark.django_db
def test_a_failure_in_the_job_names_the_uploaded_file_and_its_line_not_the_server_path(
    staff, settings, django_capture_on_commit_callbacks
):
    lines = b"".join(
        b'{"listened_at": %d, "track_metadata": {"artist_name": "A", "track_name": "T"}}\n'
        % (1600000000 + n)
        for n in range(1100)
    )
    cut = lines[:-30]  # the upload's check reads 1,000 rows; the job meets the cut line

    with django_capture_on_commit_callbacks(execute=True):
        response = post(staff, [SimpleUploadedFile("listens.jsonl", cut)], listener="ada")

    assert response.status_code == 302, form_errors(response)
    batch = ImportBatch.objects.get()
    assert batch.status == JobStatus.FAILED
    assert batch.error == (
        "listens.jsonl, line 1100: is not valid JSON: Unterminated string starting at column 48"
    )
    page = staff.get(reverse("admin:listening_importbatch_change", args=[batch.pk]))
    assert str(settings.MEDIA_ROOT).encode() not in page.content


def rating_rows(years) -> bytes:
    rows = [f"u{n},Song {n},Band,4,{year}-05-01T10:00:00Z" for n, year in enumerate(years)]
    return "\n".join(["user,item,band,rating,at", *rows, ""]).encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("since", "status", "loaded"),
    [("", JobStatus.FAILED, 0), ("1990-01-01", JobStatus.SUCCEEDED, 4)],
    ids=["default window", "since 1990"],
)
def test_the_upload_form_sets_the_import_s_own_time_window(
    staff, django_capture_on_commit_callbacks, since, status, loaded
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            staff,
            [SimpleUploadedFile("ratings.csv", rating_rows([1997, 1997, 1998, 1998]))],
            columns="user=user,song=item,artist=band,rating=rating,time=at",
            since=since,
        )

    assert response.status_code == 302, form_errors(response)
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.rows_loaded) == (status, loaded), batch.error
    assert batch.report["earliest_play"] == (since or "2002-01-01")
    if status == JobStatus.FAILED:
        assert batch.error.startswith("no row loaded: 100% of rows rejected by time_out_of_range")
        page = staff.get(reverse("admin:listening_importbatch_change", args=[batch.pk]))
        assert reverse("import-rejected", args=[batch.pk]).encode() in page.content


@pytest.mark.django_db
def test_a_batch_with_a_warning_says_so_in_the_list_and_on_its_page(
    staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(
            staff,
            [SimpleUploadedFile("ratings.csv", rating_rows([1997, 1997, 1997, 2010]))],
            columns="user=user,song=item,artist=band,rating=rating,time=at",
        )

    batch = ImportBatch.objects.get()
    listing = staff.get(reverse("admin:listening_importbatch_changelist"))
    page = staff.get(reverse("admin:listening_importbatch_change", args=[batch.pk]))
    assert batch.status == JobStatus.SUCCEEDED and batch.rows_loaded == 1
    assert b"Succeeded, with a warning" in listing.content
    assert b"WARNING: 75% of rows rejected by time_out_of_range" in page.content
