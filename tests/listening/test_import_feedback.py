"""An import tells the truth about what it did: one that loads nothing fails, one rule dropping
most rows is a loud warning naming it with an example, the time window is the import's own
(a setting, `--since`), and the command prints no empty table before an error."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from listening.listen_import import listen_import_create
from listening.models import ImportBatch, Listen
from musicsite.jobs import JobStatus
from tests.listening.fixtures_formats import write_json_lines, write_lines
from tests.listening.test_import import run

COLUMNS = "user=user,song=item,artist=band,rating=rating,time=at"
MAPPING = {"user": "user", "song": "item", "artist": "band", "rating": "rating", "time": "at"}


def ratings(path: Path, *, old: int, new: int = 0) -> Path:
    """A rating log in a generic CSV: `old` ratings from 1997-98, `new` ones from 2010."""
    rows = [
        f"u{n % 7},Song {n},Band {n % 5},{1 + n % 5},{1997 + n % 2}-0{1 + n % 9}-1{n % 9}T10:00:00Z"
        for n in range(old)
    ] + [f"v{n},New {n},Band,4,2010-03-0{1 + n % 9}T10:00:00Z" for n in range(new)]
    return write_lines(path, ["user,item,band,rating,at", *rows])


def rule_rows(batch: ImportBatch, name: str) -> int:
    return batch.report["rules"][name]["rows"]


@pytest.mark.django_db
def test_a_rating_file_from_1997_fails_by_default_naming_the_rule_and_a_row(tmp_path, capsys):
    path = ratings(tmp_path / "ratings.csv", old=100)

    with pytest.raises(CommandError) as raised:
        call_command("import_listens", str(path), "--columns", COLUMNS)

    batch = ImportBatch.objects.get()
    assert batch.status == JobStatus.FAILED
    assert batch.error.startswith(
        "no row loaded: 100% of rows rejected by time_out_of_range "
        "(played in the future or before 2002-01-01), e.g. line 2: listener=u0;"
    )
    assert batch.error in str(raised.value)
    assert (batch.rows_read, batch.rows_rejected, batch.rows_loaded) == (100, 100, 0)
    # The rows that say why are kept for download, though nothing loaded.
    assert len(batch.rejected_file.read().splitlines()) == 1 + 100
    assert "time_out_of_range" in capsys.readouterr().out  # the table: rows were read
    assert not Listen.objects.exists()


@pytest.mark.django_db
def test_the_same_file_with_since_1990_loads_every_row(tmp_path, capsys):
    path = ratings(tmp_path / "ratings.csv", old=100)

    call_command("import_listens", str(path), "--columns", COLUMNS, "--since", "1990-01-01")

    batch = ImportBatch.objects.get()
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert (batch.rows_read, batch.rows_loaded, batch.rows_rejected) == (100, 100, 0)
    assert batch.options["since"] == "1990-01-01"
    assert batch.report["earliest_play"] == "1990-01-01"
    assert batch.report["rules"]["time_out_of_range"]["description"] == (
        "played in the future or before 1990-01-01: dropped"
    )
    assert "before 1990-01-01" in capsys.readouterr().out
    assert Listen.objects.count() == 100


@pytest.mark.django_db
def test_most_rows_dropped_by_one_rule_is_a_loud_warning_on_the_batch_and_the_command(
    tmp_path, capsys
):
    path = ratings(tmp_path / "mixed.csv", old=80, new=20)

    call_command("import_listens", str(path), "--columns", COLUMNS)

    batch = ImportBatch.objects.get()
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert batch.rows_loaded == 20
    warning = (
        "WARNING: 80% of rows rejected by time_out_of_range (played in the future or before "
        "2002-01-01), e.g. line 2: listener=u0; artist=Band 0; title=Song 0;"
    )
    assert [text[: len(warning)] for text in batch.report["warnings"]] == [warning]
    assert warning in capsys.readouterr().err


@pytest.mark.django_db
def test_half_the_rows_dropped_or_fewer_is_no_warning(tmp_path):
    batch = run(ratings(tmp_path / "half.csv", old=50, new=50), columns=MAPPING)

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert rule_rows(batch, "time_out_of_range") == 50
    assert batch.report["warnings"] == []


@pytest.mark.django_db
def test_the_setting_moves_the_window_for_every_import(tmp_path, settings):
    settings.LISTENING_EARLIEST_PLAY = "1998-01-01"

    batch = run(ratings(tmp_path / "ratings.csv", old=100), columns=MAPPING)

    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert rule_rows(batch, "time_out_of_range") == 50  # 1997's half
    assert batch.report["earliest_play"] == "1998-01-01"


@pytest.mark.django_db
def test_a_setting_that_is_no_date_is_said_as_a_setting_error(tmp_path, settings):
    settings.LISTENING_EARLIEST_PLAY = "soon"

    with pytest.raises(ImproperlyConfigured, match="LISTENING_EARLIEST_PLAY: since: expected"):
        run(ratings(tmp_path / "ratings.csv", old=3), columns=MAPPING)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("yesterday", "--since: expected a date like 1990-01-01 (or an ISO time), got 'yesterday'"),
        ("1899-12-31", "--since: 1899-12-31 is not between 1900-01-01 and today"),
        ("0001-01-01", "--since: 0001-01-01 is not between 1900-01-01 and today"),
        ("9999-01-01", "--since: 9999-01-01 is not between 1900-01-01 and today"),
        ("2002-02-30", "--since: expected a date like 1990-01-01"),
        ("\ud800", "--since: expected a date like 1990-01-01"),
    ],
)
def test_a_since_that_is_no_usable_date_is_refused_before_reading(tmp_path, since, message):
    path = ratings(tmp_path / "ratings.csv", old=3)

    with pytest.raises(CommandError) as raised:
        call_command("import_listens", str(path), "--columns", COLUMNS, "--since", since)

    assert str(raised.value).startswith(message)
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_a_file_of_only_a_header_fails_saying_it_holds_no_rows(tmp_path):
    batch = run(write_lines(tmp_path / "empty.csv", ["user,item,band,rating,at"]), columns=MAPPING)

    assert (batch.status, batch.error) == (JobStatus.FAILED, "the file holds no rows to import")


@pytest.mark.django_db
def test_the_command_prints_no_empty_table_before_an_error(tmp_path, capsys):
    lines = [
        {"listened_at": 1600000000 + n, "track_metadata": {"artist_name": "A"}} for n in range(3)
    ]
    path = write_json_lines(tmp_path / "listens.jsonl", lines)
    path.write_text(path.read_text()[:-20])  # cut inside the last line

    with pytest.raises(CommandError) as raised:
        call_command("import_listens", str(path), "--listener", "ada")

    assert "rule " not in capsys.readouterr().out
    assert str(raised.value).endswith(
        "listens.jsonl, line 3: is not valid JSON: Unterminated string starting at column 48"
    )


@pytest.mark.django_db
def test_the_celery_task_takes_the_window_from_its_batch(tmp_path):
    from listening.tasks import listen_import_run as task

    path = ratings(tmp_path / "ratings.csv", old=10)
    batch = listen_import_create(path=path, options={"columns": MAPPING, "since": "1990-01-01"})

    assert task.delay(batch.pk).get() == JobStatus.SUCCEEDED
    batch.refresh_from_db()
    assert (batch.rows_loaded, batch.report["earliest_play"]) == (10, "1990-01-01")
    with pytest.raises(ValueError, match="since: expected a date"):
        listen_import_create(path=path, options={"since": "whenever"})


@pytest.mark.django_db
def test_a_reimport_that_adds_nothing_succeeds_with_a_warning_saying_so(tmp_path):
    path = ratings(tmp_path / "ratings.csv", old=0, new=6)
    first = run(path, columns=MAPPING)

    again = run(path, columns=MAPPING)

    assert (first.status, first.report["warnings"]) == (JobStatus.SUCCEEDED, [])
    assert again.status == JobStatus.SUCCEEDED
    assert again.report["warnings"] == ["WARNING: no new listen loaded: 6 already imported"]
