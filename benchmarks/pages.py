"""Page benchmark: server time of every listener page on a 100k-listener database.

    .venv/bin/python benchmarks/pages.py [--rounds 30]

Uses the database benchmarks/publish.py builds (100,000 listeners, a published set; run it
first) with production settings, PostgreSQL and Redis. Signs in as listeners who have a
history (accounts made once), then requests each page `--rounds` times through Django's
request handler in this process — the server's time, without a network or a browser —
and prints the median and 95th percentile per page, and its query count. One request per
page first warms the process (code, templates, the cached charts), as on a running site;
each round then signs in a different listener, whose own lists are not cached yet.
Target (issue 8): every page under 100 ms.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from ingest import PRODUCTION, django_setup

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_serve"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
TARGET_MS = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ["REDIS_URL"] = REDIS_URL
    static_root = Path(tempfile.gettempdir()) / "musicsite-bench-static"
    os.environ.update(
        {
            **PRODUCTION,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_ROOT": str(static_root),
        }
    )
    django_setup()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)  # production's manifest
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Song
    from listening.models import Listen, Listener
    from recommender.models import RecommendationSet

    if not RecommendationSet.objects.filter(status="active").exists():
        raise SystemExit("no published set: run benchmarks/publish.py first")
    users = list(get_user_model().objects.filter(username__startswith="bench-")[: args.rounds])
    if not users:
        raise SystemExit("no benchmark accounts: run benchmarks/serve.py once first")
    song = (
        Listen.objects.filter(song__isnull=False)
        .values_list("song_id", flat=True)
        .order_by("-id")
        .first()
    )
    artist = Song.objects.get(pk=song).artist_id
    pages = {
        "home (visitor)": ("/", False),
        "home (listener)": ("/", True),
        "song": (f"/songs/{song}/", True),
        "artist": (f"/artists/{artist}/", True),
        "search": ("/search/?q=the", True),
        "my listening": ("/me/listening/", True),
        "onboarding": ("/welcome/", True),
    }
    print(
        f"{Listener.objects.count():,} listeners, {Song.objects.count():,} songs; "
        f"{args.rounds} rounds per page, a different listener each round"
    )
    print(f"  {'page':18} {'median ms':>9} {'p95 ms':>7} {'max ms':>7} {'queries':>7}")
    worst = 0.0
    warm = Client()
    warm.force_login(users[-1])
    for url, _ in pages.values():  # a running server has loaded its code and templates
        warm.get(url)
    for name, (url, signed_in) in pages.items():
        times, queries = [], 0
        for index in range(args.rounds):
            client = Client()
            if signed_in:
                client.force_login(users[index % len(users)])
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, response.status_code)
            queries = max(queries, len(captured))
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        worst = max(worst, p95)
        print(
            f"  {name:18} {statistics.median(times):9.1f} {p95:7.1f} {times[-1]:7.1f} {queries:7d}"
        )
    verdict = "met" if worst < TARGET_MS else "NOT met"
    print(f"slowest p95 {worst:.1f} ms (target < {TARGET_MS} ms: {verdict})")


if __name__ == "__main__":
    main()
