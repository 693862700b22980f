"""Accounts and tokens: sign-ins throttled by account and by address, tokens revoked by
signing out, signing out everywhere, a password change and expiry — everywhere, the ready
first page included."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db.models import F
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from catalog.models import Song
from tests.factories import StaffFactory, UserFactory
from tests.listening_data import import_generated, publish_trained
from tests.web.api_accounts import PASSWORD, api_account

TOKEN_URL = "/api/v1/auth/token/"
FIRST_PAGE = "/api/v1/me/recommendations/"


@pytest.fixture
def published(db, tmp_path):
    import_generated(tmp_path, listeners=20, songs=80, listens=1500, seed=3)
    publish_trained("item_knn", top_n=30)


def sign_in(username: str, password: str, address: str = "10.0.0.1"):
    return APIClient().post(
        TOKEN_URL,
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def page_sign_in(username: str, password: str, address: str = "10.0.0.1"):
    return Client().post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def cool_off_passes() -> None:
    """What waiting AXES_COOLOFF_TIME does: every recorded failure becomes that old."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - django_settings.AXES_COOLOFF_TIME)


def warmed(name: str, django_assert_num_queries) -> APIClient:
    """A token client whose first page is ready: the second read is the fast path's."""
    client, _ = api_account(name, Song.objects.order_by("pk")[:5])
    assert client.get(FIRST_PAGE).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(FIRST_PAGE).status_code == 200
    return client


def refused_everywhere(client: APIClient) -> None:
    for url in (FIRST_PAGE, f"{FIRST_PAGE}?page=2", "/api/v1/me/listens/"):
        response = client.get(url)
        assert response.status_code == 401, (url, response.content)
        assert response.json()["error"]["status"] == 401


# -- throttled sign-ins ----------------------------------------------------------------------


def test_the_token_endpoint_locks_an_account_out_after_five_wrong_passwords(db):
    UserFactory(username="ann", password=PASSWORD)
    # From five addresses: the count is the account's, wherever the guesses come from.
    codes = [sign_in("ann", f"guess {n}", f"10.0.1.{n}").status_code for n in range(5)]
    assert codes == [400, 400, 400, 400, 429]
    locked = sign_in("ann", PASSWORD, "10.0.2.1")  # the right password, during the lockout
    assert locked.status_code == 429
    error = locked.json()["error"]
    assert error["code"] == "throttled" and "Too many failed sign-ins" in error["message"]
    assert set(error) == {"status", "code", "message"}
    assert int(locked["Retry-After"]) == django_settings.AXES_COOLOFF_TIME.total_seconds()
    assert not AuthToken.objects.exists()

    cool_off_passes()
    assert sign_in("ann", PASSWORD, "10.0.2.1").status_code == 200


def test_the_token_endpoint_locks_an_address_out_whichever_account_it_tries(db):
    UserFactory(username="bob", password=PASSWORD)
    codes = [sign_in(f"nobody{n}", "guess", "10.0.3.3").status_code for n in range(5)]
    assert codes[-1] == 429
    assert sign_in("bob", PASSWORD, "10.0.3.3").status_code == 429
    assert sign_in("bob", PASSWORD, "10.0.3.4").status_code == 200  # another address


def test_every_attempt_during_a_lockout_starts_the_cool_off_again(db):
    UserFactory(username="cat", password=PASSWORD)
    for n in range(5):
        sign_in("cat", f"guess {n}")
    cool_off_passes()
    assert sign_in("cat", "one more guess").status_code == 400  # the pause had ended
    for n in range(4):
        sign_in("cat", f"again {n}")
    assert sign_in("cat", PASSWORD).status_code == 429


def test_the_sign_in_page_locks_out_with_a_readable_429(db):
    UserFactory(username="dan", password=PASSWORD)
    for n in range(5):
        page_sign_in("dan", f"guess {n}", f"10.0.4.{n}")
    locked = page_sign_in("dan", PASSWORD, "10.0.5.5")
    assert locked.status_code == 429
    assert b"Too many sign-in attempts" in locked.content and b"15 minutes" in locked.content
    assert "_auth_user_id" not in locked.wsgi_request.session

    cool_off_passes()
    assert page_sign_in("dan", PASSWORD, "10.0.5.5").status_code == 302


def test_a_right_password_clears_the_accounts_failures(db):
    UserFactory(username="eve", password=PASSWORD)
    for n in range(4):
        sign_in("eve", f"guess {n}")
    assert sign_in("eve", PASSWORD).status_code == 200
    assert [sign_in("eve", f"next {n}").status_code for n in range(4)] == [400] * 4


@pytest.mark.parametrize(
    "body",
    [
        {"username": "a" * 151, "password": "x"},
        {"username": "a\x00b", "password": "x"},
        b'{"username": "\\ud800x", "password": "x"}',
        {"username": ["ann"], "password": "x"},
        {"password": "x"},
    ],
)
def test_hostile_sign_ins_get_400_with_the_error_body(db, body):
    if isinstance(body, bytes):
        response = APIClient().post(TOKEN_URL, body, content_type="application/json")
    else:
        response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["username"]


# -- tokens: one per device, revoked everywhere ---------------------------------------------


def test_each_sign_in_is_its_own_token_kept_only_as_a_digest(db):
    user = UserFactory(username="fay", password=PASSWORD)
    phone, laptop = (sign_in("fay", PASSWORD).json() for _ in range(2))
    assert phone["token"] != laptop["token"] and phone["expiry"]
    stored = AuthToken.objects.filter(user=user)
    assert stored.count() == 2
    assert not stored.filter(digest__in=[phone["token"], laptop["token"]]).exists()


def test_signing_out_revokes_only_that_token_fast_path_included(
    published, django_assert_num_queries
):
    client = warmed("gil", django_assert_num_queries)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {sign_in('gil', PASSWORD).json()['token']}")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    refused_everywhere(client)
    assert other.get(FIRST_PAGE).status_code == 200


def test_signing_out_of_every_device_revokes_every_token(published, django_assert_num_queries):
    client = warmed("hal", django_assert_num_queries)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {sign_in('hal', PASSWORD).json()['token']}")
    assert other.get(FIRST_PAGE).status_code == 200
    assert client.post("/api/v1/auth/logout-all/").status_code == 204
    refused_everywhere(client)
    refused_everywhere(other)


def test_a_password_change_on_the_site_revokes_every_token(published, django_assert_num_queries):
    client = warmed("ivy", django_assert_num_queries)
    page = Client()
    page.force_login(AuthToken.objects.get().user)  # login() has no request for axes
    new = "another long enough password"
    changed = page.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    refused_everywhere(client)
    assert page.get(reverse("my-listening")).status_code == 200  # this browser stays in


def test_a_password_set_in_the_admin_revokes_every_token(published, django_assert_num_queries):
    client = warmed("jon", django_assert_num_queries)
    admin = Client()
    admin.force_login(StaffFactory())
    user = AuthToken.objects.get().user
    new = "an admin-chosen long password"
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    answer = admin.post(url, {"password1": new, "password2": new, "usable_password": "true"})
    assert answer.status_code == 302, answer.content
    refused_everywhere(client)


def test_sign_out_everywhere_revokes_every_token_and_this_session(
    published, django_assert_num_queries
):
    client = warmed("kim", django_assert_num_queries)
    page = Client()
    page.force_login(AuthToken.objects.get().user)
    account = page.get(reverse("password_change"))
    assert b"Sign out everywhere" in account.content
    answer = page.post(reverse("sign-out-everywhere"), follow=True)
    assert b"Signed out everywhere: 1 app sign-in revoked." in answer.content
    refused_everywhere(client)
    assert page.get(reverse("my-listening")).status_code == 302  # to the sign-in page


def test_sign_out_everywhere_takes_a_post_from_a_signed_in_account(db):
    assert Client().post(reverse("sign-out-everywhere")).status_code == 302  # to sign in
    page = Client()
    page.force_login(UserFactory())
    assert page.get(reverse("sign-out-everywhere")).status_code == 405


def test_an_expired_token_is_refused_fast_path_included(
    published, settings, django_assert_num_queries
):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(seconds=2)}
    client = warmed("lee", django_assert_num_queries)
    time.sleep(2.1)
    refused_everywhere(client)
    assert not AuthToken.objects.exists()  # knox deletes what has expired


def test_old_drf_tokens_carried_over_keep_working_until_knox_expires_them(db):
    """What the migration does with an authtoken key: its digest, its first characters."""
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    user = UserFactory(username="max", password=PASSWORD)
    old = "eac0ae0cccbce890d20bbcc902b029252db163c4"  # 40 hex characters, as DRF made them
    AuthToken.objects.create(user=user)  # the account's own knox token alongside
    AuthToken.objects.filter(user=user).update(
        digest=hash_token(old), token_key=old[: CONSTANTS.TOKEN_KEY_LENGTH]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert client.get("/api/v1/me/listens/").status_code == 200


def test_no_log_line_carries_a_token_or_a_password(published, caplog):
    caplog.set_level("DEBUG")
    UserFactory(username="ned", password=PASSWORD)
    token = sign_in("ned", PASSWORD).json()["token"]
    sign_in("ned", "a wrong password")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.get(FIRST_PAGE)
    client.get(FIRST_PAGE)
    APIClient().get(FIRST_PAGE, HTTP_AUTHORIZATION="Token " + "e" * 64)
    client.post("/api/v1/auth/logout/")
    client.get(FIRST_PAGE)  # refused, and logged as a 401
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Unauthorized" in logged  # the requests were logged...
    for secret in (token, token[:15], "e" * 64, PASSWORD, "a wrong password"):
        assert secret not in logged  # ...without what authenticated them


def test_a_sign_in_past_the_device_limit_revokes_the_oldest_token(db):
    from web.accounts import TOKENS_PER_ACCOUNT

    user = UserFactory(username="oda", password=PASSWORD)
    tokens = [sign_in("oda", PASSWORD).json()["token"] for _ in range(TOKENS_PER_ACCOUNT + 1)]
    assert AuthToken.objects.filter(user=user).count() == TOKENS_PER_ACCOUNT
    first, last = APIClient(), APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Token {tokens[0]}")
    last.credentials(HTTP_AUTHORIZATION=f"Token {tokens[-1]}")
    assert first.get("/api/v1/me/listens/").status_code == 401
    assert last.get("/api/v1/me/listens/").status_code == 200


@pytest.mark.parametrize("username", ["a" * 10_000, "a\x00b", ""])
def test_hostile_sign_ins_on_the_page_get_a_form_message(db, username):
    response = page_sign_in(username, "x")
    assert response.status_code == 200
    assert b"errorlist" in response.content


def test_a_token_entry_kept_for_a_token_revoked_meanwhile_is_not_kept(db):
    """DRF saw the token, then it was revoked (and its entry forgotten), then DRF kept the
    token's entry for the fast path: the write checks the token is still there."""
    from web import fast_reads

    user = UserFactory(username="pia", password=PASSWORD)
    token, _ = AuthToken.objects.create(user=user)
    token.delete()
    fast_reads.remember_token(token, 1)
    assert not cache.has_key(fast_reads.token_key(token.digest))
    alive, _ = AuthToken.objects.create(user=user)
    fast_reads.remember_token(alive, 1)
    assert cache.has_key(fast_reads.token_key(alive.digest))
