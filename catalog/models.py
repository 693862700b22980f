"""The catalogue: artists, their releases and songs.

Every name has a display form (as it came in) and a match key (`catalog.names.match_key`)
used to recognise the same artist or song arriving from two sources. External ids are
unique where present and NULL where unknown (never the empty string, which would collide).

Curation (what is public, catalog/curation.py): an artist or song first named in a listener's
own submission is `pending` — seen by that listener only — until enough distinct listeners
played it or staff approved it; staff can hide one for good. Imported rows are public.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .names import match_key


def _no_blank(field: str, model: str) -> models.CheckConstraint:
    """Refuse '' for a nullable unique id: unknown is NULL, and NULLs never collide."""
    return models.CheckConstraint(condition=~Q(**{field: ""}), name=f"{model}_{field}_not_blank")


class CatalogStatus(models.TextChoices):
    PENDING = "pending", "pending (its submitter only)"
    PUBLIC = "public", "public"
    HIDDEN = "hidden", "hidden"


class CuratedQuerySet(models.QuerySet):
    def public(self):
        return self.filter(status=CatalogStatus.PUBLIC)

    def visible_to(self, user):
        """Public rows, and the pending ones this user submitted (hidden ones: nobody's)."""
        if user is None or not user.is_authenticated:
            return self.public()
        return self.filter(
            Q(status=CatalogStatus.PUBLIC) | Q(status=CatalogStatus.PENDING, submitted_by=user)
        )


def _status_field() -> models.CharField:
    # Public by default: imports and every row made before curation existed are public.
    return models.CharField(
        max_length=8, choices=CatalogStatus.choices, default=CatalogStatus.PUBLIC
    )


def _submitted_by_field() -> models.ForeignKey:
    # The listener's account that first named it; the daily limit counts by it (with
    # created_at, one index), so the FK's own index would be a second, unused one.
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )


class Artist(models.Model):
    name = models.CharField(max_length=500)
    name_key = models.CharField(max_length=500, db_index=True, editable=False)
    musicbrainz_id = models.UUIDField(null=True, blank=True, unique=True)
    spotify_uri = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status = _status_field()
    submitted_by = _submitted_by_field()

    objects = CuratedQuerySet.as_manager()

    class Meta:
        ordering = ["name_key"]
        constraints = [_no_blank("spotify_uri", "artist")]
        indexes = [models.Index(fields=["submitted_by", "created_at"], name="artist_submitted")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # The key is derived state; bulk paths set it themselves with the same function.
        self.name_key = match_key(self.name)
        super().save(*args, **kwargs)


class Release(models.Model):
    title = models.CharField(max_length=500)
    title_key = models.CharField(max_length=500, editable=False)
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="releases")
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    musicbrainz_id = models.UUIDField(null=True, blank=True, unique=True)
    spotify_uri = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["title_key"]
        indexes = [models.Index(fields=["artist", "title_key"], name="release_artist_title")]
        constraints = [_no_blank("spotify_uri", "release")]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.title_key = match_key(self.title)
        super().save(*args, **kwargs)


class Song(models.Model):
    title = models.CharField(max_length=500)
    title_key = models.CharField(max_length=500, db_index=True, editable=False)
    # NULL when a source names the song only by an id (Taste Profile without its metadata).
    artist = models.ForeignKey(
        Artist, on_delete=models.CASCADE, null=True, blank=True, related_name="songs"
    )
    release = models.ForeignKey(
        Release, on_delete=models.SET_NULL, null=True, blank=True, related_name="songs"
    )
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    musicbrainz_id = models.UUIDField(null=True, blank=True, unique=True)
    # The Echo Nest / Million Song Dataset ids: SO... for the song, TR... for the track.
    echonest_id = models.CharField(max_length=18, null=True, blank=True, unique=True)
    msd_track_id = models.CharField(max_length=18, null=True, blank=True, unique=True)
    spotify_uri = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status = _status_field()
    submitted_by = _submitted_by_field()

    objects = CuratedQuerySet.as_manager()

    class Meta:
        ordering = ["title_key"]
        indexes = [
            # Matching an incoming song with no external id: same artist, same title key.
            models.Index(fields=["artist", "title_key"], name="song_artist_title"),
            models.Index(fields=["submitted_by", "created_at"], name="song_submitted"),
        ]
        constraints = [
            _no_blank("echonest_id", "song"),
            _no_blank("msd_track_id", "song"),
            _no_blank("spotify_uri", "song"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.title_key = match_key(self.title)
        super().save(*args, **kwargs)
