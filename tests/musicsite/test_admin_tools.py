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
