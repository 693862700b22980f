import pytest
from django.db import IntegrityError, transaction

from catalog.models import Song
from catalog.names import match_key
from tests.factories import ArtistFactory, ReleaseFactory, SongFactory


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Beyonce\u0301", "BEYONCÉ"),  # decomposed accent vs composed, and case
        ("  Sigur   Rós\u00a0", "sigur rós"),  # runs of spaces and a no-break space
        ("Straße", "STRASSE"),  # case-folding, not lower-casing
    ],
)
def test_match_key_joins_spellings_of_one_name(one, other):
    assert match_key(one) == match_key(other)


def test_match_key_keeps_punctuation_apart():
    assert match_key("AC/DC") != match_key("ACDC")


def test_match_key_of_nothing_is_empty():
    assert match_key(None) == match_key("   ") == ""


@pytest.mark.django_db
def test_saving_keeps_the_display_name_and_sets_the_key():
    song = SongFactory(title="  Hey  Jude ")
    song.refresh_from_db()
    assert song.title == "  Hey  Jude "
    assert song.title_key == "hey jude"
    assert song.artist.name_key == match_key(song.artist.name)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("factory", "field", "value"),
    [
        (ArtistFactory, "musicbrainz_id", "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d"),
        (ArtistFactory, "spotify_uri", "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"),
        (ReleaseFactory, "musicbrainz_id", "f0f0bbfc-cf9e-42e0-be17-e2c3e1d2600d"),
        (SongFactory, "musicbrainz_id", "0c2ba8c1-0b79-4bbb-8c35-39b68c1ae0c4"),
        (SongFactory, "echonest_id", "SOAKIMP12A8C130995"),
        (SongFactory, "msd_track_id", "TRMMMYQ128F932D901"),
        (SongFactory, "spotify_uri", "spotify:track:6rqhFgbbKwnb9MLmUQDhG6"),
    ],
)
def test_a_duplicate_external_id_is_refused(factory, field, value):
    factory(**{field: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**{field: value})


@pytest.mark.django_db
def test_unknown_external_ids_never_collide():
    SongFactory.create_batch(3, echonest_id=None, spotify_uri=None)
    assert Song.objects.filter(echonest_id__isnull=True).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["echonest_id", "msd_track_id", "spotify_uri"])
def test_a_blank_external_id_is_refused(field):
    # Blank would be a real value that collides; unknown must be NULL.
    with pytest.raises(IntegrityError), transaction.atomic():
        SongFactory(**{field: ""})
