"""The exploration report end to end: exact figures on hand-made data, the generator's skew,
the charts, the pages and the command."""

import html
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from listening.exploration.queries import quality
from listening.exploration.report import exploration_report_create, exploration_report_run
from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run
from listening.listen_submission import ListenItem, listens_record
from listening.models import ExplorationReport, Listener
from musicsite.jobs import JobStatus
from tests.factories import (
    ListenerFactory,
    ListenFactory,
    SongFactory,
    StaffFactory,
    UserFactory,
)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 4, day, hour, minute, tzinfo=UTC)  # 2024-04-01 is a Monday


@pytest.fixture
def small_world(db):
    """Three listeners, three songs, nine plays; every figure below is counted by hand."""
    ada, bob, cy = (ListenerFactory(external_id=name) for name in ("ada", "bob", "cy"))
    hit, deep, rare = (SongFactory(title=title) for title in ("Hit", "Deep Cut", "Rare"))
    # ada plays Deep Cut five times (one session, Monday 20:00-20:40) and Hit once.
    for minute in range(0, 50, 10):
        ListenFactory(listener=ada, song=deep, played_at=at(1, 20, minute))
    ListenFactory(listener=ada, song=hit, played_at=at(2, 9))  # Tuesday: a second session
    # bob and cy play Hit once each, cy also Rare.
    ListenFactory(listener=bob, song=hit, played_at=at(1, 20, 5))
    ListenFactory(listener=cy, song=hit, played_at=at(3, 7))
    ListenFactory(listener=cy, song=rare, played_at=at(3, 7, 45))  # 45 min later: new session
    return {"hit": hit, "deep": deep, "rare": rare}


def run_report() -> ExplorationReport:
    return exploration_report_run(report_id=exploration_report_create().pk)


def test_every_figure_on_a_hand_counted_dataset(small_world):
    report = run_report()
    figures = report.figures

    assert report.status == JobStatus.SUCCEEDED, report.error
    size = figures["size"]
    assert (size["listens"], size["listeners"], size["songs"], size["pairs"]) == (9, 3, 3, 5)
    assert size["density"] == pytest.approx(5 / 9)
    assert size["cold_listeners_share"] == 1.0  # nobody has 5 distinct songs
    popularity = figures["popularity"]
    # By plays Deep Cut (5) leads; by distinct listeners Hit (3) does.
    assert popularity["top_songs_by_plays"][0]["title"] == "Deep Cut"
    assert popularity["top_songs_by_listeners"][0]["title"] == "Hit"
    # plays per song 5, 3, 1 -> Gini = 2*(1*1 + 2*3 + 3*5)/(3*9) - 4/3
    assert popularity["song_gini"] == pytest.approx(2 * 22 / 27 - 4 / 3)
    habits = figures["habits"]
    hours = [sum(row[hour] for row in habits["hour_weekday"]) for hour in range(24)]
    assert hours[20] == 6 and hours[9] == 1 and hours[7] == 2 and sum(hours) == 9
    assert habits["hour_weekday"][0][20] == 6  # Monday
    assert habits["peak_hour"] == 20 and habits["peak_weekday"] == 0
    # ada: 2 sessions, bob: 1, cy: 2 (45-minute gap)
    assert habits["sessions"]["sessions"] == 5
    # first plays of a song by a listener: ada 2, bob 1, cy 2 of 9 plays
    assert habits["discovery_share"] == pytest.approx(5 / 9)
    repeat = figures["distributions"]["repeat"]
    assert repeat["repeat_ratio"] == pytest.approx(1 - 5 / 9)


def test_the_findings_reflect_the_generators_popularity_skew(db, tmp_path):
    path = tmp_path / "scrobbles.tsv"
    generate(path, "lastfm-1k", n_listeners=60, n_songs=400, n_listens=8000, seed=4)
    listen_import_run(batch_id=listen_import_create(path=path).pk)

    report = run_report()

    top = report.figures["popularity"]["song_plays_top_share"]["top_10%"]
    assert top > 0.3  # the generator's Zipf popularity
    shown = f"The top 10% of songs take {round(top * 100)}% of plays"
    assert any(finding.startswith(shown) for finding in report.findings), report.findings
    assert report.figures["habits"]["sessions"]["sessions"] > 0


def test_the_charts_are_valid_svg_images(small_world):
    report = run_report()

    assert {"lorenz", "top_songs", "hour_weekday", "monthly"} <= set(report.charts)
    for name, svg in report.charts.items():
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg"), name


def test_every_chart_on_the_page_is_described_not_named_by_its_key(client, small_world):
    report = run_report()
    client.force_login(StaffFactory())

    page = client.get(reverse("exploration-detail", args=[report.pk])).content.decode()

    assert "<figure aria-label" not in page  # the key no longer stands in for the chart
    for name, svg in report.charts.items():
        root = ET.fromstring(svg)
        said = root.get("aria-label")
        assert root.get("role") == "img" and said, name
        assert said.lower() not in (name, name.replace("_", " ")), said
        assert len(said.split()) >= 10 and ": " in said, said
        shown = re.search(
            rf'<figure id="chart-{name}">.*?<svg role="img" aria-label="(.*?)"', page, re.S
        )
        assert html.unescape(shown.group(1)) == said
    # Drawn from the hand-counted data.
    assert (
        ET.fromstring(report.charts["top_songs"])
        .get("aria-label")
        .endswith("3 shown, largest first: Deep Cut with 5 plays, then Hit (3) and Rare (1).")
    )
    assert (
        ET.fromstring(report.charts["hour_weekday"])
        .get("aria-label")
        .endswith(
            "the busiest cell is Monday 20:00 (6 plays); Monday is the busiest day and 20:00 "
            "the busiest hour."
        )
    )


def test_names_in_charts_cannot_inject_markup(db):
    song = SongFactory(title="<script>alert(1)</script>")
    ListenFactory(song=song, played_at=at(1, 12))

    report = run_report()

    assert "<script>" not in report.charts["top_songs"]


def test_the_staff_page_shows_a_report_and_refuses_others(client, small_world):
    report = run_report()
    url = reverse("exploration-detail", args=[report.pk])

    assert client.get(url).status_code == 302  # anonymous: to the login
    client.force_login(UserFactory())
    assert client.get(url).status_code == 302  # a listener is not staff
    client.force_login(StaffFactory())
    page = client.get(url)
    assert page.status_code == 200
    assert b"Deep Cut" in page.content and b"<svg" in page.content
    assert client.get(reverse("exploration-list")).status_code == 200


def test_staff_can_start_a_report_from_the_page(
    client, small_world, django_capture_on_commit_callbacks
):
    client.force_login(StaffFactory())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("exploration-create"))

    report = ExplorationReport.objects.get()
    assert response.status_code == 302
    assert report.status == JobStatus.SUCCEEDED


def test_the_command_writes_a_self_contained_html_report(small_world, tmp_path, capsys):
    call_command("explore", "--out", str(tmp_path))

    out = capsys.readouterr().out
    html = next(tmp_path.glob("exploration-*.html")).read_text()
    assert "Exploration report" in out
    assert "<svg" in html and "Deep Cut" in html and "static/" not in html


def test_api_submissions_are_one_line_of_the_imports_however_many_they_are(db, tmp_path):
    path = tmp_path / "plays.tsv"
    path.write_text("u1\tSOAAAAA12A8C130001\t3\n")
    listen_import_run(batch_id=listen_import_create(path=path).pk)
    listener = Listener.objects.for_user(UserFactory())
    for song in SongFactory.create_batch(3):
        listens_record(
            listener, [ListenItem(song_id=song.pk), ListenItem(song_id=song.pk)], source="api"
        )

    imports = quality()["imports"]

    assert [entry["format"] for entry in imports] == ["taste-profile", "api"]
    assert imports[1] == {
        "id": "api",
        "source_name": "3 API submissions",
        "format": "api",
        "rows_read": 6,
        "rows_loaded": 3,
        "rows_rejected": 0,
        "rules": {},
    }
