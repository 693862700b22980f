"""The listening admin pages: feedback and submitted listens, shown without a query per row."""

import pytest
from django.urls import reverse

from tests.factories import FeedbackFactory, StaffFactory, SubmittedListenFactory


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("factory", "name"),
    [(FeedbackFactory, "feedback"), (SubmittedListenFactory, "submittedlisten")],
)
def test_a_changelist_of_many_rows_takes_as_few_queries_as_one_of_two(
    staff_client, django_assert_max_num_queries, factory, name
):
    url = reverse(f"admin:listening_{name}_changelist")
    factory.create_batch(2)
    with django_assert_max_num_queries(20) as few:
        staff_client.get(url)
    factory.create_batch(20)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(url)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 22
    assert not response.context["cl"].show_full_result_count  # no full count of a huge table


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("factory", "name"),
    [(FeedbackFactory, "feedback"), (SubmittedListenFactory, "submittedlisten")],
)
def test_rows_written_by_listeners_are_read_only_in_the_admin(staff_client, factory, name):
    row = factory()

    page = staff_client.get(reverse(f"admin:listening_{name}_change", args=[row.pk]))
    add = staff_client.get(reverse(f"admin:listening_{name}_add"))

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert str(row.listener) in page.content.decode()
    assert add.status_code == 403
