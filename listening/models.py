"""Listeners, their listens, the imports that brought them, and snapshots of the data.

A listen is either one play (`played_at` set, `play_count` 1) or an aggregated play count
with no time (`played_at` NULL), as the Echo Nest Taste Profile and HetRec give them.
Artist-level sources (HetRec's `user_artists.dat`) name an artist and no song: such a
listen has `song` NULL and `artist` set. Every listen carries its song's artist too (when
the catalogue knows it), so artist-level models read one column whatever the source.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from musicsite.jobs import Job


class ListenerQuerySet(models.QuerySet):
    def for_user(self, user) -> "Listener":
        """The listener behind a login account, created on first use.

        Every account has a listener: whoever creates the account (sign-up, the admin,
        `createsuperuser`) need not remember to make one, and no signal is involved.
        """
        listener, _ = self.get_or_create(
            user=user,
            defaults={"source": Listener.SITE_SOURCE, "display_name": user.get_username()},
        )
        return listener


class Listener(models.Model):
    """A person whose listening we hold: a site account, or a user of an imported dataset."""

    SITE_SOURCE = "site"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="listener",
    )
    # Imported listeners are known by their id in the dataset they came from; the
    # source namespaces it ("lastfm-1k", "taste-profile", ...).
    source = models.CharField(max_length=32, default=SITE_SOURCE)
    # NULL, not "", where unknown: NULLs never collide in the unique constraint.
    external_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    display_name = models.CharField(max_length=150, blank=True)
    is_flagged = models.BooleanField(
        default=False, help_text="Behaves like a bot: kept, but left out of training."
    )
    flag_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ListenerQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["external_id", "source"],  # external_id first: admin search by id
                condition=Q(external_id__isnull=False),
                name="listener_unique_external_id",
            ),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="listener_external_id_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.external_id or f"listener {self.pk}"


class ImportBatch(Job):
    """One file or API submission of listening history, with its cleaning report."""

    format = models.CharField(max_length=32, blank=True, help_text="Blank: detect from content.")
    source_name = models.CharField(max_length=500, help_text="The file or folder imported.")
    upload = models.FileField(upload_to="imports/%Y/%m/", null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    rows_read = models.BigIntegerField(default=0)
    rows_loaded = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    rejected_file = models.FileField(
        upload_to="imports/rejected/", null=True, blank=True, help_text="Dropped rows and why."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"import {self.pk}: {self.source_name}"


class Listen(models.Model):
    id = models.BigAutoField(primary_key=True)
    # Indexed with played_at (Meta.indexes), for reading one listener's listens.
    # The foreign keys of this one huge table are kept by Django (cascading deletes go
    # through the ORM, and imports create what they reference in the same transaction),
    # not by PostgreSQL: its per-row checks doubled the time of a bulk load.
    # docs/README.md gives the measurement.
    listener = models.ForeignKey(
        Listener,
        on_delete=models.CASCADE,
        related_name="listens",
        db_index=False,
        db_constraint=False,
    )
    song = models.ForeignKey(
        "catalog.Song",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="listens",
        db_constraint=False,
    )
    # The song's artist, copied here so artist-level reads need no join; NULL only when
    # the song itself has no known artist.
    artist = models.ForeignKey(
        "catalog.Artist",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="listens",
        db_constraint=False,
    )
    played_at = models.DateTimeField(null=True, blank=True)
    play_count = models.PositiveIntegerField(default=1)
    # Provenance only, read for one batch at a time: an index would slow every import.
    batch = models.ForeignKey(
        ImportBatch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="listens",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        indexes = [
            # Every read of one listener's listens (their pages, a refresh, history newest
            # first). The unique constraints below start with the listener too, but they
            # are partial, and PostgreSQL uses a partial index only for queries that imply
            # its condition: without this one, such a read scanned the whole table.
            models.Index(fields=["listener", "played_at"], name="listen_listener_time"),
        ]
        constraints = [
            # These three make re-importing a file add nothing.
            models.UniqueConstraint(
                fields=["listener", "song", "played_at"],
                condition=Q(played_at__isnull=False),
                name="listen_unique_play",
            ),
            models.UniqueConstraint(
                fields=["listener", "song"],
                condition=Q(played_at__isnull=True, song__isnull=False),
                name="listen_unique_song_count",
            ),
            models.UniqueConstraint(
                fields=["listener", "artist"],
                condition=Q(played_at__isnull=True, song__isnull=True),
                name="listen_unique_artist_count",
            ),
            models.CheckConstraint(
                condition=Q(play_count__gte=1), name="listen_play_count_positive"
            ),
            models.CheckConstraint(
                condition=Q(song__isnull=False) | Q(artist__isnull=False),
                name="listen_names_song_or_artist",
            ),
            # A single timed play is always of a known song.
            models.CheckConstraint(
                condition=Q(played_at__isnull=True) | Q(song__isnull=False),
                name="listen_timed_has_song",
            ),
        ]

    def __str__(self) -> str:
        return f"listen {self.pk}"


class Skip(models.Model):
    """A play cut short (Spotify, under 30 s): not a listen, but a sign of "not now"."""

    listener = models.ForeignKey(
        Listener, on_delete=models.CASCADE, related_name="skips", db_index=False
    )
    song = models.ForeignKey("catalog.Song", on_delete=models.CASCADE, related_name="skips")
    skipped_at = models.DateTimeField()
    ms_played = models.PositiveIntegerField(null=True, blank=True)
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="skips"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["listener", "song", "skipped_at"], name="skip_unique_play"
            )
        ]

    def __str__(self) -> str:
        return f"skip {self.pk}"


class DataSnapshot(models.Model):
    """The size of the listening data at one moment; models and reports name the one they used."""

    created_at = models.DateTimeField(auto_now_add=True)
    listens = models.BigIntegerField()
    play_total = models.BigIntegerField()
    listeners = models.BigIntegerField()
    songs = models.BigIntegerField()
    artists = models.BigIntegerField()
    last_listen_id = models.BigIntegerField(
        null=True, help_text="The newest listen included: later listens are not in it."
    )
    last_skip_id = models.BigIntegerField(
        null=True, help_text="The newest skip included: later skips are not in it."
    )
    newest_played_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"snapshot {self.pk} ({self.listens} listens)"


class ExplorationReport(Job):
    """An exploratory look at one data snapshot: figures, charts and findings for operators."""

    snapshot = models.ForeignKey(
        DataSnapshot, on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    figures = models.JSONField(default=dict, blank=True)
    charts = models.JSONField(default=dict, blank=True, help_text="Chart name: SVG document.")
    findings = models.JSONField(default=list, blank=True)
    compute_seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"exploration report {self.pk}"


class FeedbackKind(models.TextChoices):
    LOVE = "love"
    NOT_FOR_ME = "not_for_me"


class FeedbackOrigin(models.TextChoices):
    """Where a listener said it: a reason names a pick as a pick, not as a play."""

    SAID = "said", "said on a song or artist page, or through the API"
    PICKED = "picked", "picked when signing up (onboarding)"


class FeedbackQuerySet(models.QuerySet):
    def live(self) -> "FeedbackQuerySet":
        """Feedback that still holds: no expiry, or an expiry still ahead."""
        from django.utils import timezone

        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))


class Feedback(models.Model):
    """A listener's word on one song or one artist: loved, or not for me (until `expires_at`).

    Not-for-me keeps the item out of the listener's suggestions at once and out of every
    later publication while it holds; one feedback per listener and item (the newest wins).
    """

    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="feedback")
    song = models.ForeignKey(
        "catalog.Song", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    artist = models.ForeignKey(
        "catalog.Artist", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=FeedbackKind.choices)
    origin = models.CharField(
        max_length=8, choices=FeedbackOrigin.choices, default=FeedbackOrigin.SAID
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = FeedbackQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "feedback"
        constraints = [
            models.CheckConstraint(
                condition=Q(song__isnull=False, artist__isnull=True)
                | Q(song__isnull=True, artist__isnull=False),
                name="feedback_on_one_song_or_artist",
            ),
            models.UniqueConstraint(
                fields=["listener", "song"],
                condition=Q(song__isnull=False),
                name="feedback_once_per_song",
            ),
            models.UniqueConstraint(
                fields=["listener", "artist"],
                condition=Q(artist__isnull=False),
                name="feedback_once_per_artist",
            ),
        ]

    def __str__(self) -> str:
        target = f"song {self.song_id}" if self.song_id else f"artist {self.artist_id}"
        return f"{self.kind} on {target} by listener {self.listener_id}"


class SubmittedListen(models.Model):
    """A listen posted through the API with the client's own id for it, so a retried request
    finds it and records nothing twice."""

    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(max_length=64)
    listen = models.ForeignKey(Listen, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["listener", "client_id"], name="client_id_once")
        ]

    def __str__(self) -> str:
        return f"listen {self.listen_id} sent as {self.client_id!r}"
