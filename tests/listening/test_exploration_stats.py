"""The exploration statistics and findings, on small data whose right answers are known."""

import copy
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from listening.exploration import findings as f
from listening.exploration import stats

# --- gini -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 1, 1, 1], 0.0),
        ([0, 0, 0, 10], 0.75),  # 2*(4*10)/(4*10) - 5/4: one item of four has everything
        ([1, 2, 3], 4 / 18),  # 2*(1+4+9)/(3*6) - 4/3; also mean |xi - xj| / (2 * mean)
        ([3, 1, 2], 4 / 18),  # order does not matter
        ([5], 0.0),
        ([], 0.0),
        ([0, 0, 0], 0.0),
    ],
)
def test_gini(values, expected):
    assert stats.gini(np.array(values, dtype=float)) == pytest.approx(expected)


def test_gini_takes_series_with_missing_values_and_decimals():
    assert stats.gini(pd.Series([0, 0, 0, 10, None])) == pytest.approx(0.75)
    assert stats.gini(pd.Series([Decimal(1), Decimal(2), Decimal(3)])) == pytest.approx(4 / 18)
    assert stats.gini(pd.Series([1, 2, 3, None], dtype="Int64")) == pytest.approx(4 / 18)


def test_gini_refuses_negative_values():
    with pytest.raises(ValueError, match="non-negative"):
        stats.gini([-1, 2])


# --- lorenz_curve -----------------------------------------------------------------------------


def test_lorenz_curve_interpolates_the_exact_curve():
    # items [1, 1, 2]: exact corners (0, 0), (1/3, 1/4), (2/3, 1/2), (1, 1)
    x, y = stats.lorenz_curve([2, 1, 1], points=5)
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    # x = 0.25: 3/4 of the way to the first corner -> 0.1875; x = 0.5: 0.25 + (1/6)(3/4)
    assert y == pytest.approx([0.0, 0.1875, 0.375, 0.625, 1.0])


def test_lorenz_curve_endpoints_and_default_points():
    x, y = stats.lorenz_curve(pd.Series([0, 3, 7, 1, 1]))
    assert len(x) == len(y) == 101
    assert (x[0], y[0], x[-1], y[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(y) >= 0)
    assert np.all(y <= x + 1e-12)


def test_lorenz_area_gives_back_the_gini_coefficient():
    # with the grid on the item boundaries, G = 1 - 2 * area under the curve
    x, y = stats.lorenz_curve([1, 2, 3], points=4)
    area = float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)))
    assert 1 - 2 * area == pytest.approx(stats.gini([1, 2, 3]))


def test_lorenz_of_one_item_with_everything():
    _, y = stats.lorenz_curve([0, 0, 0, 10], points=5)
    assert y == pytest.approx([0, 0, 0, 0, 1])


@pytest.mark.parametrize("values", [[], [0, 0]])
def test_lorenz_of_nothing_is_the_diagonal(values):
    x, y = stats.lorenz_curve(values, points=3)
    assert x.tolist() == y.tolist() == [0.0, 0.5, 1.0]


def test_lorenz_needs_two_points():
    with pytest.raises(ValueError, match="at least 2"):
        stats.lorenz_curve([1, 2], points=1)


# --- top_share --------------------------------------------------------------------------------


def test_top_share_exact_values():
    values = np.arange(1, 11)  # total 55
    shares = stats.top_share(values)
    assert list(shares) == ["top_1%", "top_10%", "top_20%"]
    assert shares["top_1%"] == pytest.approx(10 / 55)  # ceil(0.1) = 1 item, at least 1
    assert shares["top_10%"] == pytest.approx(10 / 55)  # ceil(1.0) = 1 item
    assert shares["top_20%"] == pytest.approx(19 / 55)  # 10 + 9


def test_top_share_does_not_round_a_whole_count_up():
    # 0.1 * 30 is 3.0000000000000004 in floating point: still 3 items, not 4
    shares = stats.top_share(pd.Series(np.arange(1, 31)), fractions=(0.1,))
    assert shares == {"top_10%": pytest.approx((30 + 29 + 28) / 465)}


def test_top_share_labels_and_empty_input():
    assert set(stats.top_share([4, 1], fractions=(0.5, 0.005))) == {"top_50%", "top_0.5%"}
    assert stats.top_share([4, 1], fractions=(0.5,)) == {"top_50%": pytest.approx(0.8)}
    assert stats.top_share([]) == {"top_1%": 0.0, "top_10%": 0.0, "top_20%": 0.0}


# --- histograms -------------------------------------------------------------------------------


def test_histogram_of_counts_each_value():
    counts = stats.histogram_of(pd.Series([3, 1, 1, None]))
    assert counts.to_dict() == {1: 2, 3: 1}
    assert counts.index.tolist() == [1, 3]


def test_log_histogram_bins_are_powers_of_two():
    histogram = stats.log_histogram(pd.Series({1: 3, 2: 1, 3: 2, 9: 1}))
    assert list(histogram.columns) == ["low", "high", "count"]
    assert histogram.to_dict("records") == [
        {"low": 1, "high": 2, "count": 3},
        {"low": 2, "high": 4, "count": 3},
        {"low": 4, "high": 8, "count": 0},  # empty bins stay, so gaps are visible
        {"low": 8, "high": 16, "count": 1},
    ]


def test_log_histogram_edges_are_inclusive_below_exclusive_above():
    histogram = stats.log_histogram(pd.Series({4: 1, 7: 2, 8: 5, 2**20: 1, 2**21 - 1: 1}))
    by_low = dict(zip(histogram["low"], histogram["count"], strict=True))
    assert by_low[4] == 3 and by_low[8] == 5 and by_low[1] == 0 and by_low[2] == 0
    assert by_low[2**20] == 2
    assert histogram["high"].iloc[-1] == 2**21


def test_log_histogram_ignores_values_below_one_and_reads_decimals():
    histogram = stats.log_histogram(
        pd.Series([9, 2, 1], index=pd.Index([0, Decimal(1), Decimal(5)], dtype=object))
    )
    assert histogram["count"].tolist() == [2, 0, 1]


def test_log_histogram_of_nothing():
    histogram = stats.log_histogram(pd.Series(dtype="int64"))
    assert histogram.empty and list(histogram.columns) == ["low", "high", "count"]


# --- summary ----------------------------------------------------------------------------------


def test_summary_exact_values():
    figures = stats.summary(np.arange(1, 102))  # 1..101
    assert figures == {"count": 101, "mean": 51.0, "median": 51.0, "p90": 91.0, "p99": 100.0,
                       "max": 101}  # fmt: skip
    assert isinstance(figures["max"], int) and isinstance(figures["count"], int)


def test_summary_interpolates_and_is_json_ready():
    figures = stats.summary(pd.Series([4, 1, 3, 2], dtype="int64"))
    assert figures["median"] == 2.5 and figures["p90"] == pytest.approx(3.7)
    assert json.loads(json.dumps(figures)) == figures


def test_summary_of_nothing():
    assert stats.summary([]) == {
        "count": 0, "mean": None, "median": None, "p90": None, "p99": None, "max": None,
    }  # fmt: skip


# --- sessions ---------------------------------------------------------------------------------


def at(clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"2024-05-01 {clock}", tz="UTC")


def plays(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"listener": [who for who, _ in rows], "played_at": [at(when) for _, when in rows]}
    )


HAND_MADE = plays(
    ("a", "11:05"),  # out of order on purpose
    ("a", "10:00"),
    ("b", "09:00"),
    ("a", "10:10"),
    ("a", "11:00"),  # 50 minutes after 10:10: a new session
)


def test_sessions_on_hand_made_plays():
    # sessions: a 10:00-10:10 (2 plays, 10 min), a 11:00-11:05 (2 plays, 5 min), b (1, 0 min)
    figures = stats.sessions(HAND_MADE)
    assert figures["sessions"] == 3
    assert figures["listeners"] == 2
    assert figures["plays_per_session"] == {
        "count": 3, "mean": pytest.approx(5 / 3), "median": 2.0, "p90": 2.0, "p99": 2.0,
        "max": 2,
    }  # fmt: skip
    minutes = figures["minutes_per_session"]
    assert (minutes["mean"], minutes["median"], minutes["max"]) == (5.0, 5.0, 10)
    per_listener = figures["sessions_per_listener"]
    assert (per_listener["count"], per_listener["mean"], per_listener["max"]) == (2, 1.5, 2)
    assert figures["plays_per_session_histogram"] == [
        {"low": 1, "high": 2, "count": 1},
        {"low": 2, "high": 4, "count": 2},
    ]
    assert json.dumps(figures)


def test_sessions_gap_is_a_parameter_and_exactly_the_gap_continues():
    assert stats.sessions(HAND_MADE, gap_minutes=60)["sessions"] == 2
    assert stats.sessions(HAND_MADE, gap_minutes=50)["sessions"] == 2  # 50 is not > 50
    assert stats.sessions(HAND_MADE, gap_minutes=49.9)["sessions"] == 3


def test_sessions_ignore_untimed_plays_and_other_columns():
    frame = HAND_MADE.assign(song=1)
    frame.loc[len(frame)] = {"listener": "c", "played_at": pd.NaT, "song": 2}
    figures = stats.sessions(frame)
    assert (figures["sessions"], figures["listeners"]) == (3, 2)


def test_sessions_of_nothing():
    figures = stats.sessions(pd.DataFrame({"listener": [], "played_at": []}))
    assert figures["sessions"] == figures["listeners"] == 0
    assert figures["plays_per_session"]["count"] == 0
    assert figures["plays_per_session_histogram"] == []


# --- repeat_listening -------------------------------------------------------------------------


def test_repeat_listening_exact():
    # three pairs played once, one pair played four times: 7 plays, 3 of them repeats
    figures = stats.repeat_listening(pd.Series({1: 3, 4: 1}))
    assert figures == {
        "pairs": 4, "plays": 7, "repeat_ratio": pytest.approx(3 / 7),
        "pairs_played_once_share": 0.75,
    }  # fmt: skip
    assert json.dumps(figures)


def test_repeat_listening_reads_sql_decimals():
    histogram = pd.Series([3, 1], index=pd.Index([Decimal(1), Decimal(4)], dtype=object))
    assert stats.repeat_listening(histogram)["plays"] == 7


def test_repeat_listening_without_repeats_or_plays():
    assert stats.repeat_listening(pd.Series({1: 5}))["repeat_ratio"] == 0.0
    assert stats.repeat_listening(pd.Series(dtype="int64")) == {
        "pairs": 0, "plays": 0, "repeat_ratio": 0.0, "pairs_played_once_share": 0.0,
    }  # fmt: skip


# --- findings ---------------------------------------------------------------------------------

# Figures that cross no threshold: the report says nothing about them.
QUIET = {
    "size": {
        "listeners": 5_000, "songs": 2_000, "artists": 300, "listens": 100_000,
        "play_total": 150_000, "density": 0.02, "cold_listeners_share": 0.1,
        "cold_songs_share": 0.1, "first_played": None, "last_played": None,
        "timed_share": None,
    },
    "popularity": {
        "song_plays_top_share": {"top_1%": 0.1, "top_10%": 0.4, "top_20%": 0.6},
        "song_gini": 0.5, "artist_gini": 0.6, "top_songs_by_plays": [],
        "top_songs_by_listeners": [], "top_artists_by_plays": [],
        "top_artists_by_listeners": [], "top_lists_overlap": 0.8,
    },
    "distributions": {
        "plays_per_listener": stats.summary([10, 20, 30]),
        "listeners_per_song": stats.summary([1, 5, 9]),
        "repeat": {"pairs": 80, "plays": 100, "repeat_ratio": 0.2,
                   "pairs_played_once_share": 0.9},
    },
    "habits": {
        "hour_weekday": [[10] * 24 for _ in range(7)], "peak_hour": 0, "peak_weekday": 0,
        "monthly": [{"month": "2024-01", "plays": 100}, {"month": "2024-02", "plays": 120},
                    {"month": "2024-03", "plays": 110}],
        "sessions": {"plays_per_session": {"median": 3.0}, "minutes_per_session": {"median": 9.0}},
        "discovery_share": 0.3, "artist_diversity": {"median": 12.0},
    },
    "quality": {
        "flagged_listeners": 0, "songs_without_artist": 0, "songs_without_release_share": 0.1,
        "songs_without_year_share": 0.2, "songs_with_external_id_share": 0.9,
        "imports": [{"id": 1, "source_name": "a.csv", "format": "lastfm", "rows_read": 1_000,
                     "rows_loaded": 990, "rows_rejected": 10, "rules": {"divert_skips": 10}}],
    },
}  # fmt: skip


def figures_with(**changes) -> dict:
    """QUIET with changes given as "section__key__subkey"=value."""
    figures = copy.deepcopy(QUIET)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = figures
        for key in parents:
            node = node[key]
        node[last] = value
    return figures


def one(figures: dict, fragment: str) -> str:
    matches = [sentence for sentence in f.findings(figures) if fragment in sentence]
    assert len(matches) == 1, f.findings(figures)
    return matches[0]


def absent(figures: dict, fragment: str) -> bool:
    return not any(fragment in sentence for sentence in f.findings(figures))


def test_quiet_figures_give_no_findings():
    assert f.findings(QUIET) == []


@pytest.mark.parametrize(
    ("share", "text"), [(0.998, "99.8%"), (0.38, "38%"), (0.0023, "0.2%"), (0, "0%"),
                        (1, "100%"), (0.99996, "99.996%")],
)  # fmt: skip
def test_percent_keeps_enough_decimals(share, text):
    assert f.percent(share) == text


def test_popularity_concentration():
    figures = figures_with(
        popularity__song_plays_top_share={"top_1%": 0.38, "top_10%": 0.7, "top_20%": 0.8},
        popularity__song_gini=0.871,
    )
    sentence = one(figures, "popularity bias")
    assert sentence.startswith("The top 1% of songs take 38% of plays (Gini 0.87)")
    assert "popularity baseline" in sentence and "coverage" in sentence
    below = figures_with(**{"popularity__song_plays_top_share__top_1%": f.TOP1_SHARE_HIGH - 0.01})
    assert absent(below, "popularity bias")


def test_flat_popularity():
    figures = figures_with(**{"popularity__song_plays_top_share__top_20%": 0.35})
    assert "The top 20% of songs take only 35% of plays" in one(figures, "spread thin")
    assert absent(figures_with(**{"popularity__song_plays_top_share__top_20%": 0.45}), "thin")


def test_sparsity_and_density():
    sparse = one(figures_with(size__density=0.002), "empty")
    assert "99.8% empty" in sparse and "(5,000 listeners \u00d7 2,000 songs)" in sparse
    dense = one(figures_with(size__density=0.15), "full")
    assert "15% full" in dense
    assert absent(figures_with(size__density=0.01), "empty")
    assert absent(figures_with(size__density=0.049), "full")


def test_cold_start():
    both = one(
        figures_with(size__cold_listeners_share=0.41, size__cold_songs_share=0.63), "cold-start"
    )
    assert both.startswith("41% of listeners and 63% of songs have fewer than 5 interactions")
    songs = one(figures_with(size__cold_songs_share=0.25), "cold-start")
    assert songs.startswith("25% of songs have fewer than 5 interactions")
    assert absent(figures_with(size__cold_songs_share=0.19), "cold-start")


def test_repeat_listening_findings():
    high = figures_with(
        distributions__repeat__repeat_ratio=0.45, distributions__repeat__pairs_played_once_share=0.6
    )
    sentence = one(high, "confidence weighting (ALS)")
    assert sentence.startswith("45% of plays replay a song the listener already played")
    assert "(60% of listener\u2013song pairs are played once)" in sentence
    low = one(figures_with(distributions__repeat__repeat_ratio=0.03), "binary interactions")
    assert low.startswith("Only 3% of plays are repeats")
    assert absent(figures_with(distributions__repeat__repeat_ratio=0.29), "ALS")


def test_time_findings():
    none = one(figures_with(size__timed_share=0.0), "temporal")
    assert none == "No listen has a time: temporal splits are impossible; use a random holdout."
    timed = figures_with(
        size__timed_share=0.94,
        size__first_played="2019-01-03T10:00:00+00:00",
        size__last_played="2024-05-30T08:00:00+00:00",
    )
    sentence = one(timed, "temporal split")
    assert sentence.startswith("94% of listens have times (2019-01-03 to 2024-05-30)")
    partly = one(figures_with(size__timed_share=0.4), "temporal split")
    assert partly.startswith("Only 40% of listens have times") and "random holdout" in partly
    assert absent(QUIET, "temporal")


def test_plays_versus_listeners():
    song = {"id": 7, "title": "Loop", "artist": "Low", "plays": 5_000, "listeners": 3}
    other = {"id": 8, "title": "Hit", "artist": "Pop", "plays": 4_000, "listeners": 900}
    figures = figures_with(
        popularity__top_lists_overlap=0.3,
        popularity__top_songs_by_plays=[song, other],
        popularity__top_songs_by_listeners=[other],
    )
    sentence = one(figures, "ranking by distinct listeners differs")
    assert sentence.startswith("Only 30% of the top-10 songs by plays are also top-10")
    assert "(“Loop” by Low has 5,000 plays from 3 listeners)" in sentence
    assert absent(figures_with(popularity__top_lists_overlap=0.6), "ranking by distinct")


def test_small_data():
    assert "Only 150 listeners" in one(figures_with(size__listeners=150), "noisy")
    assert absent(figures_with(size__listeners=1_000), "noisy")


def test_habit_findings():
    matrix = [[10] * 24 for _ in range(7)]
    matrix[4][18] = 10 + 7 * 24 * 10  # Friday 18:00: the 18:00 column holds 7*10 + 1680
    figures = figures_with(
        habits__hour_weekday=matrix,
        habits__peak_hour=18,
        habits__peak_weekday=4,
        habits__sessions={
            "plays_per_session": {"median": 8.0},
            "minutes_per_session": {"median": 25.5},
        },
        habits__monthly=[
            {"month": "2024-01", "plays": 100},
            {"month": "2024-02", "plays": 420},
            {"month": "2024-03", "plays": 110},
        ],
        habits__artist_diversity={"median": 3.0},
    )
    # hourly total 70 everywhere but 18:00 (1750); mean (23*70 + 1750)/24 = 140 -> 12.5x
    assert one(figures, "peaks at").startswith(
        "Listening peaks at 18:00 UTC (12.5\u00d7 the hourly average) and on Fridays"
    )
    assert one(figures, "session").startswith("A median session holds 8 plays over 25.5 minutes")
    assert one(figures, "median month").startswith("2024-02 has 3.8\u00d7 the plays of the median")
    assert one(figures, "distinct artists").startswith(
        "A median listener plays only 3 distinct artists"
    )


def test_quality_findings():
    figures = figures_with(
        quality__flagged_listeners=3,
        quality__songs_without_artist=1,
        quality__songs_without_year_share=0.62,
        quality__songs_without_release_share=0.55,
        quality__songs_with_external_id_share=0.2,
        quality__imports=[
            {"rows_read": 20_000, "rows_rejected": 2_000, "rules": {"divert_skips": 1_500}},
            {"rows_read": 8_000, "rows_rejected": 1_400,
             "rules": {"divert_skips": 600, "drop_duplicate_scrobbles": 2_000}},
        ],
    )  # fmt: skip
    assert one(figures, "flagged").startswith("3 listeners are flagged")
    assert one(figures, "no artist").startswith("1 song has no artist")
    rejected = one(figures, "rejected")
    assert rejected.startswith("The imports rejected 12% of the rows read (3,400 of 28,000)")
    assert "the busiest cleaning rule is divert_skips (2,100 rows)" in rejected
    assert one(figures, "no year").startswith(
        "Of the songs, 62% have no year and 55% have no release"
    )
    assert one(figures, "external id").startswith("Only 20% of songs carry an external id")


def test_quality_below_thresholds():
    figures = figures_with(
        quality__imports=[{"rows_read": 1_000, "rows_rejected": 49, "rules": {}}],
        quality__songs_without_year_share=0.49,
        quality__songs_with_external_id_share=0.5,
    )
    assert f.findings(figures) == []


def test_artist_level_reports_speak_of_artists():
    figures = figures_with(size__density=0.002, size__artists=300, size__level="artist")
    sentence = one(figures, "empty")
    assert "The listener\u2013artist matrix (5,000 listeners \u00d7 300 artists)" in sentence


@pytest.mark.parametrize(
    "figures",
    [
        {},
        None,
        {"habits": None},
        {"size": None, "popularity": {"song_plays_top_share": None}, "habits": {"monthly": None}},
        {"size": {"density": "n/a", "timed_share": float("nan")}, "quality": {"imports": [None]}},
        {"habits": {"hour_weekday": [[1, 2]], "peak_hour": 1, "monthly": [{"month": "x"}]}},
    ],
)
def test_findings_survive_missing_or_odd_figures(figures):
    assert f.findings(figures) == []


def test_findings_without_habits_still_report_the_rest():
    figures = figures_with(size__timed_share=0.0, size__density=0.001)
    figures["habits"] = None
    assert len(f.findings(figures)) == 2


@pytest.mark.parametrize(("top10", "expected"), [(0.5, True), (0.44, False)])
def test_a_small_catalogues_concentration_is_read_from_its_top_tenth(top10, expected):
    figures = {
        "size": {"level": "song", "songs": 300},
        "popularity": {"song_plays_top_share": {"top_1%": 0.1, "top_10%": top10, "top_20%": 0.7}},
    }
    said = [s for s in f.findings(figures) if s.startswith("The top 10% of songs take")]
    assert bool(said) == expected
    if expected:
        assert "50% of plays" in said[0]
