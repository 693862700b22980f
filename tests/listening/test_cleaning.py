"""Every cleaning rule, on rows built to trip it (and rows built not to)."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from catalog.names import match_key
from listening.ingest import cleaning
from listening.ingest.cleaner import Cleaner
from listening.ingest.cleaning import CleaningConfig
from listening.ingest.report import CleaningReport
from listening.ingest.schema import conform

CONFIG = CleaningConfig()
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def frame(*rows: dict) -> pd.DataFrame:
    base = {"listener": "ada", "artist": "Low", "title": "Words", "play_count": 1}
    records = [{"line": number, **base, **row} for number, row in enumerate(rows, start=1)]
    for record in records:
        if "played_at" in record and record["played_at"] is not None:
            record["played_at"] = pd.Timestamp(record["played_at"], tz="UTC")
    return conform(pd.DataFrame.from_records(records))


def lines(rows: pd.DataFrame) -> list[int]:
    return sorted(rows["line"].tolist())


def test_podcasts_and_audiobooks_are_not_music():
    split = cleaning.drop_not_music(frame({}, {"is_music": False, "title": None, "artist": None}))
    assert lines(split.removed) == [2]


@pytest.mark.parametrize(
    ("row", "dropped"),
    [
        ({"listener": None}, True),
        ({"artist": None, "title": None}, True),
        ({"title": None}, True),  # a track-level row must name its song
        ({"artist": None, "title": None, "echonest_id": "SOAAA"}, False),  # known by id
        ({"artist": None, "title": None, "spotify_uri": "spotify:track:x"}, False),
        ({}, False),
    ],
)
def test_rows_without_a_listener_or_a_song_are_dropped(row, dropped):
    split = cleaning.drop_missing_identity(frame(row), artist_level=False)
    assert len(split.removed) == int(dropped)


def test_an_artist_level_row_needs_only_its_artist():
    rows = frame({"title": None}, {"title": None, "artist": None})
    split = cleaning.drop_missing_identity(rows, artist_level=True)
    assert lines(split.removed) == [2]


def test_names_are_tidied_for_display_and_folded_only_in_the_key():
    rows = frame(
        {"artist": "  Sigur   Rós ", "title": "Hoppi\u0301polla"},  # spaces, decomposed accent
        {"artist": "SIGUR RÓS", "title": "Hoppípolla"},  # other case: display unchanged
    )
    tidy, changed = cleaning.normalise_names(rows)
    assert changed.tolist() == [True, False]
    assert tidy["artist"].tolist() == ["Sigur Rós", "SIGUR RÓS"]
    assert tidy["title"].tolist() == ["Hoppípolla", "Hoppípolla"]
    assert tidy["artist_key"].nunique() == 1
    assert tidy["title_key"].nunique() == 1


@pytest.mark.parametrize("name", ["  Beyonce\u0301 ", "İstanbul Blues", "Straße", "AC/DC"])
def test_the_frame_key_is_the_catalogs_match_key(name):
    tidy, _ = cleaning.normalise_names(frame({"artist": name}))
    assert tidy["artist_key"].iloc[0] == match_key(name)


def test_bad_play_counts_are_dropped():
    rows = frame(
        {"play_count": 3},
        {"play_count": 0},
        {"play_count": -2},
        {"play_count": float("nan")},
        {"play_count": 2.5},
    )
    assert lines(cleaning.drop_bad_play_count(rows).removed) == [2, 3, 4, 5]


def test_the_implausibility_threshold_has_a_floor_for_mostly_single_plays():
    counts = pd.Series([1.0] * 90 + [2.0] * 9 + [9_667.0])
    assert cleaning.implausible_threshold(counts, CONFIG) == CONFIG.implausible_floor


def test_the_implausibility_threshold_follows_a_heavy_source(rng):
    # HetRec-like: artist play counts spread over four orders of magnitude.
    counts = pd.Series(10 ** rng.normal(2.4, 0.6, 5000))
    threshold = cleaning.implausible_threshold(counts, CONFIG)
    assert threshold > counts.max()
    rows = frame({"play_count": 300}, {"play_count": threshold * 10})
    assert lines(cleaning.drop_implausible_play_count(rows, threshold).removed) == [2]


def test_plays_in_the_future_or_before_2002_are_dropped():
    rows = frame(
        {"played_at": "2024-01-01"},
        {"played_at": "2031-01-01"},
        {"played_at": "1999-12-31"},
        {"played_at": "2026-11-26T20:00:00"},  # later today: a clock a little ahead is fine
        {"played_at": None},  # an aggregated count has no time
    )
    split = cleaning.drop_time_out_of_range(rows, now=NOW, config=CONFIG)
    assert lines(split.removed) == [2, 3]


def test_the_time_window_is_the_configs_and_its_edges_are_kept():
    config = CleaningConfig(earliest_play=datetime(1990, 1, 1, tzinfo=UTC))
    earliest, latest = cleaning.play_time_window(config, NOW)
    assert (earliest, latest) == (config.earliest_play, NOW + config.future_tolerance)
    second = pd.Timedelta(seconds=1)
    naive = [moment.replace(tzinfo=None) for moment in (earliest, latest)]  # frame() adds UTC
    rows = frame(
        {"played_at": naive[0]},
        {"played_at": naive[1]},
        {"played_at": naive[0] - second},
        {"played_at": naive[1] + second},
    )
    split = cleaning.drop_time_out_of_range(rows, now=NOW, config=config)
    assert lines(split.removed) == [3, 4]


def test_spotify_plays_under_30_seconds_are_skips():
    rows = frame({"ms_played": 29_999}, {"ms_played": 30_000}, {"ms_played": None})
    assert lines(cleaning.divert_skips(rows, CONFIG).removed) == [1]


def test_exact_duplicates_keep_the_first():
    rows = frame({"played_at": "2024-01-01"}, {"played_at": "2024-01-01"}, {"title": "Other"})
    assert lines(cleaning.drop_exact_duplicates(rows).removed) == [2]


def test_a_scrobble_sent_twice_within_seconds_is_dropped():
    rows, _ = cleaning.normalise_names(
        frame(
            {"played_at": "2024-01-01T10:00:00"},
            {"played_at": "2024-01-01T10:00:07"},  # 7 s later: the same scrobble again
            {"played_at": "2024-01-01T10:04:00"},  # a real repeat
            {"played_at": "2024-01-01T10:00:03", "listener": "bob"},  # someone else
            {"played_at": "2024-01-01T10:00:05", "title": "Sunflower"},  # another song
        )
    )
    assert lines(cleaning.drop_duplicate_scrobbles(rows, CONFIG).removed) == [2]


def test_missing_release_or_year_is_counted_not_invented():
    rows = frame(
        {"release": "Things We Lost", "year": 2001},
        {"release": None, "year": 2001},
        {"release": "Drums and Guns", "year": None},
    )
    assert cleaning.missing_metadata(rows).tolist() == [False, True, True]


def test_a_listener_with_more_plays_in_a_day_than_minutes_is_a_bot():
    day = pd.Timestamp("2024-03-01", tz="UTC")
    busy = pd.DataFrame(
        {"listener": ["bot"] * 1441, "played_at": day + pd.to_timedelta(range(1441), "s")}
    )
    normal = pd.DataFrame(
        {"listener": ["ada"] * 1440, "played_at": day + pd.to_timedelta(range(1440), "s")}
    )
    counts = cleaning.listener_day_counts(conform(pd.concat([busy, normal]).assign(line=1)))
    assert cleaning.bot_listeners(counts, CONFIG) == ["bot"]


def test_a_bot_is_judged_on_the_whole_day_across_chunks():
    day = pd.Timestamp("2024-03-01", tz="UTC")
    cleaner = Cleaner(CleaningReport(), artist_level=False, now=NOW)
    for start in (0, 800):
        # 800 plays 30 s apart per chunk: 1,600 on the day, but neither chunk alone > 1,440
        times = day + pd.to_timedelta(range(start * 30, (start + 800) * 30, 30), "s")
        chunk = conform(
            pd.DataFrame(
                {
                    "line": 1,
                    "listener": "bot",
                    "artist": "A",
                    "title": [f"s{i}" for i in range(800)],
                    "played_at": times,
                    "play_count": 1,
                }
            )
        )
        cleaner.clean(chunk)
    assert cleaner.bot_listeners() == ["bot"]


def test_the_cleaner_counts_every_rule_and_keeps_what_it_dropped():
    report = CleaningReport()
    cleaner = Cleaner(report, artist_level=False, now=NOW)
    rows = frame(
        {"played_at": "2024-01-01T10:00:00", "release": "R", "year": 2000},
        {"played_at": "2024-01-01T10:00:00", "release": "R", "year": 2000},  # exact duplicate
        {"played_at": "2024-01-01T10:00:04", "release": "R", "year": 2000},  # duplicate scrobble
        {"played_at": "2035-01-01", "release": "R", "year": 2000},  # future
        {"listener": None, "played_at": "2024-01-02", "release": "R", "year": 2000},
        {"played_at": "2024-01-03", "title": " Words ", "release": None, "year": 2000},
    )

    outcome = cleaner.clean(rows)

    counts = {name: entry["rows"] for name, entry in report.rules.items() if entry["rows"]}
    assert counts == {
        "exact_duplicate": 1,
        "duplicate_scrobble": 1,
        "time_out_of_range": 1,
        "missing_identity": 1,
        "names_normalised": 1,
        "missing_metadata": 1,
    }
    assert lines(outcome.listens) == [1, 6]
    assert sorted(outcome.rejected["reason"]) == [
        "duplicate_scrobble",
        "exact_duplicate",
        "missing_identity",
        "time_out_of_range",
    ]
    assert report.rows_read == 6 and report.rows_rejected == 4
    assert report.rules["time_out_of_range"]["examples"][0]["line"] == 4
