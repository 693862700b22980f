"""Model runs, their publications, and the precomputed suggestions that pages read.

A listener's list for one publication is one row (`ListenerRecommendations`), and a song's
or artist's neighbours are one row (`SimilarItems`): a page or API call reads one indexed
row, whatever the size of the catalogue.
"""

from django.conf import settings
from django.db import models
from django.db.models import JSONField, Q, Value
from django.utils import timezone

from musicsite.jobs import Job


class Level(models.TextChoices):
    SONG = "song"
    ARTIST = "artist"


class ModelRun(Job):
    """One training of one algorithm with its parameters on one data snapshot."""

    algorithm = models.CharField(max_length=32, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.SONG)
    seed = models.IntegerField(default=0)
    snapshot = models.ForeignKey(
        "listening.DataSnapshot", on_delete=models.PROTECT, null=True, blank=True
    )
    artifact = models.CharField(
        max_length=500, blank=True, help_text="The saved model, relative to the artifact dir."
    )
    weighting = models.JSONField(
        default=dict, blank=True, help_text='Play counts to confidence, e.g. {"scheme": "log"}.'
    )
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per step.")
    search = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="The parameter search it is a trial of."
    )
    # Held-out figures from the evaluation it was trained for (`Evaluation.run_metrics`).
    metrics = models.JSONField(default=dict, blank=True)
    n_listeners = models.IntegerField(null=True, blank=True)
    n_items = models.IntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk}: {self.algorithm} ({self.level})"

    def held_out_rows(self) -> list[dict]:
        """Its held-out figures for people: {name, value, ci ([low, high] or None), chosen},
        the choosing metric first, then by name; none when not trained for an evaluation."""
        figures = self.metrics or {}
        values, intervals = figures.get("values") or {}, figures.get("ci") or {}
        chosen = figures.get("metric")
        return [
            {
                "name": name,
                "value": values[name],
                "ci": intervals.get(name),
                "chosen": name == chosen,
            }
            for name in sorted(values, key=lambda name: (name != chosen, name))
        ]


class SetStatus(models.TextChoices):
    BUILDING = "building"
    ACTIVE = "active"
    RETIRED = "retired"
    FAILED = "failed"


class RecommendationSet(models.Model):
    """One publication of a model run's suggestions.

    Built while `building`, then made `active` in one transaction that retires the
    previous one, so readers see the old set or the new one, never a mix. Retired sets
    stay for rollback until pruned.
    """

    run = models.ForeignKey(ModelRun, on_delete=models.PROTECT, related_name="sets")
    status = models.CharField(
        max_length=16, choices=SetStatus.choices, default=SetStatus.BUILDING, db_index=True
    )
    top_n = models.PositiveIntegerField(default=50)
    progress = models.FloatField(default=0.0)
    listeners_count = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    charts = models.JSONField(
        default=dict,
        blank=True,
        help_text="Level: [[item id, listeners], ...], for listeners with no history.",
    )
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per step.")
    # Its listeners are ranked and written in blocks (recommender/publish_blocks.py), perhaps
    # by several workers at once; it is activated once every block is in. Defaults in the
    # database too, so code from before them (a worker not yet upgraded) can still insert.
    block_count = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Listener blocks in all."
    )
    blocks_done = models.JSONField(
        default=list,
        db_default=Value([], JSONField()),
        blank=True,
        help_text="The numbers of the blocks written, from 0.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="one_active_set"
            )
        ]

    def __str__(self) -> str:
        return f"set {self.pk} of {self.run} ({self.status})"


class ListenerRecommendations(models.Model):
    """A listener's ranked suggestions in one set, at one level, as parallel arrays.

    `reasons[i]` is the id of the item the listener played that contributed most to
    `item_ids[i]` (same level), or null where the model cannot say.
    """

    recommendation_set = models.ForeignKey(
        RecommendationSet, on_delete=models.CASCADE, related_name="listener_rows"
    )
    # Deleting a listener is rare; an index on it would slow every bulk publication.
    listener = models.ForeignKey("listening.Listener", on_delete=models.CASCADE, db_index=False)
    level = models.CharField(max_length=8, choices=Level.choices)
    item_ids = models.JSONField(default=list)
    scores = models.JSONField(default=list)
    reasons = models.JSONField(default=list)
    is_fallback = models.BooleanField(
        default=False, help_text="Too little history: charts or seeds, not the model."
    )
    refreshed_at = models.DateTimeField(
        null=True, blank=True, help_text="When new listens last refolded this row."
    )

    class Meta:
        verbose_name_plural = "listener recommendations"
        constraints = [
            models.UniqueConstraint(
                fields=["recommendation_set", "listener", "level"],
                name="one_row_per_listener_level",
            )
        ]

    def __str__(self) -> str:
        return f"{self.level} suggestions for listener {self.listener_id}"


class PendingRefresh(models.Model):
    """A listener's refresh that could not be queued (the broker was down): sent again by
    `tasks.resend_pending` once the broker is back (beat runs it every minute)."""

    listener = models.OneToOneField(
        "listening.Listener", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "pending refreshes"

    def __str__(self) -> str:
        return f"refresh of listener {self.listener_id}, wanted since {self.requested_at}"


class SimilarItems(models.Model):
    """A song's or an artist's nearest neighbours in one set (ids of the same level)."""

    recommendation_set = models.ForeignKey(
        RecommendationSet, on_delete=models.CASCADE, related_name="similar_rows"
    )
    level = models.CharField(max_length=8, choices=Level.choices)
    item_id = models.BigIntegerField(help_text="A song id or an artist id, as `level` says.")
    item_ids = models.JSONField(default=list)
    scores = models.JSONField(default=list)

    class Meta:
        verbose_name_plural = "similar items"
        constraints = [
            models.UniqueConstraint(
                fields=["recommendation_set", "level", "item_id"], name="one_row_per_item_level"
            )
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.item_id} neighbours"


class ArtistTopSongs(models.Model):
    """An artist's most-listened songs in one artist-level set, best first: the songs that
    set's song lists are made from (publishing writes them, a refresh reads them), so every
    path picks an artist's songs by the same popularity, that of the publication's data."""

    recommendation_set = models.ForeignKey(
        RecommendationSet, on_delete=models.CASCADE, related_name="artist_song_rows"
    )
    artist_id = models.BigIntegerField()
    song_ids = models.JSONField(default=list)

    class Meta:
        verbose_name_plural = "artist top songs"
        constraints = [
            models.UniqueConstraint(
                fields=["recommendation_set", "artist_id"], name="one_row_per_set_artist"
            )
        ]

    def __str__(self) -> str:
        return f"artist {self.artist_id}'s top songs"


class Evaluation(Job):
    """A side-by-side comparison of algorithms under one protocol, and its candidate.

    `results` is the JSON the `evaluate` command writes ({"protocol", "results"}); the
    candidate is the best algorithm by `metric`, the one to train on all data and publish.
    """

    level = models.CharField(max_length=8, choices=Level.choices, default=Level.SONG)
    algorithms = models.JSONField(default=dict, help_text="Label: parameters.")
    protocol = models.JSONField(default=dict, blank=True)
    metric = models.CharField(max_length=32, default="ndcg@10")
    results = models.JSONField(default=dict, blank=True)
    charts = models.JSONField(default=dict, blank=True, help_text="Chart name: SVG document.")
    candidate = models.CharField(max_length=64, blank=True)
    snapshot = models.ForeignKey(
        "listening.DataSnapshot", on_delete=models.PROTECT, null=True, blank=True
    )
    compute_seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"evaluation {self.pk} ({self.level}, {self.metric})"

    def run_metrics(self, label: str) -> dict:
        """What a model run trained for `label` records as its `metrics`: its held-out
        figures here — {"evaluation", "split", "metric", "values": every metric (not the
        timings or counts), "ci": {metric: [low, high]}} — so the run shows how it measured
        without the evaluation at hand."""
        result = self.results.get("results", {}).get(label)
        if result is None:  # not measured here: nothing to record
            return {}
        values = {
            name: value
            for name, value in result.items()
            if isinstance(value, int | float)
            and not isinstance(value, bool)
            and not name.endswith("_seconds")
            and not name.startswith("n_")
        }
        return {
            "evaluation": self.pk,
            "split": self.results.get("protocol", {}).get("split"),
            "metric": self.metric,
            "values": values,
            "ci": {name: list(bounds) for name, bounds in result.get("ci", {}).items()},
        }


class PipelineRun(Job):
    """The whole workflow once: snapshot, exploration, evaluation of the candidates on one
    split of that snapshot, the winner's training on all of it, publication.

    `steps` holds each step's status, times, figures and error, in order. `lock` is set
    while the run is queued or running: its unique constraint lets one pipeline run at a
    time, and a run whose worker died is reaped (`heartbeat_at` too old) so the lock
    cannot be held forever. `decision` says whether the evaluation's candidate was
    published, and why.
    """

    LOCK = "pipeline"

    algorithms = models.JSONField(default=list, help_text="The candidate algorithms.")
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.SONG)
    metric = models.CharField(max_length=32, default="ndcg@10")
    steps = models.JSONField(default=dict, blank=True)
    decision = models.TextField(blank=True)
    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_set = models.ForeignKey(
        RecommendationSet, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lock = models.CharField(max_length=16, null=True, blank=True, editable=False)  # noqa: DJ001
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["lock"], name="one_pipeline_at_a_time")]

    def __str__(self) -> str:
        return f"pipeline {self.pk} ({self.status})"
