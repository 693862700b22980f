"""An import's files are people's data: nothing under MEDIA_ROOT is public, in any mode; staff
who may view imports get each file through web/import_files.py, as an attachment."""

import importlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import clear_url_caches, reverse

from listening.listen_upload import listen_upload_stage
from listening.models import ImportBatch
from tests.factories import StaffFactory, UserFactory
from tests.listening.fixtures_formats import write_hetrec

PLAYS = b"user_000001\t2009-05-04T23:08:57Z\t\tLow\t\tWords\n"


@pytest.fixture(params=[True, False], ids=["DEBUG on", "DEBUG off"])
def debug_urls(request, settings):
    """The URLconf as the site builds it with DEBUG on or off (it once added media serving
    under DEBUG when imported), rebuilt afterwards as it was."""
    import web.urls

    settings.DEBUG = request.param
    importlib.reload(web.urls)
    clear_url_caches()
    yield request.param
    settings.DEBUG = False
    importlib.reload(web.urls)
    clear_url_caches()


@pytest.fixture
def batch(tmp_path) -> ImportBatch:
    """An uploaded HetRec dataset (two files, stored as the admin stores them) that rejected
    some rows."""
    folder = write_hetrec(tmp_path / "h", plays=[(2, 51, 10)], artists=[(51, "Low")])
    staged = listen_upload_stage(
        files=[
            SimpleUploadedFile(name, (folder / name).read_bytes())
            for name in ("user_artists.dat", "artists.dat")
        ]
    )
    batch = ImportBatch.objects.create(
        upload=staged.plays, source_name=staged.source_name, options=staged.options
    )
    batch.rejected_file.save("batch-rejected.csv", SimpleUploadedFile("x", b"line,reason\n"))
    return batch


def users():
    return {
        "anonymous": lambda: None,
        "a listener": UserFactory,
        "staff without the view permission": lambda: UserFactory(is_staff=True),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("who", list(users()))
def test_media_paths_and_the_staff_views_are_refused_to_all_but_staff(
    client, debug_urls, batch, who
):
    user = users()[who]()
    if user is not None:
        client.force_login(user)
    media = "/media/"
    paths = [
        f"{media}{batch.upload.name}",
        f"{media}{batch.rejected_file.name}",
        reverse("import-rejected", args=[batch.pk]),
        reverse("import-upload", args=[batch.pk, 0]),
        reverse("import-upload", args=[batch.pk, 1]),
    ]

    answers = {path: client.get(path).status_code for path in paths}

    assert set(answers.values()) <= {403, 404}, answers


@pytest.mark.django_db
def test_no_media_path_is_served_even_to_staff(client, debug_urls, batch):
    client.force_login(StaffFactory())

    assert client.get(f"/media/{batch.upload.name}").status_code == 404


@pytest.mark.django_db
def test_staff_get_each_file_as_an_attachment_under_its_own_name(client, batch):
    client.force_login(StaffFactory())
    stored = Path(batch.upload.path).parent

    plays = client.get(reverse("import-upload", args=[batch.pk, 0]))
    artists = client.get(reverse("import-upload", args=[batch.pk, 1]))
    rejected = client.get(reverse("import-rejected", args=[batch.pk]))
    beyond = client.get(reverse("import-upload", args=[batch.pk, 2]))

    assert b"".join(plays.streaming_content) == (stored / "user_artists.dat").read_bytes()
    assert plays["Content-Disposition"] == 'attachment; filename="user_artists.dat"'
    assert artists["Content-Disposition"] == 'attachment; filename="artists.dat"'
    assert (
        rejected["Content-Disposition"] == f'attachment; filename="import-{batch.pk}-rejected.csv"'
    )
    assert b"".join(rejected.streaming_content) == b"line,reason\n"
    for response in (plays, artists, rejected):
        assert response["X-Content-Type-Options"] == "nosniff"
    assert plays["Content-Type"] == "application/octet-stream"
    assert beyond.status_code == 404


@pytest.mark.django_db
def test_a_stored_path_outside_the_media_root_is_never_followed(client, settings, tmp_path):
    client.force_login(StaffFactory())
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    folder = Path(settings.MEDIA_ROOT) / "imports" / "2026" / "12" / "0123456789abcdef"
    folder.mkdir(parents=True)
    (folder / "plays.tsv").write_bytes(PLAYS)
    (folder / "link.tsv").symlink_to(secret)
    outside = ImportBatch.objects.create(upload="../secret.txt", source_name="x")
    linked = ImportBatch.objects.create(
        upload="imports/2026/12/0123456789abcdef/plays.tsv",
        source_name="plays.tsv",
        rejected_file="imports/2026/12/0123456789abcdef/link.tsv",
    )

    answers = [
        client.get(reverse("import-upload", args=[outside.pk, 0])),
        client.get(reverse("import-upload", args=[linked.pk, 1])),  # the link beside the plays
        client.get(reverse("import-rejected", args=[linked.pk])),
        client.get(reverse("import-rejected", args=[outside.pk])),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert client.get(reverse("import-upload", args=[linked.pk, 0])).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/staff/imports/99999999999999999999999/upload/0",
        "/staff/imports/9223372036854775808/rejected.csv",
        "/staff/imports/1/upload/99999999999999999999999",
        "/staff/imports/-1/upload/0",
        "/staff/imports/1/upload/..%2F..%2Fetc%2Fpasswd",
        "/media/../../etc/passwd",
        "/media/imports/rejected/batch-1-rejected.csv",
    ],
)
def test_hostile_file_paths_are_a_404_even_for_staff(client, batch, path):
    client.force_login(StaffFactory())

    assert client.get(path).status_code == 404
