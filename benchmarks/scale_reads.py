"""The read half of benchmarks/scale.py: cold, trivial and warm reads against gunicorn.

Cold reads are first reads: every request names a listener not read before since the
publication. wrk runs for a fixed time (it cannot stop after N requests), so its threads
walk the token list without repeats and the run counts only if it used well under the list
(`COLD_SHARE`); a short probe of the Python client sizes the run first. Without wrk, the
Python client (one thread per connection, a request per token) drives all three.
"""

import os
import random
import re
import shutil
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ENDPOINT = "/api/v1/me/recommendations/"
WRK_THREADS = 2
COLD_SHARE = 0.8  # a cold wrk run may use this much of the unread tokens, no more


def _wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": re.search(r"\s50%\s+([\d.]+\w+)", output).group(1),
        "p99": re.search(r"\s99%\s+([\d.]+\w+)", output).group(1),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _lua(tokens: list[str], walk: bool) -> str:
    """A wrk script sending each request with a token: in turn, each thread its own share
    (`walk`, never one token twice until the list runs out), or at random."""
    listed = ",".join(f'"{t}"' for t in tokens)
    pick = (
        f"local i = wrk.thread:get('id') + count * {WRK_THREADS} + 1\n"
        "  count = count + 1\n"
        "  if i > #tokens then i = #tokens end\n"
        if walk
        else "local i = math.random(#tokens)\n"
    )
    return (
        f"local tokens = {{{listed}}}\n"
        "local made, count = 0, 0\n"
        "setup = function(thread) thread:set('id', made); made = made + 1 end\n"
        "init = function(args) math.randomseed(os.time() + wrk.thread:get('id')) end\n"
        f"request = function()\n  {pick}"
        f'  return wrk.format("GET", "{ENDPOINT}", {{["Authorization"] = "Token " .. tokens[i]}})\n'
        "end\n"
    )


def _python_reads(base: str, tokens: list[str], connections: int) -> dict:
    """Each token's page once, `connections` at a time; the rate."""

    def read(token: str) -> int:
        headers = {"Authorization": f"Token {token}"} if token else {}
        path = ENDPOINT if token else "/healthz"
        request = urllib.request.Request(base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        statuses = list(pool.map(read, tokens))
    seconds = time.perf_counter() - started
    return {
        "rate": len(tokens) / seconds,
        "requests": len(tokens),
        "non_2xx": sum(status != 200 for status in statuses),
    }


def _python_for(base: str, tokens: list[str], seconds: int, connections: int) -> dict:
    """Requests for about `seconds`: random tokens' pages, or `/healthz` for empty tokens."""
    sent, started = 0, time.perf_counter()
    results = []
    while time.perf_counter() - started < seconds:
        batch = [random.choice(tokens) for _ in range(connections * 20)]
        results.append(_python_reads(base, batch, connections))
        sent += len(batch)
    return {
        "rate": sent / (time.perf_counter() - started),
        "requests": sent,
        "non_2xx": sum(r["non_2xx"] for r in results),
    }


def _cold_wrk(base: str, tokens: list[str], seconds: int, connections: int, folder: Path):
    """Cold reads with wrk, sized by a probe of the Python client; None if every try ran
    out of unread tokens."""
    probe = max(min(100, len(tokens) // 10), 1)
    rate = _python_reads(base, tokens[:probe], connections)["rate"]
    unread = tokens[probe:]
    for _ in range(3):
        length = min(seconds, int(0.5 * len(unread) / max(rate, 1.0)))
        if length < 1:
            return None
        script = folder / "cold.lua"
        script.write_text(_lua(unread, walk=True))
        result = _wrk(base + ENDPOINT, length, connections, script)
        if result["requests"] + connections <= COLD_SHARE * len(unread):
            # Surely read (the threads walk their shares at slightly different speeds).
            done = tokens[:probe] + unread[: max(result["requests"] - 2 * connections, 0)]
            return {**result, "seconds": length, "probe": rate, "read": done}
        unread = unread[result["requests"] + connections :]
        rate = result["rate"] * 2  # too short a list for that rate: half the time
    return None


def measure(*, tokens: list[str], env: dict, folder: Path, seconds: int, connections: int):
    """Serve the site with production settings and the benchmark's backends; cold reads
    of `tokens` first, then the trivial view, then warm reads of the tokens read cold."""
    os.environ.update(env)  # the server takes its database and Redis from here
    from serve import free_port, start_server

    port = free_port()
    server = start_server(port, folder / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        _python_reads(base, [""] * 50, 2)  # both workers loaded, URLs resolved
        if shutil.which("wrk"):
            cold = _cold_wrk(base, tokens, seconds, connections, folder)
            if cold is None:
                tool, cold = (
                    "python (too few tokens for wrk)",
                    _python_reads(base, tokens, connections),
                )
            else:
                tool = "wrk"
            trivial = _wrk(base + "/healthz", seconds, connections)
            script = folder / "warm.lua"
            script.write_text(_lua(cold.get("read", tokens), walk=False))
            warm = _wrk(base + ENDPOINT, seconds, connections, script)
        else:
            tool = "python (wrk is not installed)"
            cold = _python_reads(base, tokens, connections)
            trivial = _python_for(base, [""], seconds, connections)
            warm = _python_for(base, tokens, seconds, connections)
    finally:
        server.terminate()
        server.wait(timeout=20)
    return {"tool": tool, "tokens": len(tokens), "cold": cold, "trivial": trivial, "warm": warm}


def describe(reads: dict) -> str:
    lines = [f"reads ({reads['tool']}, {reads['tokens']:,} listeners with tokens):"]
    for name in ("cold", "trivial", "warm"):
        result = reads[name]
        latency = f"  p50 {result['p50']}, p99 {result['p99']}" if "p50" in result else ""
        lines.append(
            f"  {name:8} {result['rate']:9,.0f} req/s  {result['requests']:,} requests"
            f"{latency}  non-2xx {result['non_2xx']}"
        )
    warm = reads["warm"]["rate"] / reads["trivial"]["rate"]
    lines.append(f"  warm reads at {warm:.0%} of the trivial view")
    return "\n".join(lines)
