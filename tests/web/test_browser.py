"""The website in a real browser: Debian's Chromium driven by Playwright against a live server.

The journey a new listener takes — sign up, pick three artists, get suggestions with
reasons, refuse one (it stays gone after a reload), record a listen (the list changes),
sign out — and the other pages, at a phone's width (360 px) and a laptop's (1280 px). Each
test saves screenshots under var/screenshots/ (ignored by git) for a person to look at.
Skipped, with the reason, where /usr/bin/chromium is missing; CI installs it.
"""

import re
from pathlib import Path

import pytest
from django.core.cache import cache

from catalog.models import Artist, Song
from listening.models import Feedback, Listener
from tests.factories import ArtistFactory, UserFactory
from tests.listening_data import import_generated, publish_trained
from tests.web.browsing import CHROMIUM

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = {"phone": (360, 780), "laptop": (1280, 900)}
PASSWORD = "a long enough password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def published(transactional_db, tmp_path):
    import_generated(tmp_path)
    publish_trained("als", factors=8, iterations=3)
    cache.clear()


def page_at(browser, width: str):
    viewport_width, height = WIDTHS[width]
    context = browser.new_context(viewport={"width": viewport_width, "height": height})
    return context.new_page()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def suggested(page) -> list[str]:
    return page.locator("ol.suggestions li").evaluate_all(
        "cards => cards.map(card => card.dataset.song)"
    )


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_new_listener_signs_up_picks_artists_and_shapes_their_list(
    browser, live_server, published, width
):
    page = page_at(browser, width)
    page.goto(live_server.url)
    shot(page, f"{width}-home-visitor")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill(f"newbie-{width}")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()

    page.wait_for_url(re.compile(r"/welcome/$"))
    shot(page, f"{width}-onboarding")
    boxes = page.locator("input[name=artist]")
    for index in range(3):
        boxes.nth(index).check()
    page.get_by_role("button", name="Show my suggestions").click()

    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_text("Here are songs picked for you").is_visible()
    assert page.locator(".reason").count() > 0
    shot(page, f"{width}-home-suggestions")
    before = suggested(page)
    refused = before[0]
    page.locator(f'li[data-song="{refused}"]').get_by_role(
        "button", name=re.compile("Not for me")
    ).click()
    page.wait_for_load_state()
    assert refused not in suggested(page)
    page.reload()
    assert refused not in suggested(page)

    listened = suggested(page)[0]
    page.locator(f'li[data-song="{listened}"] a.title').click()
    page.wait_for_url(re.compile(rf"/songs/{listened}/$"))
    shot(page, f"{width}-song")
    page.get_by_role("button", name="I listened").click()
    assert page.get_by_text("Recorded: you listened to").is_visible()
    page.goto(live_server.url)
    after = suggested(page)
    assert listened not in after and after != before
    shot(page, f"{width}-home-after-listen")

    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_role("link", name="Sign in", exact=True).is_visible()
    page.context.close()


def test_picks_made_across_searches_on_the_welcome_page_are_all_saved(
    browser, live_server, published
):
    picked = [ArtistFactory(name=name) for name in ("Quokka Parade", "Wombat Choir", "Numbat Set")]
    user = UserFactory(username="picker", password=PASSWORD)
    page = page_at(browser, "phone")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/welcome/$"))

    for artist in picked:
        word = artist.name.split()[0]
        page.get_by_label("Find an artist").fill(word)
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(rf"/welcome/\?q={word}"))
        page.get_by_label(artist.name).check()
    shot(page, "phone-onboarding-picks")
    assert page.get_by_role("button", name="Remove Quokka Parade").is_visible()
    assert page.get_by_role("button", name="Remove Wombat Choir").is_visible()
    page.get_by_role("button", name="Show my suggestions").click()

    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_text("Here are songs picked for you").is_visible()
    loved = Feedback.objects.filter(kind="love", listener__user=user)
    assert sorted(loved.values_list("artist_id", flat=True)) == [artist.pk for artist in picked]
    page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_song_artist_search_and_history_pages(browser, live_server, published, width):
    user = UserFactory(username=f"reader-{width}", password=PASSWORD)
    listener = Listener.objects.filter(user__isnull=True).order_by("pk").first()
    listener.user = user
    listener.save()
    song = Song.objects.select_related("artist").order_by("pk").first()
    artist = Artist.objects.get(pk=song.artist_id)
    page = page_at(browser, width)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))

    page.goto(f"{live_server.url}/artists/{artist.pk}/")
    assert page.get_by_role("heading", name=artist.name).is_visible()
    assert page.get_by_role("heading", name="Similar artists").is_visible()
    shot(page, f"{width}-artist")

    page.goto(f"{live_server.url}/search/")
    page.get_by_label("Songs and artists").fill(song.title)
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("link", name=song.title).first.is_visible()
    shot(page, f"{width}-search")

    page.get_by_role("link", name="My listening").click()
    assert page.get_by_role("heading", name="History").is_visible()
    assert page.locator("svg.clock").count() == 1
    shot(page, f"{width}-my-listening")
    # Nothing spills sideways at a phone's width.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    page.context.close()
