"""Ready pages' render benchmark: listeners/s of web/ready_pages.py, before and after a change.

    .venv/bin/python benchmarks/render.py [--listeners 5000] [--compare-with DIR]
        [--rounds 2] [--profile]

Renders and stores (Redis) both levels' first pages of the first `--listeners` listeners of
the active set, as a publication block does (`ready_pages_write`), in a fresh process with
production settings; `--compare-with DIR` also runs the code checked out in DIR (e.g.
`git archive <commit> | tar -x -C DIR`) on the same listeners, alternating with this
checkout's for `--rounds`, so both meet the same machine load. `--profile` prints this
checkout's cProfile instead. Needs the database benchmarks/publish.py builds and REDIS_URL.
"""

import argparse
import os
import sys
from pathlib import Path

from ingest import ROOT, run_child

# One render in a checkout's own code (argv[1]): its ready_pages, on the set's first listeners.
RENDER_WITH = """
import cProfile, json, os, pstats, sys, time
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
import django
django.setup()
from recommender.models import ListenerRecommendations, RecommendationSet
from web import ready_pages
active = RecommendationSet.objects.get(status="active")
rows = ListenerRecommendations.objects.filter(recommendation_set=active)
ids = sorted(set(rows.values_list("listener_id", flat=True)))[: int(sys.argv[2])]
ready_pages.ready_pages_write(set_id=active.pk, listener_ids=ids[:200])  # warm up
profile = cProfile.Profile() if sys.argv[3] == "1" else None
started = time.perf_counter()
if profile:
    profile.enable()
ready_pages.ready_pages_write(set_id=active.pk, listener_ids=ids)
seconds = time.perf_counter() - started
if profile:
    profile.disable()
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
print(json.dumps({"listeners": len(ids), "seconds": seconds, "code": ready_pages.__file__}))
"""


def render(checkout: Path, listeners: int, profile: bool) -> dict:
    script = Path(os.environ.get("TMPDIR", "/tmp")) / "musicsite-render-bench.py"
    script.write_text(RENDER_WITH)
    # In the checkout's directory: something in Django's start-up puts the working
    # directory first on sys.path, which would import this checkout's code for the other's.
    os.chdir(checkout)
    if not profile:
        return run_child(str(script), str(checkout), str(listeners), "0")
    os.execv(sys.executable, [sys.executable, str(script), str(checkout), str(listeners), "1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=5_000)
    parser.add_argument("--compare-with", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL is needed: the pages are stored as a publication stores them")
    if args.profile:
        render(ROOT, args.listeners, profile=True)
    rates: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        sides = [("before", args.compare_with)] if args.compare_with else []
        for name, checkout in [*sides, ("after", ROOT)]:
            result = render(checkout.resolve(), args.listeners, profile=False)
            rates[name].append(result["listeners"] / result["seconds"])
            print(
                f"{name:6} {result['listeners']:,} listeners in {result['seconds']:.2f} s: "
                f"{rates[name][-1]:,.0f} listeners/s (both levels; {result['code']})",
                flush=True,
            )
    if rates["before"]:
        best_before, best_after = max(rates["before"]), max(rates["after"])
        print(
            f"best of {args.rounds}: before {best_before:,.0f}, after {best_after:,.0f} "
            f"listeners/s: {best_after / best_before:.1f}x"
        )


if __name__ == "__main__":
    main()
