"""Production settings, checked in child processes that load them for real."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="inventory_site.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="stock.example.com",
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stockroom"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secrets_have_no_default():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_sqlite():
    result = manage("check", env=production_env(DATABASE_URL="sqlite:////tmp/nope.sqlite3"))
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


HEADERS_SCRIPT = """
import json
from django.test import Client
client = Client(HTTP_HOST="stock.example.com")
plain = client.get("/admin/login/")
secure = client.get("/admin/login/", secure=True)
probe = client.get("/healthz", HTTP_HOST="127.0.0.1")
print(json.dumps({
    "plain_status": plain.status_code, "plain_location": plain.get("Location"),
    "status": secure.status_code, "headers": dict(secure.headers),
    "cookies": {name: {"secure": bool(c["secure"]), "httponly": bool(c["httponly"])}
                for name, c in secure.cookies.items()},
    "probe_status": probe.status_code,
}))
"""


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> str:
    """Static files collected the way the image build does it (hashed, compressed)."""
    root = str(tmp_path_factory.mktemp("static"))
    result = manage(
        "collectstatic", "--noinput", "-v0", env=production_env(DJANGO_STATIC_ROOT=root)
    )
    assert result.returncode == 0, result.stderr
    assert (Path(root) / "staticfiles.json").exists()
    return root


def test_pages_carry_the_security_headers_and_a_content_security_policy(static_root):
    env = production_env(DJANGO_STATIC_ROOT=static_root)
    result = manage("shell", "-c", HEADERS_SCRIPT, env=env)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout.strip().splitlines()[-1])
    assert page["plain_status"] == 301
    assert page["plain_location"] == "https://stock.example.com/admin/login/"
    assert page["probe_status"] == 200  # probes are exempt from the HTTPS redirect
    assert page["status"] == 200
    headers = page["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script anywhere
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert page["cookies"]["csrftoken"]["secure"] is True


JSON_LOG_SCRIPT = """
import logging
logging.getLogger("stockroom.test").warning("stock low", extra={"sku": "SKU-9"})
"""


def test_production_logs_are_json_lines():
    result = manage("shell", "-c", JSON_LOG_SCRIPT, env=production_env())
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "stock low"
    assert line["level"] == "WARNING"
    assert line["sku"] == "SKU-9"
    assert "request_id" in line
