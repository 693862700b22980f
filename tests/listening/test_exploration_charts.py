"""The exploration charts: valid, titled, small SVG documents, with or without data."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from listening.exploration import charts, stats

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 150_000

rng = np.random.default_rng(7)
PLAYS = rng.zipf(1.7, 3_000)
LORENZ_X, LORENZ_Y = stats.lorenz_curve(PLAYS)
MATRIX = rng.poisson(40, (7, 24)).tolist()
MONTHLY = [{"month": f"{2020 + i // 12}-{i % 12 + 1:02d}", "plays": 100 + 7 * i} for i in range(48)]
TOP = [{"label": f"Song {i}", "plays": 1_000 - 10 * i} for i in range(20)]
RULES = {"drop_duplicate_scrobbles": 1_200, "normalise_names": 54_000, "divert_skips": 0}

# (chart, arguments with data, arguments without data, title)
CASES = {
    "lorenz": (
        charts.lorenz_chart,
        (LORENZ_X, LORENZ_Y, stats.gini(PLAYS)),
        ([], [], 0.0),
        "Concentration of plays (Lorenz curve)",
    ),
    "log_log_histogram": (
        charts.log_log_histogram_chart,
        (stats.log_histogram(stats.histogram_of(pd.Series(PLAYS))), "Plays per listener", "plays"),
        (stats.log_histogram(pd.Series(dtype="int64")), "Plays per listener", "plays"),
        "Plays per listener",
    ),
    "top_items": (
        charts.top_items_chart,
        (TOP, "label", "plays", "Top songs by plays"),
        ([], "label", "plays", "Top songs by plays"),
        "Top songs by plays",
    ),
    "hour_weekday": (
        charts.hour_weekday_heatmap,
        (MATRIX,),
        ([],),
        "Plays by weekday and hour (UTC)",
    ),
    "monthly": (
        charts.monthly_activity_chart,
        (MONTHLY,),
        ([],),
        "Plays per month",
    ),
    "rules": (
        charts.rules_chart,
        (RULES,),
        ({},),
        "Rows dropped or touched per cleaning rule",
    ),
}


def parse(svg: str) -> ET.Element:
    assert isinstance(svg, str)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    return root


def text_of(root: ET.Element) -> str:
    return " ".join(root.itertext())


@pytest.mark.parametrize("name", CASES)
def test_chart_is_a_small_titled_svg(name):
    chart, arguments, _, title = CASES[name]
    svg = chart(*arguments)
    root = parse(svg)
    assert title in text_of(root)
    assert "No data" not in text_of(root)
    assert len(svg.encode()) < MAX_BYTES
    # text stays text (svg.fonttype "none"), so there are no glyph outlines to embed
    assert root.find(".//{http://www.w3.org/2000/svg}text") is not None


@pytest.mark.parametrize("name", CASES)
def test_chart_without_data_says_so(name):
    chart, _, arguments, title = CASES[name]
    root = parse(chart(*arguments))
    assert title in text_of(root)
    assert "No data" in text_of(root)


@pytest.mark.parametrize("name", CASES)
def test_chart_is_about_640_by_360_px(name):
    chart, arguments, _, _ = CASES[name]
    root = parse(chart(*arguments))
    # SVG sizes are in points (72 per inch); a browser draws 96 px per inch
    width, height = (
        float(root.get(side).removesuffix("pt")) * 96 / 72 for side in ("width", "height")
    )
    assert (round(width), round(height)) == (640, 360)


SVG = "{http://www.w3.org/2000/svg}"
KINDS = ("Bar chart of ", "Horizontal bar chart of ", "Line chart ", "Heat map of ")


def description(root: ET.Element) -> str:
    """The chart's text alternative: its aria-label, which its <title> repeats."""
    assert root.get("role") == "img"
    label = root.get("aria-label")
    assert label and root.find(f"{SVG}title").text == label
    return label


@pytest.mark.parametrize("name", CASES)
def test_chart_is_named_by_a_description_of_what_it_shows(name):
    chart, arguments, empty, title = CASES[name]
    said = description(parse(chart(*arguments)))
    said_empty = description(parse(chart(*empty)))

    # What kind of chart, of what, then what the data says: a sentence, not a title or a key.
    assert said.startswith(KINDS) and said.endswith(".") and ": " in said
    assert len(said.split()) >= 15 and title not in said, said
    assert said_empty.split()[:4] == said.split()[:4] and ": no data" in said_empty


def test_descriptions_say_what_the_data_shows():
    histogram = stats.log_histogram(stats.histogram_of(pd.Series(PLAYS)))
    plays = description(
        parse(
            charts.log_log_histogram_chart(
                histogram, "Plays per listener", "plays", counted="listeners"
            )
        )
    )
    assert plays.startswith("Bar chart of plays per listener, on log-log axes")
    assert "most listeners have few plays and a few have very many" in plays
    median = int(np.median(PLAYS))
    assert f"half of the listeners have under {2 ** int(np.log2(median) + 1)} plays" in plays
    top = description(parse(charts.top_items_chart(TOP, "label", "plays", "Top songs by plays")))
    assert top.endswith("Song 0 with 1,000 plays, then Song 1 (990) and Song 2 (980).")
    lorenz = description(parse(charts.lorenz_chart([0, 0.9, 1], [0, 0.4, 1], 0.5)))
    assert "Gini 0.50; the most played 10% of songs take 60% of the plays." in lorenz
    matrix = [[0] * 24 for _ in range(7)]
    matrix[4][21], matrix[0][9], matrix[1][9] = 50, 30, 30
    heat = description(parse(charts.hour_weekday_heatmap(matrix)))
    assert heat.endswith(
        "Friday 21:00 (50 plays); Friday is the busiest day and 09:00 the busiest hour."
    )
    monthly = description(parse(charts.monthly_activity_chart(MONTHLY)))
    assert monthly.endswith(
        "January 2020 to December 2023: most in December 2023 (429 plays), "
        "fewest in January 2020 (100)."
    )
    rules = description(parse(charts.rules_chart(RULES)))
    assert rules.endswith(
        "2 rules, largest first: normalise_names with 54,000 rows, "
        "then drop_duplicate_scrobbles (1,200)."
    )


def test_a_description_keeps_odd_names_as_text():
    name = 'A "quoted" <b>name</b> & co'
    root = parse(charts.top_items_chart([{"n": name, "plays": 1}], "n", "plays", "Top artists"))
    assert description(root).endswith(f"{name} with 1 play.")


def test_same_data_gives_the_same_svg():
    assert charts.monthly_activity_chart(MONTHLY) == charts.monthly_activity_chart(MONTHLY)


def test_lorenz_chart_prints_the_gini_coefficient():
    assert "Gini 0.75" in text_of(parse(charts.lorenz_chart([0, 1], [0, 1], 0.7512)))


def test_top_items_shows_the_top_15_largest_first_with_odd_names_intact():
    items = [{"name": f"Artist {i}", "plays": i} for i in range(1, 21)]
    items.append({"name": "A$AP Rocky & <Friends> $x$", "plays": 100})
    text = text_of(parse(charts.top_items_chart(items, "name", "plays", "Top artists")))
    assert "A$AP Rocky & <Friends> $x$" in text  # escaped for XML, not read as mathtext
    assert "Artist 20" in text and "Artist 7" in text
    assert "Artist 6" not in text.split()  # the 16th and below are left out
    assert text.index("A$AP") < text.index("Artist 20") < text.index("Artist 19")


def test_top_items_shortens_long_labels():
    label = "A very long song title that goes on and on and on, forever"
    text = text_of(parse(charts.top_items_chart([{"t": label, "v": 3}], "t", "v", "Top")))
    assert label not in text and label[:39] + "\u2026" in text


def test_rules_chart_lists_only_rules_that_touched_rows():
    text = text_of(parse(charts.rules_chart(RULES)))
    assert "normalise_names" in text and "drop_duplicate_scrobbles" in text
    assert "divert_skips" not in text
    assert "54,000" in text


@pytest.mark.parametrize(
    "matrix",
    [[[0] * 24 for _ in range(7)], [[1, 2, 3]], None],
    ids=["all zero", "wrong shape", "none"],
)
def test_heatmap_without_usable_data(matrix):
    assert "No data" in text_of(parse(charts.hour_weekday_heatmap(matrix)))


def test_heatmap_labels_weekdays_monday_first():
    text = text_of(parse(charts.hour_weekday_heatmap(MATRIX)))
    assert text.index("Mon") < text.index("Sun")
    assert "plays" in text


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("months", [1, 3, 12, 13, 30, 36, 37, 48, 100, 240, 400])
def test_monthly_chart_from_one_month_to_decades(months):
    rows = [{"month": f"{2000 + i // 12}-{i % 12 + 1:02d}", "plays": i + 1} for i in range(months)]
    svg = charts.monthly_activity_chart(rows)
    assert "No data" not in text_of(parse(svg))
    assert len(svg.encode()) < MAX_BYTES


def test_monthly_chart_skips_malformed_rows():
    rows = [{"month": "not a month", "plays": 3}, {"month": "2024-05", "plays": None}]
    assert "No data" in text_of(parse(charts.monthly_activity_chart(rows)))


def test_log_log_histogram_from_no_records():
    # pd.DataFrame([]) has no columns at all: the report builds frames from stored records
    svg = charts.log_log_histogram_chart(pd.DataFrame([]), "Plays per listener", "plays")
    assert "No data" in text_of(parse(svg))


def test_log_log_histogram_with_a_single_bin():
    hist = pd.DataFrame({"low": [1], "high": [2], "count": [5]})
    assert "No data" not in text_of(parse(charts.log_log_histogram_chart(hist, "One", "x")))


def test_charts_do_not_import_pyplot():
    code = (
        "import sys; import listening.exploration.charts as c; c.rules_chart({'a': 1}); "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
