"""benchmarks/scale.py runs end to end at a thousandth of the Taste Profile, on this backend.

Only that it completes and reports: its figures are measured by running it by hand
(benchmarks/results/scale.md), never asserted in a test.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAST_LINE = re.compile(
    r"scale: [\d,]+ listeners, [\d,]+ songs, [\d,]+ plays: total [\d.]+ s, "
    r"peak RSS [\d,]+ MB, published [\d,]+ lists, cold reads [\d.]+% of trivial"
)


@pytest.mark.slow
def test_the_scale_benchmark_runs_at_a_thousandth_and_reports_its_last_line():
    url = os.environ.get("DATABASE_URL", "")
    # On PostgreSQL the benchmark makes a database of its own beside this run's.
    database = (url.rsplit("/", 1)[1] if url else "musicsite") + "_scale_test"
    run = subprocess.run(
        [
            sys.executable,
            "benchmarks/scale.py",
            "--scale",
            "0.001",
            "--database",
            database,
            "--readers",
            "300",
            "--seconds",
            "2",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert LAST_LINE.fullmatch(last), run.stdout[-3000:]
