"""The catalogue as the API shows it: compact, the artist nested in each song."""

from rest_framework import serializers

from catalog.models import Artist, Release, Song


class ArtistSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artist
        fields = ["id", "name"]


class ReleaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = ["id", "title", "year"]


class SongSerializer(serializers.ModelSerializer):
    artist = ArtistSerializer(allow_null=True)
    release = ReleaseSerializer(allow_null=True)

    class Meta:
        model = Song
        fields = ["id", "title", "artist", "release", "year", "duration_ms"]


def song_data(song: Song) -> dict:
    """A song as the API shows it, without DRF's per-field machinery (hot paths)."""
    return {
        "id": song.pk,
        "title": song.title,
        "artist": {"id": song.artist_id, "name": song.artist.name} if song.artist_id else None,
        "release": (
            {"id": song.release_id, "title": song.release.title, "year": song.release.year}
            if song.release_id
            else None
        ),
        "year": song.year,
        "duration_ms": song.duration_ms,
    }


def artist_data(artist: Artist) -> dict:
    return {"id": artist.pk, "name": artist.name}
