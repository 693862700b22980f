import pytest
from django.db import connection

from catalog.admin_tools import CappedCountPaginator
from listening.models import Listen
from tests.factories import ListenerFactory, ListenFactory, SongFactory


class TinyCap(CappedCountPaginator):
    CAP = 5


@pytest.mark.django_db
def test_a_filtered_count_stops_at_the_cap():
    listener = ListenerFactory()
    ListenFactory.create_batch(8, listener=listener)

    small = TinyCap(Listen.objects.filter(listener=listener).order_by("id"), 2)
    assert small.count == 6  # CAP + 1: "more than the cap"
    exact = TinyCap(Listen.objects.filter(listener=listener).order_by("id")[:3], 2)
    assert exact.count == 3


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_unfiltered_big_table_is_counted_from_the_planners_estimate():
    song = SongFactory()
    ListenFactory.create_batch(12, song=song)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE listening_listen")

    paginator = TinyCap(Listen.objects.order_by("id"), 2)

    assert paginator.count == 12  # from pg_class.reltuples, which ANALYZE just set


@pytest.mark.django_db
def test_the_listen_changelist_makes_no_query_per_row(client, django_assert_max_num_queries):
    from tests.factories import StaffFactory

    client.force_login(StaffFactory())
    ListenFactory.create_batch(3)
    with django_assert_max_num_queries(50) as few:
        client.get("/admin/listening/listen/")
    ListenFactory.create_batch(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/admin/listening/listen/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "make"),
    [
        ("/admin/listening/listen/", "listens_with_batches"),
        ("/admin/recommender/listenerrecommendations/", "listener_rows"),
        ("/admin/recommender/similaritems/", "similar_rows"),
        ("/admin/listening/explorationreport/", "reports"),
    ],
)
def test_changelists_with_related_columns_make_no_query_per_row(
    client, django_assert_max_num_queries, url, make
):
    from tests import factories

    def add(n: int) -> None:
        if make == "listens_with_batches":
            for _ in range(n):
                factories.ListenFactory(batch=factories.ImportBatchFactory())
        elif make == "listener_rows":
            factories.ListenerRecommendationsFactory.create_batch(n)
        elif make == "similar_rows":
            factories.SimilarItemsFactory.create_batch(n)
        else:
            factories.ExplorationReportFactory.create_batch(
                n, snapshot=factories.DataSnapshotFactory()
            )

    client.force_login(factories.StaffFactory())
    add(2)
    with django_assert_max_num_queries(50) as few:
        client.get(url)
    add(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


def _whole_table_counts(queries, table: str) -> list[str]:
    """COUNT queries over `table` with no LIMIT inside: a count of every row."""
    return [
        q["sql"]
        for q in queries
        if "COUNT(" in q["sql"].upper() and f'"{table}"' in q["sql"] and "LIMIT" not in q["sql"]
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "table"),
    [
        ("/admin/catalog/song/", "catalog_song"),
        ("/admin/catalog/artist/", "catalog_artist"),
        ("/admin/recommender/pendingrefresh/", "recommender_pendingrefresh"),
    ],
)
def test_big_changelists_never_count_the_whole_table(client, url, table):
    from django.db import connection as default_connection
    from django.test.utils import CaptureQueriesContext

    from recommender.models import PendingRefresh
    from tests.factories import StaffFactory

    for song in SongFactory.create_batch(3):
        PendingRefresh.objects.create(listener=ListenerFactory(display_name=f"fan of {song.pk}"))
    client.force_login(StaffFactory())

    with CaptureQueriesContext(default_connection) as captured:
        response = client.get(url)

    assert response.status_code == 200 and response.context["cl"].result_count == 3
    assert _whole_table_counts(captured.captured_queries, table) == []


@pytest.mark.django_db
def test_pending_refreshes_are_shown_read_only_with_their_listener(client):
    from recommender.models import PendingRefresh
    from tests.factories import StaffFactory

    kept = PendingRefresh.objects.create(listener=ListenerFactory(display_name="night owl"))
    client.force_login(StaffFactory())

    listing = client.get("/admin/recommender/pendingrefresh/").content.decode()
    page = client.get(f"/admin/recommender/pendingrefresh/{kept.pk}/change/")

    assert "night owl" in listing
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # nothing to edit by hand
    assert client.get("/admin/recommender/pendingrefresh/add/").status_code == 403


@pytest.mark.django_db
def test_a_capped_count_is_shown_as_the_cap_and_more_not_as_the_cap_plus_one(client, monkeypatch):
    from tests.factories import StaffFactory

    monkeypatch.setattr(CappedCountPaginator, "CAP", 5)
    listener = ListenerFactory()
    ListenFactory.create_batch(8, listener=listener)
    client.force_login(StaffFactory())

    page = client.get(f"/admin/listening/listen/?listener__id__exact={listener.pk}").content
    text = page.decode()
    assert "5+ listens" in text and "6 listens" not in text

    few = client.get("/admin/listening/listen/?listener__id__exact=0").content.decode()
    assert "0 listens" in few
