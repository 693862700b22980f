import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse


@pytest.mark.django_db
def test_the_home_page_answers(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"musicsite" in response.content


def test_the_health_check_answers_without_a_database(client):
    response = client.get(reverse("healthz"))
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_the_api_publishes_its_openapi_schema(client):
    response = client.get(reverse("api-v1:schema"), {"format": "json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "musicsite API"


@pytest.mark.django_db
def test_demo_setup_makes_a_staff_login_that_can_enter_the_admin(client, capsys, settings):
    settings.DEBUG = True
    call_command("demo_setup")
    call_command("demo_setup")  # again: resets, never duplicates
    printed = capsys.readouterr().out

    assert "username 'demo'" in printed
    assert client.login(username="demo", password="listen-to-more-music")
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.django_db
def test_demo_setup_refuses_to_publish_a_password_outside_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG only"):
        call_command("demo_setup")
