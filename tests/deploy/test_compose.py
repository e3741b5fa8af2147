"""docker-compose.yml is valid, every command it runs exists in the project with the options
it passes, and the same commands are documented for running without Docker."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ["migrate", "web", "worker", "beat"]
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def documented_variables() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


def with_defaults(argument: str) -> str:
    """`${NAME:-default}` as the shell would expand it with NAME unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", argument)


@cache
def help_text(*command: str) -> str:
    result = subprocess.run(
        [*command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"DJANGO_SETTINGS_MODULE": "inventory_site.settings.local", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_expected_services_exist_with_health_checks_and_volumes():
    assert {"postgres", "redis", *APP_SERVICES} <= set(SERVICES)
    for name in ("postgres", "redis", "web", "worker"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert SERVICES["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert set(COMPOSE["volumes"]) == {"postgres-data", "redis-data"}


def test_app_services_share_one_definition():
    images = {(SERVICES[name]["image"], SERVICES[name]["build"]) for name in APP_SERVICES}
    assert images == {("stockroom:latest", ".")}
    for name in APP_SERVICES:
        environment = SERVICES[name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "inventory_site.settings.production"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_command_exists_in_the_project(service):
    command = [with_defaults(part) for part in SERVICES[service]["command"]]
    if command[:2] == ["python", "manage.py"]:
        name = command[2]
        assert name in get_commands(), f"{service}: no management command {name!r}"
        usage = help_text(sys.executable, "manage.py", name)
    else:
        assert command[:3] == ["celery", "-A", "inventory_site"], command
        from inventory_site.celery import app

        assert app.main == "inventory_site"
        assert command[3] in {"worker", "beat"}
        usage = help_text(sys.executable, "-m", "celery", "-A", "inventory_site", command[3])
    for option in (part for part in command if part.startswith("--")):
        assert option in usage, f"{service}: {option} is not an option of {command[:4]}"


def test_the_same_commands_are_documented_for_running_without_docker():
    operations = (ROOT / "docs" / "operations.md").read_text()
    for service in APP_SERVICES:
        command = " ".join(with_defaults(part) for part in SERVICES[service]["command"])
        assert f"`{command}`" in operations, f"{service}: {command!r} not in docs/operations.md"


def test_the_health_check_path_is_a_real_probe():
    probe = " ".join(SERVICES["web"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8000(/\w+)", probe).group(1)
    assert resolve(path).url_name == "readyz"


def test_every_variable_is_documented_in_env_example():
    used = set(VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    assert used
    assert used - documented_variables() == set()


def test_every_setting_read_from_the_environment_is_documented():
    settings_dir = ROOT / "inventory_site" / "settings"
    production = (settings_dir / "production.py").read_text()
    base = (settings_dir / "base.py").read_text()
    operations_block = base.split("# --- Operations", 1)[1].split("\n# --- ", 1)[0]
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', production + operations_block))
    assert {"DJANGO_SECRET_KEY", "DATABASE_REPLICA_URL", "METRICS_TOKEN"} <= names
    assert names - documented_variables() - {"DATABASE_URL", "REDIS_URL"} == set()


def test_the_dockerfile_runs_the_web_command_and_copies_what_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE).group(1)
    assert yaml.safe_load(cmd) == SERVICES["web"]["command"][:-2]  # without --workers N
    assert "USER stockroom" in dockerfile


def test_the_proxy_routes_websockets_and_http_to_their_servers(tmp_path):
    """deploy/nginx.conf (the compose `proxy`) is a valid nginx configuration and sends
    /ws/ to the websocket port, the rest to the HTTP port of `serve`."""
    import shutil

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server web:8000;" in conf
    assert "server web:8001;" in conf
    assert SERVICES["proxy"]["volumes"] == ["./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro"]
    assert set(SERVICES["web"]["expose"]) == {"8000", "8001"}
    (tmp_path / "site.conf").write_text(
        conf.replace("web:", "127.0.0.1:").replace("listen 80;", "listen 127.0.0.1:18080;")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        "events { worker_connections 16; }\n"
        f"http {{ access_log off; include {tmp_path}/site.conf; }}\n"
    )
    checked = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
