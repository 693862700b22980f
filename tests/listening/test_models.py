from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from listening.models import Listener
from listening.services import account_create
from tests.factories import ArtistFactory, ListenerFactory, ListenFactory, SongFactory, UserFactory

PLAYED = datetime(2024, 5, 1, 20, 15, tzinfo=UTC)


def refused(**fields) -> bool:
    try:
        with transaction.atomic():
            ListenFactory(**fields)
    except IntegrityError:
        return True
    return False


@pytest.mark.django_db
def test_a_new_account_gets_its_listener():
    user = account_create(username="ada", password="a-long-password-1")
    assert user.listener.source == Listener.SITE_SOURCE
    assert user.listener.display_name == "ada"


@pytest.mark.django_db
def test_an_account_made_elsewhere_gets_its_listener_on_first_use():
    user = UserFactory()
    first = Listener.objects.for_user(user)
    again = Listener.objects.for_user(user)
    assert first.pk == again.pk
    assert Listener.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_a_duplicate_dataset_listener_is_refused_but_other_datasets_may_reuse_the_id():
    ListenerFactory(source="lastfm-1k", external_id="user_000001")
    ListenerFactory(source="taste-profile", external_id="user_000001")
    with pytest.raises(IntegrityError), transaction.atomic():
        ListenerFactory(source="lastfm-1k", external_id="user_000001")


@pytest.mark.django_db
def test_the_same_play_twice_is_refused():
    listen = ListenFactory(played_at=PLAYED)
    assert refused(listener=listen.listener, song=listen.song, played_at=PLAYED)
    assert not refused(
        listener=listen.listener, song=listen.song, played_at=PLAYED.replace(hour=21)
    )


@pytest.mark.django_db
def test_one_aggregated_count_per_listener_and_song():
    listen = ListenFactory(played_at=None, play_count=12)
    assert refused(listener=listen.listener, song=listen.song, played_at=None, play_count=3)
    # A timed play of the same song is a different kind of row and may coexist.
    assert not refused(listener=listen.listener, song=listen.song, played_at=PLAYED)


@pytest.mark.django_db
def test_an_artist_level_count_has_no_song_and_is_unique_per_artist():
    listener, artist = ListenerFactory(), ArtistFactory()
    assert not refused(listener=listener, song=None, artist=artist, played_at=None, play_count=900)
    assert refused(listener=listener, song=None, artist=artist, played_at=None, play_count=5)
    # The same artist through one of its songs is a song-level count.
    song = SongFactory(artist=artist)
    assert not refused(listener=listener, song=song, artist=artist, played_at=None)


@pytest.mark.django_db
def test_a_timed_play_must_name_its_song():
    assert refused(song=None, artist=ArtistFactory(), played_at=PLAYED)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [0])
def test_a_play_count_below_one_is_refused(count):
    assert refused(play_count=count, played_at=None)


@pytest.mark.django_db
def test_a_listen_names_a_song_or_an_artist():
    assert refused(song=None, artist=None, played_at=None)
