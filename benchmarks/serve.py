"""Serving benchmark: GET /api/v1/me/recommendations/ under load, against a trivial view.

    .venv/bin/python benchmarks/serve.py [--seconds 20] [--connections 16] [--accounts 10000]

Needs `wrk` (Debian: apt-get install wrk) and the database benchmarks/publish.py builds
(100k listeners with a published set; run that first). Gives `--accounts` random listeners a
login account and an API token, starts gunicorn with 2 workers (this machine's cores) on
127.0.0.1 with production settings, PostgreSQL and Redis, and drives, in the same run:
`/healthz` (a trivial JSON view through the same middleware), then the recommendations
endpoint with a random listener's token per request, after every listener's first page
has been read once (the steady state: a page stays cached until the list changes).
Prints each one's requests/s and latency percentiles, and the ratio. Target (issue 7): the
endpoint at >= 60% of the trivial view's throughput.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
from ingest import PRODUCTION, ROOT, django_setup

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/musicsite_bench_serve"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
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
    return {"rate": rate, "latency": latency, "non_2xx": int(errors.group(1)) if errors else 0}


def warm_up(url: str, tokens: list[str], connections: int) -> float:
    """Read every token's first page once (the first read of a list fills the cache, as
    a listener's first visit does); returns the rate of those cold reads."""

    def read(token: str) -> int:
        request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        statuses = list(pool.map(read, tokens))
    assert set(statuses) == {200}, set(statuses)
    return len(tokens) / (time.perf_counter() - started)


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
    redis.Redis.from_url(REDIS_URL).flushdb()  # the benchmark's own Redis db: start cold
    from recommender.models import RecommendationSet

    active = RecommendationSet.objects.filter(status="active").first()
    if active is None:
        sys.exit("no published set: run benchmarks/publish.py first")
    print(
        f"set {active.pk}: {active.listeners_count:,} listeners; {len(tokens):,} of them "
        f"with tokens; gunicorn 2 workers; wrk 2 threads, {args.connections} connections, "
        f"{args.seconds} s each"
    )
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "tokens.lua"
        random.shuffle(tokens)
        script.write_text(
            "local tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n"
            "math.randomseed(os.time())\n"
            "request = function()\n"
            "  local token = tokens[math.random(#tokens)]\n"
            f'  return wrk.format("GET", "{ENDPOINT}", '
            '{["Authorization"] = "Token " .. token})\n'
            "end\n"
        )
        port = free_port()
        server = start_server(port, Path(folder) / "gunicorn.log")
        try:
            base = f"http://127.0.0.1:{port}"
            wrk(f"{base}/healthz", 3, args.connections)  # warm up both workers
            warm = warm_up(f"{base}{ENDPOINT}", tokens, args.connections)
            trivial = wrk(f"{base}/healthz", args.seconds, args.connections)
            suggestions = wrk(f"{base}{ENDPOINT}", args.seconds, args.connections, script)
        finally:
            server.terminate()
            server.wait(timeout=20)
    for name, result in (("trivial /healthz", trivial), (ENDPOINT, suggestions)):
        latency = ", ".join(f"p{k} {v}" for k, v in result["latency"].items())
        print(f"  {name:30} {result['rate']:8,.0f} req/s  {latency}  non-2xx {result['non_2xx']}")
    print(f"  (cold reads while warming the cache: {warm:,.0f} req/s, one per listener)")
    ratio = suggestions["rate"] / trivial["rate"]
    print(f"recommendations at {ratio:.0%} of the trivial view's throughput (target >= 60%)")


if __name__ == "__main__":
    main()
