"""How varied and how true the reasons are, on the demo data (`make demo`'s listening).

Builds the demo data as `demo_setup` does (the generator's lastfm-1k scrobbles, 2,000
listeners, 3,000 songs, 150,000 listens, seed 2026, 2% dirt; imported, then the whole
pipeline once) in a throw-away SQLite database, then for every listener with a published
song list counts, among the first 12 suggestions:
- distinct reasons (suggestions without a reason not counted),
- the share of the most frequent reason (of the suggestions that have one),
- reasons naming a song the listener never played nor loved (untrue "because you played");
and, for three newcomers each onboarded with three popular artists (each a love, then a
refresh, as the welcome page does), the picked artists offered back as "artists you may like"
and the reasons naming a song they never played.

Runs on any commit (it reads only the stored lists), so "before" is this script run on the
commit before the change: `git worktree add --detach /tmp/before <commit>` and
`.venv/bin/python /tmp/before/benchmarks/reasons.py` (copy the script there if it is newer).

    .venv/bin/python benchmarks/reasons.py [--listeners 2000 --songs 3000 --listens 150000]
        [--algorithm als]
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

FIRST = 12
NEWCOMERS = 3


def setup(folder: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'db.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(folder / "media")
    os.environ["RECOMMENDER_ARTIFACT_DIR"] = str(folder / "artifacts")
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "musicsite.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def build(folder: Path, listeners: int, songs: int, listens: int, algorithm: str | None) -> None:
    from listening.generator import generate
    from listening.listen_import import listen_import_create, listen_import_run
    from recommender.pipeline import pipeline_create, pipeline_run

    path = folder / "demo-scrobbles.tsv"
    generate(
        path,
        "lastfm-1k",
        n_listeners=listeners,
        n_songs=songs,
        n_listens=listens,
        seed=2026,
        dirt=0.02,
    )
    batch = listen_import_run(batch_id=listen_import_create(path=path, format="lastfm-1k").pk)
    print(f"imported {batch.rows_loaded:,} listens")
    run = pipeline_run(run_id=pipeline_create().pk)
    print(f"pipeline: {run.decision}")
    if algorithm:  # another model than the pipeline's pick, published over it
        from recommender import publishing
        from recommender.training import model_run_create, model_run_train

        trained = model_run_create(algorithm=algorithm, level="song")
        model_run_train(run_id=trained.pk)
        publishing.publish(run_id=trained.pk)
        print(f"published {algorithm} instead")


def newcomers() -> list[int]:
    """Onboard NEWCOMERS accounts with three of the most listened artists each."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from listening.feedback import feedback_give
    from listening.models import FeedbackKind, Listen, Listener
    from recommender.refresh import refresh_listener

    popular = list(
        Listen.objects.values("artist_id")
        .annotate(n=Count("listener_id", distinct=True))
        .order_by("-n", "artist_id")
        .values_list("artist_id", flat=True)[: 3 * NEWCOMERS]
    )
    made = []
    for index in range(NEWCOMERS):
        user = get_user_model().objects.create_user(f"newcomer{index}", password="x" * 20)
        listener = Listener.objects.for_user(user)
        for artist in popular[index * 3 : index * 3 + 3]:
            kwargs = {"kind": FeedbackKind.LOVE, "artist_id": artist, "refresh": False}
            try:  # a pick is recorded as a pick where the code knows picks
                from listening.models import FeedbackOrigin

                kwargs["origin"] = FeedbackOrigin.PICKED
            except ImportError:
                pass
            feedback_give(listener, **kwargs)
        refresh_listener(listener.pk)
        made.append(listener.pk)
    return made


def measure(new_ids: list[int]) -> dict:
    from listening.models import Feedback, FeedbackKind, Listen
    from recommender.models import ListenerRecommendations, RecommendationSet, SetStatus
    from web.api.recommendations import entries

    active = RecommendationSet.objects.get(status=SetStatus.ACTIVE)
    rows = ListenerRecommendations.objects.filter(recommendation_set=active, level="song")
    held: dict[int, set[int]] = {}
    for listener, song in Listen.objects.values_list("listener_id", "song_id").distinct():
        held.setdefault(listener, set()).add(song)
    loves = Feedback.objects.filter(kind=FeedbackKind.LOVE, song__isnull=False)
    for listener, song in loves.values_list("listener_id", "song_id"):
        held.setdefault(listener, set()).add(song)
    distinct, shares, untrue, explained = [], [], 0, 0
    for listener, reasons in rows.values_list("listener_id", "reasons"):
        if listener in new_ids:
            continue
        given = [reason for reason in reasons[:FIRST] if reason is not None]
        if not given:
            continue
        counts = Counter(given)
        distinct.append(len(counts))
        shares.append(counts.most_common(1)[0][1] / len(given))
        explained += len(given)
        untrue += sum(1 for reason in given if reason not in held.get(listener, set()))
    figures = {
        "set": active.pk,
        "algorithm": active.run.algorithm,
        "listeners": len(distinct),
        "distinct_mean": statistics.mean(distinct),
        "distinct_median": statistics.median(distinct),
        "top_share_mean": statistics.mean(shares),
        "top_share_median": statistics.median(shares),
        "untrue_reasons": untrue,
        "reasons": explained,
    }
    picked_offered = picked_untrue = 0
    for listener in new_ids:
        picks = set(
            Feedback.objects.filter(listener_id=listener, artist__isnull=False).values_list(
                "artist_id", flat=True
            )
        )
        listed = dict(
            ListenerRecommendations.objects.filter(
                recommendation_set=active, listener_id=listener
            ).values_list("level", "item_ids")
        )
        picked_offered += len(picks & set(listed.get("artist", [])))
        served = entries(listener, "song") or {"results": []}  # what the pages and API show
        picked_untrue += sum(
            1
            for entry in served["results"][:FIRST]
            if entry["reason"] and "song" in entry["reason"]  # "because you played <song>"
        )
    figures["newcomers_picked_artists_offered"] = picked_offered
    figures["newcomers_reasons_saying_played_of_an_unplayed_song"] = picked_untrue
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=2_000)
    parser.add_argument("--songs", type=int, default=3_000)
    parser.add_argument("--listens", type=int, default=150_000)
    parser.add_argument("--algorithm", help="publish this model instead of the pipeline's")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="reasons-bench-") as folder:
        started = time.perf_counter()
        setup(Path(folder))
        build(Path(folder), args.listeners, args.songs, args.listens, args.algorithm)
        figures = measure(newcomers())
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; {time.perf_counter() - started:.0f} s"
    )
    for key, value in figures.items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
