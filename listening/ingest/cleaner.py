"""Runs the cleaning rules over a stream of chunks, in order, counting each into the report.

State that must span chunks lives here: the implausibility threshold (fixed on the first
chunk, so every chunk is judged alike) and the plays per listener-day (bots are judged on
whole days, not on the part of a day one chunk holds). No Django.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from . import cleaning
from .cleaning import CleaningConfig
from .formats.options import earliest_play_text
from .report import CleaningReport


@dataclass
class CleanChunk:
    listens: pd.DataFrame  # clean rows, with match keys
    skips: pd.DataFrame  # short Spotify plays, with match keys
    rejected: pd.DataFrame  # dropped rows, with a `reason` column
    rows_read: int  # rows of the source in this chunk


class Cleaner:
    def __init__(
        self,
        report: CleaningReport,
        *,
        artist_level: bool,
        config: CleaningConfig | None = None,
        now: datetime | None = None,
    ):
        self.report = report
        self.artist_level = artist_level
        self.config = config or CleaningConfig()
        # The report says which window it judged by: the rule's text names its start.
        report.earliest_play = earliest_play_text(self.config.earliest_play)
        self.now = now or datetime.now(UTC)
        self.threshold: float | None = None
        self._day_counts: list[pd.DataFrame] = []

    def clean(self, chunk: pd.DataFrame) -> CleanChunk:
        report, config = self.report, self.config
        report.rows_read += len(chunk)
        rejected: list[pd.DataFrame] = []

        def drop(rule: str, split: cleaning.Split) -> pd.DataFrame:
            report.count(rule, split.removed)
            if len(split.removed):
                rejected.append(split.removed.assign(reason=rule))
            return split.kept

        frame = drop("not_music", cleaning.drop_not_music(chunk))
        frame = drop(
            "missing_identity",
            cleaning.drop_missing_identity(frame, artist_level=self.artist_level),
        )
        frame, renamed = cleaning.normalise_names(frame)
        report.count("names_normalised", frame[renamed])
        frame = drop("bad_play_count", cleaning.drop_bad_play_count(frame))
        if self.threshold is None:
            self.threshold = cleaning.implausible_threshold(frame["play_count"], config)
            report.implausible_threshold = self.threshold
        frame = drop(
            "implausible_play_count", cleaning.drop_implausible_play_count(frame, self.threshold)
        )
        frame = drop(
            "time_out_of_range", cleaning.drop_time_out_of_range(frame, now=self.now, config=config)
        )
        skips = cleaning.divert_skips(frame, config)
        report.count("skip", skips.removed)
        frame = drop("exact_duplicate", cleaning.drop_exact_duplicates(skips.kept))
        frame = drop("duplicate_scrobble", cleaning.drop_duplicate_scrobbles(frame, config))
        report.count("missing_metadata", frame[cleaning.missing_metadata(frame)])
        self._day_counts.append(cleaning.listener_day_counts(frame))
        if len(self._day_counts) >= 8:
            self._compact_day_counts()

        rejected_rows = pd.concat(rejected) if rejected else chunk.iloc[0:0].assign(reason="")
        report.rows_rejected += len(rejected_rows)
        return CleanChunk(
            listens=frame, skips=skips.removed, rejected=rejected_rows, rows_read=len(chunk)
        )

    def _compact_day_counts(self) -> None:
        """Keep the running total small: one row per listener-day."""
        day_counts = pd.concat(self._day_counts)
        self._day_counts = [day_counts.groupby(["listener", "day"], as_index=False)["plays"].sum()]

    def bot_listeners(self) -> list[str]:
        """Listeners to flag, judged on every chunk seen so far."""
        if not self._day_counts:
            return []
        self._compact_day_counts()
        return cleaning.bot_listeners(self._day_counts[0], self.config)
