"""The listener's website through Django's test client: every page, its queries, its forms."""

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from catalog.models import Artist, Song
from listening.charts import charts
from listening.models import Feedback, Listen, Listener
from tests.factories import ArtistFactory, SongFactory, UserFactory
from tests.listening_data import import_generated, publish_trained

PASSWORD = "a long enough password"


@pytest.fixture
def site(db, tmp_path):
    import_generated(tmp_path)
    publish_trained("als", factors=8, iterations=3)
    cache.clear()


def signed_in_with_history(client: Client) -> Listener:
    """Sign in as an account that takes over an imported listener's history."""
    user = UserFactory(password=PASSWORD)
    listener = Listener.objects.filter(user__isnull=True).order_by("pk").first()
    listener.user = user
    listener.save()
    client.force_login(user)
    return listener


def suggested_songs(client: Client) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-song="(\d+)"', client.get("/").content.decode())]


def test_visitors_see_what_the_site_is_and_the_charts(site, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        page = Client().get(reverse("home")).content.decode()
    assert "Sign up" in page and "Top songs" in page and "Recently popular artists" in page
    # The song and artist with the most listeners are linked (the old check here passed on
    # any song link at all).
    top = charts()
    assert reverse("song", args=[top["songs"]["overall"][0]["id"]]) in page
    assert reverse("artist", args=[top["artists"]["overall"][0]["id"]]) in page


def test_sign_up_leads_to_onboarding_and_picked_artists_give_suggestions(
    site, django_assert_max_num_queries
):
    client = Client()
    response = client.post(
        reverse("signup"),
        {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == reverse("onboarding")
    assert client.get(reverse("home"))["Location"] == reverse("onboarding")
    with django_assert_max_num_queries(6):
        picker = client.get(reverse("onboarding"), {"q": "the"}).content.decode()
    assert 'name="artist"' in picker
    artists = list(Artist.objects.order_by("pk").values_list("pk", flat=True)[:3])

    too_few = client.post(reverse("onboarding"), {"artist": artists[:2]}, follow=True)
    assert "Pick at least 3 artists" in too_few.content.decode()
    done = client.post(reverse("onboarding"), {"artist": artists}, follow=True)

    page = done.content.decode()
    assert "Here are songs picked for you" in page and "because you picked" in page
    assert Feedback.objects.filter(kind="love").count() == 3
    assert "Popular with listeners like you" not in page
    with django_assert_max_num_queries(14):
        client.get(reverse("home"))


def carried_picks(page: str) -> list[int]:
    """The picks a rendered welcome page sends with its form (its hidden inputs)."""
    return [int(pk) for pk in re.findall(r'type="hidden" name="artist" value="(\d+)"', page)]


def test_picks_on_the_welcome_page_survive_searches_and_all_are_saved(site):
    picked = [ArtistFactory(name=name) for name in ("Quokka Parade", "Wombat Choir", "Numbat Set")]
    client = Client()
    client.force_login(UserFactory())
    welcome = reverse("onboarding")

    page = client.get(welcome, {"q": "quokka"}).content.decode()
    assert f'value="{picked[0].pk}"' in page and carried_picks(page) == []
    # Tick Quokka, search for Wombat: the form posts the tick with the search.
    searched = client.post(
        welcome, {"q": "wombat", "search": "1", "artist": picked[0].pk}, follow=True
    )
    page = searched.content.decode()
    assert carried_picks(page) == [picked[0].pk] and "Quokka Parade" in page
    assert f'type="checkbox" name="artist" value="{picked[1].pk}"' in page
    page = client.post(
        welcome,
        {"q": "numbat", "search": "1", "artist": [*carried_picks(page), picked[1].pk]},
        follow=True,
    ).content.decode()
    assert carried_picks(page) == [picked[0].pk, picked[1].pk]

    done = client.post(welcome, {"q": "numbat", "artist": [*carried_picks(page), picked[2].pk]})

    assert done.status_code == 302 and done["Location"] == reverse("home")
    loved = Feedback.objects.filter(kind="love").values_list("artist_id", flat=True)
    assert sorted(loved) == sorted(artist.pk for artist in picked)


def test_a_pick_can_be_removed_and_the_others_stay(site):
    picked = [ArtistFactory(name=f"Removable {n}") for n in range(3)]
    client = Client()
    client.force_login(UserFactory())

    page = client.post(
        reverse("onboarding"),
        {"q": "removable", "remove": picked[1].pk, "artist": [a.pk for a in picked]},
        follow=True,
    ).content.decode()

    assert carried_picks(page) == [picked[0].pk, picked[2].pk]
    assert f'type="checkbox" name="artist" value="{picked[1].pk}"' in page  # back in the results


@pytest.mark.parametrize(
    ("picks", "said"),
    [
        (["abc"], "1 of the picks is not an artist"),
        (["\u00b2", "-4", "0", "1.5"], "4 of the picks are not an artist"),
        ([str(10**30)], "1 of the picks is not an artist"),
        (["9" * 5000], "1 of the picks is not an artist"),
        ([str(2**63)], "1 of the picks is not an artist"),
        ([str(n) for n in range(1, 60)], "Pick at most 50 artists"),
        ([str(10**15), str(10**15 + 1), str(10**15 + 2)], "no longer exist"),
    ],
)
def test_hostile_picks_get_a_clear_message_and_a_400(site, picks, said):
    client = Client()
    client.force_login(UserFactory())
    welcome = reverse("onboarding")

    saved = client.post(welcome, {"artist": picks})
    linked = client.get(welcome, {"artist": picks, "q": "a"})
    searched = client.post(welcome, {"artist": picks, "search": "1"}, follow=True)

    assert saved.status_code == 400 and said in saved.content.decode()
    assert linked.status_code == 400 and said in linked.content.decode()
    assert searched.status_code in (200, 400) and said in searched.content.decode()
    assert not Feedback.objects.exists()


def test_not_for_me_removes_a_song_for_good_and_i_listened_updates_the_list(
    site, django_capture_on_commit_callbacks
):
    client = Client()
    signed_in_with_history(client)
    first = suggested_songs(client)
    refused = first[0]

    client.post(
        reverse("feedback"),
        {"song": refused, "kind": "not_for_me", "next": "/"},
        follow=True,
    )
    assert refused not in suggested_songs(client)

    played = suggested_songs(client)[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("song-listened", args=[played]),
            {"next": reverse("song", args=[played])},
            follow=True,
        )
    assert "Recorded: you listened to" in response.content.decode()
    after = suggested_songs(client)
    assert played not in after and refused not in after
    assert "Updated from your latest listens" in client.get("/").content.decode()


def test_song_and_artist_pages_show_statistics_and_similar_items(
    site, django_assert_max_num_queries
):
    song = Song.objects.select_related("artist").order_by("pk").first()
    client = Client()
    with django_assert_max_num_queries(8):
        page = client.get(reverse("song", args=[song.pk])).content.decode()
    assert song.title in page and song.artist.name in page and "More like this" in page
    assert "listener" in page and "Sign in</a> to record a listen" in page
    with django_assert_max_num_queries(8):
        page = client.get(reverse("artist", args=[song.artist_id])).content.decode()
    assert "Top songs" in page and "Similar artists" in page
    titles = Song.objects.filter(artist_id=song.artist_id).values_list("title", flat=True)
    assert sum(title in page for title in titles) == min(10, len(titles))
    assert client.get(reverse("song", args=[10**9])).status_code == 404


def test_search_finds_songs_and_artists_with_pages(site, django_assert_max_num_queries):
    song = Song.objects.order_by("pk").first()
    client = Client()
    with django_assert_max_num_queries(5):
        page = client.get(reverse("search"), {"q": song.title.upper()}).content.decode()
    assert song.title in page
    many = client.get(reverse("search"), {"q": "e"}).content.decode()
    assert "Page 1 of" in many and 'rel="next"' in many
    second = client.get(reverse("search"), {"q": "e", "page": 2}).content.decode()
    assert "Page 2 of" in second


def artist_links(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'href="/artists/(\d+)/"', page)]


def test_search_pages_artists_and_songs_apart_keeping_the_query(db, django_assert_max_num_queries):
    artists = [ArtistFactory(name=f"Xylophonic {n:02d}") for n in range(30)]
    for artist in artists:
        SongFactory(title=f"Tune of {artist.name}", artist=artist)
    client = Client()

    # A count and a page for each list, and the ids of the matching artists (whose songs
    # match too: catalog.search._by_artist); no N+1.
    with django_assert_max_num_queries(5):
        first = client.get(reverse("search"), {"q": "xylophonic"}).content.decode()
    second = client.get(
        reverse("search"), {"q": "xylophonic", "artists_page": 2, "page": 2}
    ).content.decode()

    assert artist_links(first) == [a.pk for a in artists[:24]]
    assert artist_links(second) == [a.pk for a in artists[24:]]
    assert 'href="?q=xylophonic&amp;page=1&amp;artists_page=2"' in first
    assert 'href="?q=xylophonic&amp;artists_page=1&amp;page=2"' in first
    # Each list's links keep the other list's page.
    assert 'href="?q=xylophonic&amp;page=2&amp;artists_page=1"' in second
    assert "Tune of Xylophonic 29" in second and "Tune of Xylophonic 29" not in first


@pytest.mark.parametrize("number", ["abc", "0", "-3", "1.5", str(10**30), "\u00b2", ""])
def test_search_answers_any_page_number_with_a_page(db, number):
    artists = [ArtistFactory(name=f"Xylophonic {n:02d}") for n in range(30)]

    response = Client().get(
        reverse("search"), {"q": "xylophonic", "artists_page": number, "page": number}
    )

    assert response.status_code == 200
    shown = artist_links(response.content.decode())
    assert shown in ([a.pk for a in artists[:24]], [a.pk for a in artists[24:]])


def test_my_listening_shows_only_my_history_top_lists_and_the_clock(
    site, django_assert_max_num_queries
):
    client = Client()
    listener = signed_in_with_history(client)
    other = Listener.objects.exclude(pk=listener.pk).first()
    other_only = (
        Listen.objects.filter(listener=other)
        .exclude(song__in=Listen.objects.filter(listener=listener).values("song"))
        .select_related("song")
        .first()
    )
    with django_assert_max_num_queries(12):
        page = client.get(reverse("my-listening")).content.decode()
    assert "Your top artists" in page and "<svg" in page and "Page 1 of" in page
    assert other_only.song.title not in page
    assert Client().get(reverse("my-listening"))["Location"].startswith(reverse("login"))


def test_forms_need_csrf_and_sign_in(site):
    strict = Client(enforce_csrf_checks=True)
    signed_in_with_history(strict)
    song = Song.objects.first()
    assert strict.post(reverse("song-listened", args=[song.pk])).status_code == 403
    anonymous = Client().post(reverse("feedback"), {"song": song.pk, "kind": "love"})
    assert anonymous["Location"].startswith(reverse("login"))
    client = Client()
    signed_in_with_history(client)
    odd = client.post(reverse("feedback"), {"song": song.pk, "kind": "meh"}, follow=True)
    assert "kind: must be love, not_for_me or undo" in odd.content.decode()


def test_sign_in_and_out_use_the_sites_own_pages(site):
    UserFactory(username="ann", password=PASSWORD)
    client = Client()
    assert "Sign in" in client.get(reverse("login")).content.decode()
    response = client.post(reverse("login"), {"username": "ann", "password": PASSWORD})
    assert response.status_code == 302
    assert client.post(reverse("logout")).status_code == 302
    assert "Sign up" in client.get("/").content.decode()


def test_errors_are_the_sites_own_pages(site, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    missing = client.get("/no/such/page/")
    assert (
        missing.status_code == 404
        and "There is nothing at this address" in missing.content.decode()
    )


def test_a_server_error_shows_the_sites_own_page(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
