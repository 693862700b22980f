"""Ready first pages: rendered by the publication for every listener, the bytes DRF would
answer, served only once their set is active, rewritten on refresh, never for a revoked
token, and rendered for a block of listeners in a bounded number of queries."""

import json
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse
from knox.models import AuthToken

from catalog.models import Song
from listening.models import Feedback, FeedbackKind, Listener
from recommender import publishing, serving
from recommender.events import lists_written
from recommender.models import ListenerRecommendations, RecommendationSet, SetStatus
from tests.listening_data import import_generated, publish_trained
from tests.web.api_accounts import PASSWORD, api_account
from web import ready_pages

FIRST_PAGE = "/api/v1/me/recommendations/"


@pytest.fixture
def catalogue(db, tmp_path):
    """Generated listening whose listeners all have accounts (only a listener who can sign
    in gets ready pages)."""
    import_generated(tmp_path, listeners=60, songs=150, listens=5000, seed=7)
    listeners = list(Listener.objects.filter(user__isnull=True))
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"reader-{listener.pk}") for listener in listeners
    )
    for listener, user in zip(listeners, users, strict=True):
        listener.user = user
    Listener.objects.bulk_update(listeners, ["user"])
    cache.clear()


def publish() -> int:
    return publish_trained("item_knn", top_n=30)


def listeners_of(set_id: int) -> list[int]:
    rows = ListenerRecommendations.objects.filter(recommendation_set_id=set_id)
    return sorted(set(rows.values_list("listener_id", flat=True)))


def account(name: str):
    return api_account(name, Song.objects.order_by("pk")[:5])


def drf_answer(client, level: str | None):
    """What DRF answers, with no ready page nor token entry to take the fast path."""
    cache.clear()
    return client.get(FIRST_PAGE, {"level": level} if level else {})


def test_every_listener_a_block_announces_gets_both_levels_ready(catalogue):
    set_id = publish()
    listeners = listeners_of(set_id)
    cache.clear()  # as if the publication had rendered nothing yet
    lists_written.send(sender=RecommendationSet, set_id=set_id, listener_ids=listeners)
    assert len(listeners) > 50
    for listener in listeners:
        for level in ready_pages.LEVELS:
            assert ready_pages.load_page(set_id, listener, level) is not None, (listener, level)


def test_a_listener_who_cannot_sign_in_gets_no_ready_page(catalogue):
    """An imported listener without an account is never read: no page is rendered for
    them, and the listeners of the same block who can sign in still get theirs."""
    set_id = publish()
    listeners = listeners_of(set_id)
    unread = Listener.objects.filter(pk__in=listeners[::2])
    users = [listener.user_id for listener in unread]
    unread.update(user=None)
    get_user_model().objects.filter(pk__in=users).delete()
    cache.clear()
    lists_written.send(sender=RecommendationSet, set_id=set_id, listener_ids=listeners)
    for position, listener in enumerate(listeners):
        page = ready_pages.load_page(set_id, listener, "song")
        assert (page is None) == (position % 2 == 0), listener


def test_a_publication_leaves_every_listeners_page_ready(catalogue):
    """Through publishing itself: its blocks announce their listeners (a set whose pages
    are missing at the switch, as after a rollback, is rendered then: the rollback test)."""
    set_id = publish()
    for listener in listeners_of(set_id):
        assert ready_pages.load_page(set_id, listener, "song") is not None


@pytest.mark.parametrize("level", [None, "song", "artist"])
def test_the_ready_bytes_are_what_drf_answers(catalogue, django_assert_num_queries, level):
    client, listener = account("ann")
    song = Song.objects.order_by("-pk").first()
    Feedback.objects.create(listener=listener, song=song, kind=FeedbackKind.LOVE)
    Feedback.objects.create(listener=listener, artist_id=song.artist_id, kind=FeedbackKind.LOVE)
    set_id = publish()
    drf = drf_answer(client, level)
    assert drf.status_code == 200
    ready_set = RecommendationSet.objects.select_related("run").get(pk=set_id)
    key = ready_pages.page_key(set_id, listener.pk, level or "song")
    stored = ready_pages.pages_render(ready_set, [listener.pk])[key]
    link = drf.json()["next"]
    if level != "artist":  # (fewer artists than a page)
        assert link is not None  # a second page: its link is the request's own
    assert ready_pages.with_next(stored, lambda: f'"{link}"'.encode()) == drf.content

    # Rendered in a block beside other listeners, the page is the same.
    others = [pk for pk in listeners_of(set_id) if pk != listener.pk][:30]
    assert ready_pages.pages_render(ready_set, [*others, listener.pk])[key] == stored

    # And the fast path answers those bytes, with the same headers, without the database.
    with django_assert_num_queries(0):
        fast = client.get(FIRST_PAGE, {"level": level} if level else {})
    assert fast.status_code == 200 and fast.content == drf.content
    assert fast["Content-Type"] == drf["Content-Type"]
    assert fast["RateLimit-Limit"] == drf["RateLimit-Limit"]
    assert int(fast["RateLimit-Remaining"]) == int(drf["RateLimit-Remaining"]) - 1


def test_a_listener_without_a_list_is_served_the_charts_page_drf_answers(catalogue):
    set_id = publish()
    client, listener = account("newcomer")  # signed up after the publication: no row
    assert not ListenerRecommendations.objects.filter(listener=listener).exists()
    drf = drf_answer(client, None)
    ready_set = RecommendationSet.objects.select_related("run").get(pk=set_id)
    stored = ready_pages.pages_render(ready_set, [listener.pk])
    page = stored[ready_pages.page_key(set_id, listener.pk, "song")]
    link = drf.json()["next"]
    assert ready_pages.with_next(page, lambda: f'"{link}"'.encode()) == drf.content
    assert drf.json()["fallback"] is True


def test_pages_of_a_set_still_building_are_not_served_until_it_is_active(
    catalogue, django_assert_num_queries
):
    client, listener = account("ann")
    older = publish()
    newer = publish()
    # The newer set goes back to building, as a publication in progress is.
    RecommendationSet.objects.filter(pk=newer).update(status=SetStatus.BUILDING)
    RecommendationSet.objects.filter(pk=older).update(status=SetStatus.ACTIVE)
    serving.forget_active_set()
    lists_written.send(sender=RecommendationSet, set_id=newer, listener_ids=[listener.pk])
    assert ready_pages.load_page(newer, listener.pk, "song") is not None
    for _ in range(3):
        assert client.get(FIRST_PAGE).json()["set"] == older

    publishing.activate(RecommendationSet.objects.get(pk=newer))
    with django_assert_num_queries(0):  # the page the block rendered, now served
        answered = client.get(FIRST_PAGE)
    assert answered.json()["set"] == newer


def test_a_refresh_rewrites_the_listeners_ready_pages(
    catalogue, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client, _ = account("ann")
    set_id = publish()
    first = client.get(FIRST_PAGE).json()
    assert first["refreshed_at"] is None
    top = first["results"][0]["song"]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("api-v1:my-listens"), {"listens": [{"song": top}]}, format="json")
    # Rewritten by the refresh itself: the next read is served ready, and is the new list.
    with django_assert_num_queries(0):
        fresh = client.get(FIRST_PAGE)
    body = fresh.json()
    assert body["set"] == set_id and body["refreshed_at"] is not None
    assert top not in [entry["song"]["id"] for entry in body["results"]]
    assert fresh.content == drf_answer(client, None).content


def _sign_out(client, user):
    assert client.post(reverse("api-v1:logout")).status_code == 204


def _sign_out_everywhere(client, user):
    assert client.post(reverse("api-v1:logout-all")).status_code == 204


def _change_password(client, user):
    user.set_password(PASSWORD + " changed")
    user.save()


def _delete_tokens(client, user):
    AuthToken.objects.filter(user=user).delete()


@pytest.mark.parametrize(
    "revoke", [_sign_out, _sign_out_everywhere, _change_password, _delete_tokens]
)
def test_a_revoked_token_is_never_served_a_ready_page(catalogue, django_assert_num_queries, revoke):
    client, listener = account("ann")
    publish()
    assert client.get(FIRST_PAGE).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(FIRST_PAGE).status_code == 200  # the ready page
    revoke(client, Listener.objects.get(pk=listener.pk).user)
    for _ in range(2):
        refused = client.get(FIRST_PAGE)
        assert refused.status_code == 401, refused.content
        assert refused.json()["error"]["status"] == 401


def test_a_block_of_listeners_is_rendered_in_a_bounded_number_of_queries(
    catalogue, django_assert_max_num_queries
):
    set_id = publish()
    listeners = listeners_of(set_id)
    for listener in listeners[::3]:  # loves, so every query of the render is asked
        song = Song.objects.order_by("?").first()
        Feedback.objects.create(listener_id=listener, song=song, kind=FeedbackKind.LOVE)
        Feedback.objects.create(
            listener_id=listener, artist_id=song.artist_id, kind=FeedbackKind.LOVE
        )
    ready_set = RecommendationSet.objects.select_related("run").get(pk=set_id)
    with django_assert_max_num_queries(12):
        pages = ready_pages.pages_render(ready_set, listeners)
    assert len(pages) == 2 * len(listeners) > 100


def test_a_retired_sets_pages_go_and_a_rollback_renders_them_again(catalogue):
    older = publish()
    listeners = listeners_of(older)
    assert ready_pages.load_page(older, listeners[0], "song") is not None
    newer = publish()
    for pk in listeners:
        for level in ready_pages.LEVELS:
            assert ready_pages.load_page(older, pk, level) is None
        assert ready_pages.load_page(newer, pk, "song") is not None
    publishing.rollback()
    for pk in listeners:
        assert ready_pages.load_page(older, pk, "song") is not None
        assert ready_pages.load_page(newer, pk, "song") is None


@pytest.mark.worker  # tasks are queued, not run in-process; no worker takes them here
def test_on_workers_a_rollback_queues_the_render_instead_of_rendering_in_the_request(
    catalogue, settings
):
    """The request that rolls back only switches sets and queues `ready_pages_render`;
    the task, where a worker runs it, renders every reader's pages of the set made active,
    and a task for a set that is no longer active renders nothing."""
    import redis

    from musicsite.celery import app as celery_app
    from web import tasks

    queue = f"test-ready-{uuid.uuid4().hex[:8]}"
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    celery_app.conf.task_default_queue = queue
    older = publish()
    listeners = listeners_of(older)
    newer = publish()
    try:
        publishing.rollback()
        assert all(ready_pages.load_page(older, pk, "song") is None for pk in listeners)
        queued = [json.loads(message)["headers"] for message in broker.lrange(queue, 0, -1)]
        wanted = {"task": "web.tasks.ready_pages_render", "argsrepr": f"({older},)"}
        assert wanted in [{key: sent[key] for key in wanted} for sent in queued]
        assert tasks.ready_pages_render(newer) == 0  # not the active set: nothing
        assert tasks.ready_pages_render(older) == len(listeners)
        assert all(ready_pages.load_page(older, pk, "song") is not None for pk in listeners)
    finally:
        broker.delete(queue)
        celery_app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
