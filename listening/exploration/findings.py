"""Findings: short sentences written from the report's figures (no Django).

Each finding has a threshold (the constants below); its sentence appears only when the
figure crosses it, and every number in it comes from the figures. A missing section, key or
value (e.g. `habits` None when no listen has a time) skips the findings that need it.
Thresholds are inclusive (>=) for "high" and strict (<) for "low".
"""

import math
from collections.abc import Mapping
from typing import Any

# Popularity: the top 1% of items holding this share of plays is a strong head.
TOP1_SHARE_HIGH = 0.20
# ...or the top 10% holding at least this (small catalogues, where 1% is a handful of songs).
TOP10_SHARE_HIGH = 0.45
# ...and the top 20% holding less than this is a flat catalogue (weak popularity baseline).
TOP20_SHARE_LOW = 0.40
# Sparsity: density (observed pairs / listeners x items) below this is "mostly empty"...
SPARSE_DENSITY = 0.01
# ...and at or above this the matrix is dense for implicit feedback.
DENSE_DENSITY = 0.05
# Cold start: the interactions under which a listener or item counts as cold (the lead's
# queries.COLD_START_INTERACTIONS; figures["size"]["cold_interactions"] overrides it)...
COLD_START_INTERACTIONS = 5
# ...and the share of cold listeners or items that makes fallbacks matter.
COLD_SHARE_HIGH = 0.20
# Repeat listening: share of plays that replay a known song (1 - pairs / plays).
REPEAT_RATIO_HIGH = 0.30
REPEAT_RATIO_LOW = 0.05
# Time: share of listens with a time needed for a temporal split of the whole data.
TIMED_SPLIT_SHARE = 0.90
# Plays vs listeners: share of the top-10 by plays also in the top-10 by distinct listeners.
TOP_LISTS_OVERLAP_LOW = 0.60
# Size: fewer listeners than this makes evaluation figures noisy.
SMALL_LISTENERS = 1_000
# Habits: a median session of at least this many plays has sequence structure.
SESSION_PLAYS_MEDIAN_HIGH = 5
# Habits: the peak hour's plays over the average hour's plays.
PEAK_HOUR_RATIO = 1.5
# Habits: the busiest month's plays over the median month's (a spike or a backfill).
MONTHLY_SPIKE_RATIO = 3.0
# Habits: a median listener with fewer distinct artists than this has narrow tastes.
ARTIST_DIVERSITY_LOW = 5
# Quality: any flagged listener, any song without an artist is worth a sentence.
FLAGGED_LISTENERS_MIN = 1
SONGS_WITHOUT_ARTIST_MIN = 1
# Quality: share of the rows read that the imports rejected.
REJECTED_SHARE_HIGH = 0.05
# Quality: share of songs missing a year or a release that makes the field unreliable.
MISSING_METADATA_SHARE = 0.50
# Quality: share of songs with an external id under which matching is by name alone.
EXTERNAL_ID_SHARE_LOW = 0.50

# Typography for the sentences (escaped: ruff flags the literal characters as confusable).
DASH = "\u2013"  # en dash, as in "listener-song"
TIMES = "\u00d7"  # multiplication sign, as in "2.5x"

WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def _get(figures: Any, *keys: str) -> Any:
    """figures[k1][k2]..., or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(figures, Mapping):
            return None
        figures = figures.get(key)
    return figures


def _num(value: Any) -> float | None:
    """A finite number (int, float, Decimal, numpy scalar) as a float, else None."""
    if value is None or isinstance(value, bool | str | bytes):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def percent(share: float) -> str:
    """A share as a percentage with as few decimals as keep it off a misleading 0% or 100%."""
    value = share * 100
    for digits in range(4):
        rounded = round(value, digits)
        if 0 < rounded < 100 or value in (0, 100):
            return f"{rounded:.{digits}f}%"
    return f"{value:.3f}%"


def count(value: float) -> str:
    """A whole number with thousands separators: 12,345."""
    return f"{round(value):,}"


def _decimal(value: float) -> str:
    """A small number with one decimal where it has one: 8, 2.5."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _noun(figures: Mapping) -> str:
    """The items' name: "artists" when size.level (or level) is "artist", else "songs"."""
    level = _get(figures, "size", "level") or _get(figures, "level")
    return "artists" if level == "artist" else "songs"


def _size(figures: Mapping) -> list[str]:
    listeners = _num(_get(figures, "size", "listeners"))
    if listeners is None or listeners <= 0 or listeners >= SMALL_LISTENERS:
        return []
    return [
        f"Only {count(listeners)} listeners: evaluation figures will be noisy; "
        "repeat the split with several seeds and report the spread."
    ]


def _sparsity(figures: Mapping) -> list[str]:
    density = _num(_get(figures, "size", "density"))
    if density is None or density <= 0:
        return []
    noun = _noun(figures)
    shape = ""
    listeners = _num(_get(figures, "size", "listeners"))
    items = _num(_get(figures, "size", noun))
    if listeners and items:
        shape = f" ({count(listeners)} listeners {TIMES} {count(items)} {noun})"
    if density < SPARSE_DENSITY:
        return [
            f"The listener{DASH}{noun[:-1]} matrix{shape} is {percent(1 - density)} empty: "
            "models must generalise from very few observed pairs per listener; prefer "
            "regularised matrix factorisation or item neighbours over dense methods."
        ]
    if density >= DENSE_DENSITY:
        return [
            f"The listener{DASH}{noun[:-1]} matrix{shape} is {percent(density)} full, dense for "
            "implicit feedback: neighbourhood models are cheap and strong here; "
            "use them as a baseline."
        ]
    return []


def _popularity(figures: Mapping) -> list[str]:
    noun = _noun(figures)
    found = []
    top1 = _num(_get(figures, "popularity", "song_plays_top_share", "top_1%"))
    top10 = _num(_get(figures, "popularity", "song_plays_top_share", "top_10%"))
    top20 = _num(_get(figures, "popularity", "song_plays_top_share", "top_20%"))
    gini = _num(_get(figures, "popularity", "song_gini"))
    if top1 is not None and top1 >= TOP1_SHARE_HIGH:
        detail = f" (Gini {gini:.2f})" if gini is not None else ""
        found.append(
            f"The top 1% of {noun} take {percent(top1)} of plays{detail}: popularity bias will "
            "dominate a naive model; compare every model against the popularity baseline "
            "and watch coverage."
        )
    elif top10 is not None and top10 >= TOP10_SHARE_HIGH:
        detail = f" (Gini {gini:.2f})" if gini is not None else ""
        found.append(
            f"The top 10% of {noun} take {percent(top10)} of plays{detail}: popularity bias "
            "will dominate a naive model; compare every model against the popularity baseline "
            "and watch coverage."
        )
    elif top20 is not None and 0 < top20 < TOP20_SHARE_LOW:
        found.append(
            f"The top 20% of {noun} take only {percent(top20)} of plays: popularity is spread "
            "thin, so the popularity baseline will be weak and personalisation has room to help."
        )
    return found


def _replayed_example(figures: Mapping) -> str:
    """The top-by-plays song outside the top-by-listeners list with the most plays per listener."""
    by_plays = _get(figures, "popularity", "top_songs_by_plays")
    by_listeners = _get(figures, "popularity", "top_songs_by_listeners")
    if not isinstance(by_plays, list) or not isinstance(by_listeners, list):
        return ""
    known = {row.get("id") for row in by_listeners[:10] if isinstance(row, Mapping)}
    best, best_ratio = None, 0.0
    for row in by_plays[:10]:
        if not isinstance(row, Mapping) or row.get("id") in known:
            continue
        plays, listeners = _num(row.get("plays")), _num(row.get("listeners"))
        if plays and listeners and plays / listeners > best_ratio:
            best, best_ratio = row, plays / listeners
    if best is None:
        return ""
    name = f"“{best.get('title') or best.get('name') or best.get('id')}”"
    if best.get("artist"):
        name += f" by {best['artist']}"
    return (
        f" ({name} has {count(_num(best['plays']))} plays from "
        f"{count(_num(best['listeners']))} listeners)"
    )


def _plays_vs_listeners(figures: Mapping) -> list[str]:
    overlap = _num(_get(figures, "popularity", "top_lists_overlap"))
    if overlap is None or overlap >= TOP_LISTS_OVERLAP_LOW:
        return []
    noun = _noun(figures)
    return [
        f"Only {percent(overlap)} of the top-10 {noun} by plays are also top-10 by distinct "
        f"listeners{_replayed_example(figures)}: a few listeners replay some {noun} heavily, so "
        "ranking by distinct listeners differs from ranking by plays; dampen play counts "
        "(e.g. log scaling) before training."
    ]


def _cold_start(figures: Mapping) -> list[str]:
    noun = _noun(figures)
    threshold = _num(_get(figures, "size", "cold_interactions")) or COLD_START_INTERACTIONS
    parts = []
    listeners = _num(_get(figures, "size", "cold_listeners_share"))
    items = _num(_get(figures, "size", "cold_songs_share"))
    if listeners is not None and listeners >= COLD_SHARE_HIGH:
        parts.append(f"{percent(listeners)} of listeners")
    if items is not None and items >= COLD_SHARE_HIGH:
        parts.append(f"{percent(items)} of {noun}")
    if not parts:
        return []
    return [
        f"{' and '.join(parts)} have fewer than {count(threshold)} interactions: cold-start "
        "fallbacks will matter (popularity for new listeners, artist or content links for "
        f"new {noun}); evaluate them separately."
    ]


def _repeats(figures: Mapping) -> list[str]:
    ratio = _num(_get(figures, "distributions", "repeat", "repeat_ratio"))
    if ratio is None:
        return []
    noun = _noun(figures)
    if ratio >= REPEAT_RATIO_HIGH:
        once = _num(_get(figures, "distributions", "repeat", "pairs_played_once_share"))
        detail = f" ({percent(once)} of listener{DASH}{noun[:-1]} pairs are played once)"
        return [
            f"{percent(ratio)} of plays replay a {noun[:-1]} the listener already played"
            f"{detail if once is not None else ''}: play counts carry signal; use confidence "
            "weighting (ALS) rather than binary interactions."
        ]
    plays = _num(_get(figures, "distributions", "repeat", "plays"))
    if ratio < REPEAT_RATIO_LOW and plays:
        return [
            f"Only {percent(ratio)} of plays are repeats: play counts add little beyond "
            "“listened”; binary interactions lose almost nothing."
        ]
    return []


def _time(figures: Mapping) -> list[str]:
    timed = _num(_get(figures, "size", "timed_share"))
    if timed is None:
        return []
    if timed == 0:
        return ["No listen has a time: temporal splits are impossible; use a random holdout."]
    first, last = _get(figures, "size", "first_played"), _get(figures, "size", "last_played")
    span = f" ({str(first)[:10]} to {str(last)[:10]})" if first and last else ""
    if timed >= TIMED_SPLIT_SHARE:
        return [
            f"{percent(timed)} of listens have times{span}: evaluate with a temporal split "
            "(train on the past, test on the latest listens)."
        ]
    return [
        f"Only {percent(timed)} of listens have times{span}: a temporal split would cover only "
        "part of the data; use a random holdout, or a temporal split over the timed listens alone."
    ]


def _sessions(habits: Mapping) -> list[str]:
    plays = _num(_get(habits, "sessions", "plays_per_session", "median"))
    if plays is None or plays < SESSION_PLAYS_MEDIAN_HIGH:
        return []
    minutes = _num(_get(habits, "sessions", "minutes_per_session", "median"))
    duration = f" over {_decimal(minutes)} minutes" if minutes is not None else ""
    return [
        f"A median session holds {_decimal(plays)} plays{duration}: listening has sequence "
        "structure that session-aware models could use."
    ]


def _peak(habits: Mapping) -> list[str]:
    matrix = _get(habits, "hour_weekday")
    hour = _num(_get(habits, "peak_hour"))
    if not isinstance(matrix, list) or hour is None:
        return []
    try:
        by_hour = [sum(_num(row[h]) or 0 for row in matrix) for h in range(24)]
    except (IndexError, TypeError, KeyError):
        return []
    mean = sum(by_hour) / 24
    if mean <= 0 or not 0 <= hour < 24:
        return []
    ratio = by_hour[int(hour)] / mean
    if ratio < PEAK_HOUR_RATIO:
        return []
    weekday = _num(_get(habits, "peak_weekday"))
    day = f" and on {WEEKDAYS[int(weekday)]}" if weekday is not None and 0 <= weekday < 7 else ""
    return [
        f"Listening peaks at {int(hour):02d}:00 UTC ({ratio:.1f}{TIMES} the hourly average){day}: "
        "schedule retraining and batch scoring away from the peak."
    ]


def _monthly(habits: Mapping) -> list[str]:
    monthly = _get(habits, "monthly")
    if not isinstance(monthly, list):
        return []
    rows = [
        (str(row.get("month")), _num(row.get("plays")))
        for row in monthly
        if isinstance(row, Mapping) and _num(row.get("plays")) is not None
    ]
    if len(rows) < 3:
        return []
    plays = sorted(value for _, value in rows)
    middle = len(plays) // 2
    median = plays[middle] if len(plays) % 2 else (plays[middle - 1] + plays[middle]) / 2
    month, busiest = max(rows, key=lambda row: row[1])
    if median <= 0 or busiest / median < MONTHLY_SPIKE_RATIO:
        return []
    return [
        f"{month} has {busiest / median:.1f}{TIMES} the plays of the median month: a spike "
        "(a backfilled import or a bot?) that a temporal split would place wholly on one side; "
        "check it before choosing the cut-off."
    ]


def _diversity(habits: Mapping) -> list[str]:
    median = _num(_get(habits, "artist_diversity", "median"))
    if median is None or median <= 0 or median >= ARTIST_DIVERSITY_LOW:
        return []
    return [
        f"A median listener plays only {_decimal(median)} distinct artists: tastes are narrow; "
        "same-artist suggestions make a strong baseline, and watch that models do not "
        "collapse onto one artist."
    ]


def _habits(figures: Mapping) -> list[str]:
    habits = _get(figures, "habits")
    if not isinstance(habits, Mapping):
        return []
    return _sessions(habits) + _peak(habits) + _monthly(habits) + _diversity(habits)


def _imports(figures: Mapping) -> list[str]:
    imports = _get(figures, "quality", "imports")
    if not isinstance(imports, list):
        return []
    read = rejected = 0.0
    rules: dict[str, float] = {}
    for batch in imports:
        if not isinstance(batch, Mapping):
            continue
        read += _num(batch.get("rows_read")) or 0
        rejected += _num(batch.get("rows_rejected")) or 0
        for rule, rows in (batch.get("rules") or {}).items():
            rules[rule] = rules.get(rule, 0) + (_num(rows) or 0)
    if read <= 0 or rejected / read < REJECTED_SHARE_HIGH:
        return []
    busiest = ""
    if rules:
        rule, rows = max(rules.items(), key=lambda item: item[1])
        busiest = f"; the busiest cleaning rule is {rule} ({count(rows)} rows)"
    return [
        f"The imports rejected {percent(rejected / read)} of the rows read "
        f"({count(rejected)} of {count(read)}){busiest}: read the cleaning report before "
        "trusting the counts."
    ]


def _quality(figures: Mapping) -> list[str]:
    found = []
    flagged = _num(_get(figures, "quality", "flagged_listeners"))
    if flagged is not None and flagged >= FLAGGED_LISTENERS_MIN:
        listeners = "listener is" if flagged == 1 else "listeners are"
        found.append(
            f"{count(flagged)} {listeners} flagged (bots or shared accounts): keep them out of "
            "training and evaluation."
        )
    orphans = _num(_get(figures, "quality", "songs_without_artist"))
    if orphans is not None and orphans >= SONGS_WITHOUT_ARTIST_MIN:
        songs = "song has" if orphans == 1 else "songs have"
        found.append(
            f"{count(orphans)} {songs} no artist: artist-level figures and artist features "
            "leave them out."
        )
    found += _imports(figures)
    missing = []
    for key, field in (
        ("songs_without_year_share", "year"),
        ("songs_without_release_share", "release"),
    ):
        share = _num(_get(figures, "quality", key))
        if share is not None and share >= MISSING_METADATA_SHARE:
            missing.append(f"{percent(share)} have no {field}")
    if missing:
        found.append(
            f"Of the songs, {' and '.join(missing)}: features built on those fields will be "
            "mostly missing; leave them out or model the gap explicitly."
        )
    external = _num(_get(figures, "quality", "songs_with_external_id_share"))
    if external is not None and external < EXTERNAL_ID_SHARE_LOW:
        found.append(
            f"Only {percent(external)} of songs carry an external id: songs from different "
            "sources are matched by name alone, so expect some duplicates."
        )
    return found


def findings(figures: dict) -> list[str]:
    """The report's findings, most consequential for modelling first.

    Covers size, sparsity, popularity concentration, plays-vs-listeners disagreement, cold
    start, repeat listening, timed data, listening habits and data quality; each sentence
    appears only when its figure crosses its threshold (the module's constants).
    """
    if not isinstance(figures, Mapping):
        return []
    return (
        _popularity(figures)
        + _sparsity(figures)
        + _cold_start(figures)
        + _repeats(figures)
        + _time(figures)
        + _plays_vs_listeners(figures)
        + _size(figures)
        + _habits(figures)
        + _quality(figures)
    )
