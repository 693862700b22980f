"""Serving benchmark: GET /api/v1/me/recommendations/ under load, against a trivial view.

    .venv/bin/python benchmarks/serve.py [--seconds 20] [--connections 16] [--accounts 10000]

Needs `wrk` (Debian: apt-get install wrk) and the database benchmarks/publish.py builds
(listeners with a published set; run that first). Gives `--accounts` random listeners a
login account and an API token (and the token entries a sign-in keeps), renders every
listener's ready first pages as the publication does (web/ready_pages.py: timed, and the
Redis memory they take measured and extrapolated to a million listeners), starts gunicorn
with 2 workers (this machine's cores) on 127.0.0.1 with production settings, PostgreSQL and
Redis, and drives, in the same run: `/healthz` (a trivial JSON view through the same
middleware); the cold reads — each token's first read after the publication, every token
once, in order (nothing was read before); then the warm reads, a random listener's token
per request. Prints each one's requests/s and latency percentiles, and the ratios.
Targets (issue 18): cold reads >= 50% of the trivial view's throughput, warm >= 60%.
"""

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import redis
from ingest import PRODUCTION, ROOT, django_setup

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_serve"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
MILLION = 1_000_000
ENDPOINT = "/api/v1/me/recommendations/"


def give_accounts(count: int, tokens_file: Path) -> list[str]:
    """Tokens of `count` random listeners (accounts made once, in bulk, and reused).

    Knox keeps only each token's digest, so the raw tokens are written once to
    `tokens_file` (the benchmark's own, beside its results, never committed) and read back
    on later runs; without it, the bench accounts get new tokens."""
    django_setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from knox.crypto import create_token_string, hash_token
    from knox.models import AuthToken
    from knox.settings import CONSTANTS, knox_settings

    from listening.models import Listener

    User = get_user_model()
    if tokens_file.is_file():
        saved = tokens_file.read_text().split()
        live = AuthToken.objects.filter(digest__in=[hash_token(t) for t in saved[:count]])
        if len(saved) >= count and live.count() == count:
            return saved[:count]
    users = list(User.objects.filter(username__startswith="bench-")[:count])
    if len(users) < count:
        listener_ids = list(
            Listener.objects.filter(user__isnull=True)
            .order_by("?")
            .values_list("pk", flat=True)[: count - len(users)]
        )
        password = make_password(None)  # unusable: these accounts sign in by token only
        made = User.objects.bulk_create(
            User(username=f"bench-{listener}", password=password) for listener in listener_ids
        )
        listeners = Listener.objects.in_bulk(listener_ids)
        for user, listener_id in zip(made, listener_ids, strict=True):
            listeners[listener_id].user = user
        Listener.objects.bulk_update(listeners.values(), ["user"], batch_size=5_000)
        users += made
    AuthToken.objects.filter(user__in=users).delete()
    tokens = [create_token_string() for _ in users]
    expiry = timezone.now() + knox_settings.TOKEN_TTL
    AuthToken.objects.bulk_create(
        (
            AuthToken(
                digest=hash_token(token),
                token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH],
                user=user,
                expiry=expiry,
            )
            for token, user in zip(tokens, users, strict=True)
        ),
        batch_size=5_000,
    )
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text("\n".join(tokens))
    tokens_file.chmod(0o600)
    return tokens


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        **PRODUCTION,
        "DATABASE_URL": os.environ.get("DATABASE_URL", DEFAULT_URL),
        "REDIS_URL": REDIS_URL,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "CONN_MAX_AGE": "600",
        "API_THROTTLE_ANON": "1000000/minute",
        "API_THROTTLE_USER": "1000000/minute",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "musicsite.wsgi",
            "--workers=2",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit(f"gunicorn did not start:\n{log.read_text()[-2000:]}")


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = dict(re.findall(r"\s+(50|75|90|99)%\s+([\d.]+\w+)", output))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    repeats = re.search(r"repeats (\d+)", output)
    return {
        "rate": rate,
        "latency": latency,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "requests": requests,
        "repeats": int(repeats.group(1)) if repeats else 0,
    }


def publication_pages(client: redis.Redis, tokens: list[str]) -> dict:
    """What a sign-in and the publication leave in Redis: every token's entry, and every
    listener's ready first pages (rendered here as the publication renders them). Returns
    the listeners, the render's seconds and the memory figures."""
    from django.core.cache import cache
    from knox.crypto import hash_token
    from knox.models import AuthToken

    from recommender.models import ListenerRecommendations, RecommendationSet
    from web import fast_reads, ready_pages

    active = RecommendationSet.objects.get(status="active")
    rows = AuthToken.objects.filter(digest__in=[hash_token(t) for t in tokens])
    before = client.info("memory")["used_memory"]
    fast_reads.tokens_remember(rows.values_list("digest", "user_id", "expiry", "user__listener"))
    with_tokens = client.info("memory")["used_memory"]
    listeners = sorted(
        set(
            ListenerRecommendations.objects.filter(recommendation_set=active).values_list(
                "listener_id", flat=True
            )
        )
    )
    started = time.perf_counter()
    ready_pages.ready_pages_write(set_id=active.pk, listener_ids=listeners)
    seconds = time.perf_counter() - started
    after = client.info("memory")["used_memory"]
    fast_reads.remember_active_set()
    sample = random.Random(7).sample(listeners, min(1000, len(listeners)))
    usage = [
        sum(
            client.memory_usage(cache.make_key(ready_pages.page_key(active.pk, pk, level)))
            for level in ready_pages.LEVELS
        )
        for pk in sample
    ]
    raw = [
        len(ready_pages.with_next(client.get(cache.make_key(key)), lambda: b"null"))
        for pk in sample[:200]
        for key in [ready_pages.page_key(active.pk, pk, "song")]
    ]
    stored = [
        len(client.get(cache.make_key(ready_pages.page_key(active.pk, pk, "song"))))
        for pk in sample[:200]
    ]
    return {
        "set": active,
        "listeners": len(listeners),
        "seconds": seconds,
        "per_listener": (after - with_tokens) / len(listeners),
        "per_token": (with_tokens - before) / len(tokens),
        "usage": sum(usage) / len(usage),
        "raw": sum(raw) / len(raw),
        "stored": sum(stored) / len(stored),
    }


def lua_tokens(tokens: list[str]) -> str:
    return "local tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n"


def cold_script(tokens: list[str], threads: int) -> str:
    """Each wrk thread reads its share of the tokens, each once, in order; `repeats` counts
    requests past the end (none when the run is short enough), printed by done()."""
    return (
        lua_tokens(tokens) + "local counter, threads = 0, {}\n"
        "function setup(thread)\n"
        "  thread:set('id', counter); counter = counter + 1; table.insert(threads, thread)\n"
        "end\n"
        f"function init(args) index = id + 1; step = {threads}; repeats = 0 end\n"
        "request = function()\n"
        "  local token = tokens[index]\n"
        "  if token == nil then repeats = repeats + 1; token = tokens[1] end\n"
        "  index = index + step\n"
        f'  return wrk.format("GET", "{ENDPOINT}", '
        '{["Authorization"] = "Token " .. token})\n'
        "end\n"
        "function done(summary, latency, requests)\n"
        "  local total = 0\n"
        "  for _, thread in ipairs(threads) do total = total + thread:get('repeats') end\n"
        "  io.write('repeats ' .. total .. '\\n')\n"
        "end\n"
    )


def warm_script(tokens: list[str]) -> str:
    return (
        lua_tokens(tokens) + "math.randomseed(os.time())\n"
        "request = function()\n"
        "  local token = tokens[math.random(#tokens)]\n"
        f'  return wrk.format("GET", "{ENDPOINT}", '
        '{["Authorization"] = "Token " .. token})\n'
        "end\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ["REDIS_URL"] = REDIS_URL
    tokens = give_accounts(args.accounts, ROOT / "var" / "bench-serve-tokens.txt")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # the benchmark's own Redis db: start cold
    from recommender.models import RecommendationSet

    if not RecommendationSet.objects.filter(status="active").exists():
        sys.exit("no published set: run benchmarks/publish.py first")
    ready = publication_pages(client, tokens)
    active = ready["set"]
    print(
        f"set {active.pk}: {active.listeners_count:,} listeners; {len(tokens):,} of them "
        f"with tokens; gunicorn 2 workers; wrk 2 threads, {args.connections} connections, "
        f"{args.seconds} s each (cold: until each token was read once)"
    )
    per_million = ready["usage"] * MILLION / 2**30
    print(
        f"  ready pages of {ready['listeners']:,} listeners rendered in {ready['seconds']:.1f} s "
        f"({ready['listeners'] / ready['seconds']:,.0f} listeners/s, both levels)\n"
        f"  Redis: {ready['per_listener']:,.0f} B per listener (used_memory delta, both levels), "
        f"MEMORY USAGE {ready['usage']:,.0f} B (sample of 1,000); song page "
        f"{ready['raw']:,.0f} B of JSON stored in {ready['stored']:,.0f} B; "
        f"{ready['per_token']:,.0f} B per token entry\n"
        f"  at 1M listeners: {per_million:.2f} GiB of ready pages "
        f"(+{ready['per_token'] * MILLION / 2**30:.2f} GiB for a token each)"
    )
    random.shuffle(tokens)
    with tempfile.TemporaryDirectory() as folder:
        cold, warm = Path(folder) / "cold.lua", Path(folder) / "warm.lua"
        cold.write_text(cold_script(tokens, threads=2))
        warm.write_text(warm_script(tokens))
        port = free_port()
        server = start_server(port, Path(folder) / "gunicorn.log")
        try:
            base = f"http://127.0.0.1:{port}"
            wrk(f"{base}/healthz", 3, args.connections)  # warm up both workers
            trivial = wrk(f"{base}/healthz", args.seconds, args.connections)
            # Short enough that the tokens last at the trivial view's rate (reads are slower).
            cold_seconds = max(1, int(0.9 * len(tokens) / trivial["rate"]))
            first = wrk(f"{base}{ENDPOINT}", cold_seconds, args.connections, cold)
            steady = wrk(f"{base}{ENDPOINT}", args.seconds, args.connections, warm)
        finally:
            server.terminate()
            server.wait(timeout=20)
    for name, result in (
        ("trivial /healthz", trivial),
        ("cold (first read of each)", first),
        ("warm (random listeners)", steady),
    ):
        latency = ", ".join(f"p{k} {v}" for k, v in result["latency"].items())
        print(f"  {name:30} {result['rate']:8,.0f} req/s  {latency}  non-2xx {result['non_2xx']}")
    print(
        f"  cold run: {first['requests']:,} requests in {cold_seconds} s, "
        f"{first['repeats']} of them a token read before"
    )
    print(
        f"cold reads at {first['rate'] / trivial['rate']:.0%} of the trivial view's throughput "
        f"(target >= 50%), warm at {steady['rate'] / trivial['rate']:.0%} (target >= 60%)"
    )


if __name__ == "__main__":
    main()
