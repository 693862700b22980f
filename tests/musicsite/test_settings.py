"""Settings as a fresh process sees them, for each way of running the site."""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
from musicsite.celery import app
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "broker": app.conf.broker_url,
    "eager": app.conf.task_always_eager,
    "serializer": app.conf.task_serializer,
    "acks_late": app.conf.task_acks_late,
    "time_limit": app.conf.task_time_limit,
}))
"""

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7#k2-production-like-secret-key-that-is-long-and-random-9fQz!vB3mW",
    "ALLOWED_HOSTS": "music.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/musicsite",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run_python(args: list[str], **variables: str) -> subprocess.CompletedProcess:
    """Run Python in the project with only the given settings variables set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "DEBUG",
            "SECRET_KEY",
            "CELERY_TASK_ALWAYS_EAGER",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(ENV_FILE="", DJANGO_SETTINGS_MODULE="musicsite.settings", **variables)
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def probe(**variables: str) -> dict:
    result = run_python(["-c", PROBE], **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_defaults_to_sqlite_eager_tasks_and_local_memory_cache():
    seen = probe()
    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["name"].endswith("var/db.sqlite3")
    assert seen["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert seen["eager"] is True
    assert seen["broker"] == "memory://"


def test_it_switches_to_postgresql_and_redis_from_urls():
    seen = probe(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/musicsite",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert seen["engine"] == "django.db.backends.postgresql"
    assert seen["name"] == "musicsite"
    assert seen["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert seen["broker"] == "redis://127.0.0.1:6379/3"
    assert seen["eager"] is False


def test_it_configures_celery_for_long_jobs():
    seen = probe()
    assert seen["serializer"] == "json"
    assert seen["acks_late"] is True
    assert seen["time_limit"] > 0


def test_it_refuses_to_start_in_production_without_a_secret_key():
    variables = {key: value for key, value in PRODUCTION.items() if key != "SECRET_KEY"}
    result = run_python(["-c", PROBE], **variables)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_passes_the_deployment_checklist_with_production_variables():
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _variables_read() -> set[str]:
    """Every name read through django-environ's `env` (env("X"), env.int("X"), ...)."""
    import ast

    names = set()
    for app in ("musicsite", "catalog", "listening", "recommender", "web"):
        for module in (BASE_DIR / app).rglob("*.py"):
            for node in ast.walk(ast.parse(module.read_text())):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                func = node.func
                is_env = (isinstance(func, ast.Name) and func.id == "env") or (
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "env"
                )
                first = node.args[0]
                if is_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
    return names


def test_env_example_lists_every_variable_the_code_reads_and_no_other():
    import re

    example = (BASE_DIR / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    read = _variables_read()
    assert "DATABASE_URL" in read  # the scan finds what it should
    assert read - listed == set(), "read by the code but not in .env.example"
    assert listed - read == set(), "in .env.example but read by no code"
