import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.http import HttpRequest
from django.urls import reverse

from listening.models import ImportBatch, Listener
from tests.services import celery_broker


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
def test_demo_setup_loads_data_and_a_staff_login_with_a_rich_history(client, capsys, settings):
    settings.DEBUG = True
    settings.VAR_DIR = settings.MEDIA_ROOT.parent / "var"
    # The pipeline chooses on a temporal split (every generated listen has a time), which
    # tests only the listeners active after its cut-off: on 25 listeners that was too few
    # for any model to beat popularity.
    small = {"listeners": 60, "songs": 200, "listens": 6_000, "seed": 5}
    call_command("demo_setup", **small)
    call_command("demo_setup", **small)  # again: no second import, no second account
    printed = capsys.readouterr().out

    assert "already loaded" in printed
    assert "pipeline: publish" in printed and "already published" in printed
    assert "username 'demo'" in printed
    assert ImportBatch.objects.count() == 1
    demo = get_user_model().objects.get(username="demo")
    busiest = (
        Listener.objects.filter(is_flagged=False).annotate(n=Count("listens")).order_by("-n")[0]
    )
    assert demo.listener == busiest
    # django-axes needs a request to count the attempt by.
    assert client.login(request=HttpRequest(), username="demo", password="listen-to-more-music")
    assert client.get(reverse("admin:index")).status_code == 200
    suggestions = client.get(reverse("api-v1:my-recommendations")).json()
    assert suggestions["model"] in ("item_knn", "rp3beta", "als") and suggestions["results"]


@pytest.mark.django_db
def test_demo_setup_refuses_to_publish_a_password_outside_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG only"):
        call_command("demo_setup")


@pytest.mark.django_db
def test_readyz_reports_each_service(client):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_is_degraded_not_down_when_the_cache_is_down(client, settings):
    # A real Redis cache at an address where nothing listens: the cache is down, the
    # database is not, so the process still serves (pages read the database).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert not body["checks"]["cache"]["ok"]
    assert "ConnectionError" in body["checks"]["cache"]["detail"]
    assert body["checks"]["database"]["ok"]


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_is_degraded_with_redis_stopped_and_the_site_still_serves(
    client, settings, own_redis
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": own_redis.url,
        }
    }
    settings.REDIS_URL = own_redis.url
    with celery_broker(own_redis.url):
        assert client.get(reverse("readyz")).json()["status"] == "ready"
        own_redis.stop()
        asked = time.monotonic()
        response = client.get(reverse("readyz"))
        waited = time.monotonic() - asked
        home = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert {name for name, check in body["checks"].items() if not check["ok"]} == {
        "cache",
        "broker",
    }
    assert home.status_code == 200
    assert waited < 1.0  # within a load balancer's probe timeout, not retried for seconds


# The database down (503, naming it): tests/recommender/test_faults.py cuts and refuses
# every connection to the test database and reads /readyz meanwhile.


def test_make_demo_serves_on_the_port_it_is_given():
    import subprocess
    from pathlib import Path

    def planned(*arguments: str) -> str:
        root = Path(__file__).resolve().parents[2]
        run = ["make", "-n", "demo", *arguments]
        return subprocess.run(run, cwd=root, capture_output=True, text=True, check=True).stdout

    assert "runserver 127.0.0.1:8001" in planned("PORT=8001")
    assert "runserver 127.0.0.1:8000" in planned()
