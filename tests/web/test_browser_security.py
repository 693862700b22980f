"""The Content-Security-Policy and the offline API docs, in a real browser.

Every page a listener, a staff member or a developer opens is loaded in Chromium with every
request to another host refused: each must arrive with the CSP header and load without one
console error (a CSP violation is reported on the console), and the API docs (Swagger UI,
served from our own static files) must render the schema's operations.
"""

import re

import pytest
from django.core.cache import cache
from django.core.management import call_command

from catalog.models import Artist, Song
from listening.models import ExplorationReport
from tests.factories import EvaluationFactory, StaffFactory
from tests.listening_data import import_generated, publish_trained
from tests.web.browsing import CHROMIUM

PASSWORD = "a long enough password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def site(transactional_db, tmp_path):
    """A published site with an exploration report and an evaluation, and a staff login."""
    import_generated(tmp_path)
    publish_trained("item_knn")
    call_command("explore", "--out", str(tmp_path / "report"))
    evaluation = EvaluationFactory(
        status="succeeded",
        metric="ndcg@10",
        candidate="popularity",
        results={
            "protocol": {"split": "random", "ks": [10]},
            "results": {"popularity": {"ndcg@10": 0.1, "n_listeners": 5, "params": {}}},
        },
    )
    staff = StaffFactory(username="operator")
    staff.set_password(PASSWORD)
    staff.save()
    cache.clear()
    return {
        "song": Song.objects.order_by("pk").first().pk,
        "artist": Artist.objects.order_by("pk").first().pk,
        "report": ExplorationReport.objects.latest("pk").pk,
        "evaluation": evaluation.pk,
    }


def offline_page(browser, base_url: str):
    """A page whose every request to another host fails, collecting console errors."""
    context = browser.new_context()
    context.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(base_url) else route.abort()
        ),
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page, problems


def sign_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|Log in")).click()
    page.wait_for_load_state()


def test_every_page_carries_the_policy_and_breaks_none_of_it(browser, live_server, site):
    page, problems = offline_page(browser, live_server.url)
    visitor = ["/", "/search/?q=a", f"/songs/{site['song']}/", f"/artists/{site['artist']}/"]
    visitor += ["/accounts/login/", "/accounts/signup/", "/api/docs/"]
    signed_in = [
        "/",
        "/me/listening/",
        "/welcome/",
        "/staff/operations/",
        "/staff/exploration/",
        f"/staff/exploration/{site['report']}/",
        "/staff/evaluations/",
        f"/staff/evaluations/{site['evaluation']}/",
        "/admin/",
        "/admin/catalog/song/",
        f"/admin/catalog/song/{site['song']}/change/",
        "/admin/listening/importbatch/",
        "/admin/listening/importbatch/add/",
        "/admin/recommender/modelrun/",
        "/api/v1/songs/",
        "/api/v1/docs/",
    ]
    seen: dict[str, list[str]] = {}

    def visit(path: str) -> None:
        response = page.goto(live_server.url + path)
        assert response.status == 200, (path, response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "default-src 'self'" in policy, path
        page.wait_for_load_state("networkidle")
        seen[path] = list(problems)
        problems.clear()

    for path in visitor:
        visit(path)
    sign_in(page, live_server.url)
    for path in signed_in:
        visit(path)
    assert {path: errors for path, errors in seen.items() if errors} == {}
    page.context.close()


def test_the_api_docs_render_from_local_files_with_other_hosts_unreachable(
    browser,
    live_server,
    transactional_db,
):
    page, problems = offline_page(browser, live_server.url)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    assert "musicsite API" in page.locator(".swagger-ui .info .title").inner_text()
    paths = page.locator(".swagger-ui .opblock-summary-path").all_inner_texts()
    assert any("/api/v1/me/recommendations/" in path for path in paths)
    assert problems == []
    page.context.close()
