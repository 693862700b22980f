"""The catalogue: artists, their releases and songs.

Every name has a display form (as it came in) and a match key (`catalog.names.match_key`)
used to recognise the same artist or song arriving from two sources. External ids are
unique where present and NULL where unknown (never the empty string, which would collide).
"""

from django.db import models
from django.db.models import Q

from .names import match_key


def _no_blank(field: str, model: str) -> models.CheckConstraint:
    """Refuse '' for a nullable unique id: unknown is NULL, and NULLs never collide."""
    return models.CheckConstraint(condition=~Q(**{field: ""}), name=f"{model}_{field}_not_blank")


class Artist(models.Model):
    name = models.CharField(max_length=500)
    name_key = models.CharField(max_length=500, db_index=True, editable=False)
    musicbrainz_id = models.UUIDField(null=True, blank=True, unique=True)
    spotify_uri = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name_key"]
        constraints = [_no_blank("spotify_uri", "artist")]

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

    class Meta:
        ordering = ["title_key"]
        # Matching an incoming song with no external id: same artist, same title key.
        indexes = [models.Index(fields=["artist", "title_key"], name="song_artist_title")]
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
