"""Build the exploration report: SQL aggregates in, figures, charts and findings out."""

import numpy as np
import pandas as pd

from listening import services
from listening.models import DataSnapshot, ExplorationReport
from musicsite.jobs import job_run

from . import charts, queries, stats
from .findings import findings

TOP_N = 20


def _share(numerator: float, denominator: float) -> float:
    return float(numerator) / denominator if denominator else 0.0


def _top(frame: pd.DataFrame, by: str, n: int = TOP_N) -> pd.DataFrame:
    return frame.sort_values([by, "plays" if by != "plays" else "listeners"], ascending=False).head(
        n
    )


def _song_rows(frame: pd.DataFrame, level: str) -> list[dict]:
    if level == "song":
        details = queries.song_details(frame["item_id"].tolist())
        return [
            {
                "id": int(row.item_id),
                **details.get(int(row.item_id), {"title": "", "artist": ""}),
                "plays": int(row.plays),
                "listeners": int(row.listeners),
            }
            for row in frame.itertuples()
        ]
    return []


def _artist_rows(frame: pd.DataFrame) -> list[dict]:
    names = queries.artist_names(frame["artist_id"].tolist())
    return [
        {
            "id": int(row.artist_id),
            "name": names.get(int(row.artist_id), ""),
            "plays": int(row.plays),
            "listeners": int(row.listeners),
        }
        for row in frame.itertuples()
    ]


def compute_figures(snapshot, *, seed: int = 0) -> dict:
    """Every figure of the report, JSON-ready (docs: the EDA section of the README), of
    the listens in `snapshot` (up to its last listen) only."""
    rng = np.random.default_rng(seed)
    last = snapshot.last_listen_id or 0
    level = queries.item_level(last)
    with queries.pair_tables(level, last):
        per = queries.per_entity()
    pairs = int(per.listeners["items"].sum())
    n_listeners, n_items = len(per.listeners), len(per.items)
    timed_plays = per.timed_plays

    size = {
        "level": level,
        "listeners": snapshot.listeners,
        "songs": snapshot.songs,
        "artists": snapshot.artists,
        "listens": snapshot.listens,
        "play_total": snapshot.play_total,
        "pairs": pairs,
        "density": _share(pairs, n_listeners * n_items),
        "cold_listeners_share": _share(
            (per.listeners["items"] < queries.COLD_START_INTERACTIONS).sum(), n_listeners
        ),
        "cold_songs_share": _share(
            (per.items["listeners"] < queries.COLD_START_INTERACTIONS).sum(), n_items
        ),
        "first_played": None,
        "last_played": None,
        "timed_share": _share(timed_plays, snapshot.listens),
    }

    top_by_plays = _top(per.items, "plays")
    top_by_listeners = _top(per.items, "listeners")
    ten_by_plays, ten_by_listeners = (
        set(top_by_plays.head(10)["item_id"]),
        set(top_by_listeners.head(10)["item_id"]),
    )
    song_plays = per.items["plays"].to_numpy(dtype=float)
    lorenz_x, lorenz_y = stats.lorenz_curve(song_plays)
    popularity = {
        "song_plays_top_share": stats.top_share(song_plays),
        "song_gini": stats.gini(song_plays),
        "artist_gini": stats.gini(per.artists["plays"].to_numpy(dtype=float)),
        "lorenz": {"x": lorenz_x.round(4).tolist(), "y": lorenz_y.round(4).tolist()},
        "top_songs_by_plays": _song_rows(top_by_plays, level),
        "top_songs_by_listeners": _song_rows(top_by_listeners, level),
        "top_artists_by_plays": _artist_rows(_top(per.artists, "plays")),
        "top_artists_by_listeners": _artist_rows(_top(per.artists, "listeners")),
        "top_lists_overlap": _share(len(ten_by_plays & ten_by_listeners), len(ten_by_plays)),
    }

    pair_histogram = per.pair_histogram
    distributions = {
        "plays_per_listener": stats.summary(per.listeners["plays"]),
        "listeners_per_song": stats.summary(per.items["listeners"]),
        "plays_per_listener_histogram": _records(
            stats.log_histogram(stats.histogram_of(per.listeners["plays"]))
        ),
        "listeners_per_song_histogram": _records(
            stats.log_histogram(stats.histogram_of(per.items["listeners"]))
        ),
        "plays_per_pair_histogram": _records(stats.log_histogram(pair_histogram)),
        "repeat": stats.repeat_listening(pair_histogram),
    }

    habits = None
    if timed_plays:
        matrix = queries.hour_weekday(last)
        array = np.array(matrix)
        monthly = queries.monthly_plays(last)
        timed_listeners = per.listeners.loc[per.listeners["timed_items"] > 0, "listener_id"]
        sample = queries.timed_plays_sample(timed_listeners.to_numpy(), rng, last)
        timed_pairs = int(per.listeners["timed_items"].sum())
        habits = {
            "hour_weekday": matrix,
            "peak_hour": int(array.sum(axis=0).argmax()),
            "peak_weekday": int(array.sum(axis=1).argmax()),
            "monthly": monthly,
            "sessions": stats.sessions(sample),
            "session_sample_listeners": int(sample["listener"].nunique()),
            "discovery_share": _share(timed_pairs, timed_plays),
            "artist_diversity": stats.summary(per.listeners["artists"]),
        }
        if monthly:
            size["first_played"], size["last_played"] = monthly[0]["month"], monthly[-1]["month"]

    return {
        "size": size,
        "popularity": popularity,
        "distributions": distributions,
        "habits": habits,
        "quality": queries.quality(),
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}
        for row in frame.to_dict("records")
    ]


def draw_charts(figures: dict) -> dict[str, str]:
    """Chart name: SVG document, each SVG named by a description of what it shows."""
    popularity, distributions = figures["popularity"], figures["distributions"]
    items = f"{figures['size']['level']}s"
    drawn = {
        "lorenz": charts.lorenz_chart(
            np.array(popularity["lorenz"]["x"]),
            np.array(popularity["lorenz"]["y"]),
            popularity["song_gini"],
            items=items,
        ),
        "top_artists": charts.top_items_chart(
            popularity["top_artists_by_plays"], "name", "plays", "Top artists by plays"
        ),
        "plays_per_listener": charts.log_log_histogram_chart(
            pd.DataFrame(distributions["plays_per_listener_histogram"]),
            "Plays per listener",
            "plays",
            counted="listeners",
        ),
        "listeners_per_song": charts.log_log_histogram_chart(
            pd.DataFrame(distributions["listeners_per_song_histogram"]),
            f"Listeners per {figures['size']['level']}",
            "listeners",
            counted=items,
        ),
        "plays_per_pair": charts.log_log_histogram_chart(
            pd.DataFrame(distributions["plays_per_pair_histogram"]),
            "Plays per listener and item",
            "plays",
            counted="listener-item pairs",
        ),
    }
    if popularity["top_songs_by_plays"]:
        drawn["top_songs"] = charts.top_items_chart(
            popularity["top_songs_by_plays"], "title", "plays", "Top songs by plays"
        )
    if figures["habits"]:
        drawn["hour_weekday"] = charts.hour_weekday_heatmap(figures["habits"]["hour_weekday"])
        drawn["monthly"] = charts.monthly_activity_chart(figures["habits"]["monthly"])
    rules: dict[str, int] = {}
    for batch in figures["quality"]["imports"]:
        for name, rows in batch["rules"].items():
            rules[name] = rules.get(name, 0) + rows
    drawn["cleaning_rules"] = charts.rules_chart(rules)
    return drawn


def exploration_report_run(*, report_id: int) -> ExplorationReport:
    """Compute a report in this process: `exploration_report_compute` in the job lifecycle."""
    return job_run(ExplorationReport, report_id, exploration_report_compute)


def exploration_report_compute(report: ExplorationReport) -> None:
    """Measure the data of the report's snapshot (taken now if it has none) and write the
    figures, charts and findings onto its running row."""
    if report.snapshot is None:
        report.snapshot = services.data_snapshot_create()
    figures = compute_figures(report.snapshot, seed=report.pk)
    report.figures = figures
    report.findings = findings(figures)
    report.charts = draw_charts(figures)
    report.save(update_fields=["snapshot", "figures", "findings", "charts"])


def exploration_report_create(
    *, snapshot: DataSnapshot | None = None, created_by=None
) -> ExplorationReport:
    """Record a report to compute: of `snapshot` (a pipeline's), or of the data when it runs."""
    return ExplorationReport.objects.create(snapshot=snapshot, created_by=created_by)
