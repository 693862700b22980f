"""The cleaning report: rows read and loaded, and for every rule what it touched, with examples."""

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

EXAMPLES_PER_RULE = 3
EXAMPLE_COLUMNS = ("line", "listener", "artist", "title", "release", "played_at", "play_count")

# Every rule, in the order it runs, with what it does to the rows it touches.
RULES: dict[str, str] = {
    "not_music": "podcast episodes and audiobooks: dropped",
    "missing_identity": "no listener, or no song or artist to tie the play to: dropped",
    "names_normalised": "names put in Unicode NFC with whitespace tidied: kept",
    "bad_play_count": "play count missing, not a whole number, or not positive: dropped",
    "implausible_play_count": "play count above the robust threshold: dropped",
    # {earliest_play}: the import's own window (CleaningConfig.earliest_play), filled in below.
    "time_out_of_range": "played in the future or before {earliest_play}: dropped",
    "skip": "played under 30 s: stored as a skip, not a listen",
    "exact_duplicate": "the same row again: dropped",
    "duplicate_scrobble": "the same song by the same listener within seconds: dropped",
    "missing_metadata": "no release or no year: kept as unknown",
    "bot_listener": "rows of listeners with more plays in a day than a day has minutes: "
    "kept, listener flagged and left out of training",
    "counts_merged": "counts for one listener and one song or artist that the file spells "
    "two ways: summed into one listen",
    "already_imported": "already in the database: not added again",
}
# The rules whose rows are dropped (and kept in the rejected-rows file), not kept or diverted.
DROPPING_RULES = (
    "not_music",
    "missing_identity",
    "bad_play_count",
    "implausible_play_count",
    "time_out_of_range",
    "exact_duplicate",
    "duplicate_scrobble",
)
# One rule dropping more than this share of the rows read is said loudly (docs/cleaning.md).
MOST_ROWS = 0.5
DEFAULT_EARLIEST_PLAY = "2002-01-01"


def rule_description(name: str, earliest_play: str | None = None) -> str:
    return RULES.get(name, "").replace("{earliest_play}", earliest_play or DEFAULT_EARLIEST_PLAY)


def _plain(value: Any) -> Any:
    """A JSON-ready form of one cell."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def example_rows(rows: pd.DataFrame, limit: int = EXAMPLES_PER_RULE) -> list[dict[str, Any]]:
    columns = [column for column in EXAMPLE_COLUMNS if column in rows.columns]
    return [
        {column: _plain(value) for column, value in zip(columns, record, strict=True)}
        for record in rows[columns].head(limit).itertuples(index=False, name=None)
    ]


@dataclass
class CleaningReport:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    skips_loaded: int = 0
    dry_run: bool = False
    implausible_threshold: float | None = None
    flagged_listeners: list[str] = field(default_factory=list)
    earliest_play: str = DEFAULT_EARLIEST_PLAY  # the start of the time window, as configured
    warnings: list[str] = field(default_factory=list)
    rules: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {name: {"rows": 0, "examples": []} for name in RULES}
    )

    def count(self, rule: str, rows: pd.DataFrame) -> None:
        """Add the rows a rule touched (and a few of them as examples)."""
        entry = self.rules[rule]
        entry["rows"] += len(rows)
        room = EXAMPLES_PER_RULE - len(entry["examples"])
        if room > 0 and len(rows):
            entry["examples"].extend(example_rows(rows, room))

    def count_number(self, rule: str, number: int) -> None:
        self.rules[rule]["rows"] += number

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "skips_loaded": self.skips_loaded,
            "dry_run": self.dry_run,
            "implausible_threshold": self.implausible_threshold,
            "flagged_listeners": self.flagged_listeners,
            "earliest_play": self.earliest_play,
            "warnings": self.warnings,
            "rules": {
                name: {**entry, "description": rule_description(name, self.earliest_play)}
                for name, entry in self.rules.items()
            },
        }

    def nothing_loaded(self) -> str | None:
        """Why this import must fail although every row parsed: no row read, or every row
        dropped (an import that loads nothing is never a success). None if rows survive."""
        if self.rows_read == 0:
            return "the file holds no rows to import"
        if self.rows_rejected < self.rows_read:
            return None
        return f"no row loaded: {self._rejected_by(self._dropped_most())}"

    def most_rows_warning(self) -> str | None:
        """A warning if one rule dropped most of the rows read (the import still loads the
        rest): the rule, its window or threshold, its share and an example."""
        rule = self._dropped_most()
        if rule is None or self.rules[rule]["rows"] <= MOST_ROWS * self.rows_read:
            return None
        return f"WARNING: {self._rejected_by(rule)}"

    def nothing_new_warning(self) -> str | None:
        """A warning if rows survived cleaning but no listen was added: all of them already
        in the database (a re-import), or all stored as skips. Not a failure: nothing was
        wrong with them, but "succeeded" alone would hide that nothing changed."""
        if self.rows_loaded or self.nothing_loaded():
            return None
        counts = {
            "already imported": self.rules["already_imported"]["rows"],
            "stored as skips": self.skips_loaded,
        }
        said = ", ".join(f"{rows:,} {what}" for what, rows in counts.items() if rows)
        return "WARNING: no new listen loaded" + (f": {said}" if said else "")

    def _dropped_most(self) -> str | None:
        counts = {name: self.rules[name]["rows"] for name in DROPPING_RULES}
        rule = max(counts, key=counts.get)
        return rule if counts[rule] else None

    def _rejected_by(self, rule: str | None) -> str:
        if rule is None or not self.rows_read:
            return "no rule dropped a row"
        entry = self.rules[rule]
        share = entry["rows"] / self.rows_read
        what = rule_description(rule, self.earliest_play).rsplit(":", 1)[0]
        text = f"{share:.0%} of rows rejected by {rule} ({what})"
        if entry["examples"]:
            text += f", e.g. {_example_text(entry['examples'][0])}"
        return text

    def as_text(self) -> str:
        return report_as_text(self.to_dict())


def report_as_text(report: dict[str, Any]) -> str:
    """The report (as stored on its batch) as a few aligned lines for a terminal."""
    loaded = "rows to load" if report.get("dry_run") else "rows loaded"
    lines = [
        f"rows read      {report.get('rows_read', 0):>12,}",
        f"{loaded:<15}{report.get('rows_loaded', 0):>12,}",
        f"rows rejected  {report.get('rows_rejected', 0):>12,}",
        f"skips stored   {report.get('skips_loaded', 0):>12,}",
        "",
        "rule                      rows  what it does",
    ]
    for name, entry in report.get("rules", {}).items():
        description = entry.get("description") or rule_description(name)
        lines.append(f"{name:<22}{entry['rows']:>10,}  {description}")
        # A count alone does not show what a rule did to this file: a few of its rows do.
        lines.extend(
            f"{'':<34}e.g. {_example_text(example)}" for example in entry.get("examples", [])
        )
    flagged = report.get("flagged_listeners") or []
    if flagged:
        lines.append(f"\nflagged listeners ({len(flagged)}): {', '.join(flagged[:10])}")
    return "\n".join(lines)


def _example_text(example: dict[str, Any]) -> str:
    """One example row as `line 3: listener=u1; title=Creep`, leaving out what it lacks."""
    fields = "; ".join(
        f"{key}={value}" for key, value in example.items() if key != "line" and value is not None
    )
    return f"line {example['line']}: {fields}" if "line" in example else fields
