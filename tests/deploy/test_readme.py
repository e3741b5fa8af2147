"""The README as a new user reads it: the API walk-through runs as pasted against `make run`'s
server, and the test prerequisites are the ones the tests need."""

import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest

from tests.realstack import ROOT, free_port, wait_for

README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"### {title}\n")
    following = re.search(r"^#{2,3} ", README[start + 4 :], re.MULTILINE)
    return README[start : start + 4 + following.start()] if following else README[start:]


def code(title: str) -> str:
    """The shell block of a section (from its first ```sh to its last fence)."""
    text = section(title)
    return text[text.index("```sh\n") + len("```sh\n") : text.rindex("```")]


def walk_through() -> str:
    return code("Walk-through")


def specification_calls() -> str:
    """Pasted in the walk-through's terminal: it uses its API, KEY and new_key."""
    return code("The specification's calls")


@pytest.mark.parametrize("script", [walk_through(), specification_calls()])
def test_the_walk_through_has_nothing_to_fill_in(script):
    commands = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert [line for line in commands if re.search(r"<[a-z][^>]*>", line)] == []
    assert "uuidgen" not in script
    assert "jq" not in re.findall(r"\b\w+\b", script)
    assert "API=http://127.0.0.1:${PORT:-8000}/api/v1" in walk_through()
    assert "make run PORT=" in README


@pytest.mark.timeout(240)
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_walk_through_runs_as_pasted_against_make_run(tmp_path):
    """`make run` on embedded defaults (migrate, seed_demo, serve), then the README's blocks
    (the walk-through, then the specification's calls in the same terminal) in a POSIX shell,
    stopping at the first failing command."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "PORT")
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    def manage(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    manage("migrate", "--noinput", "-v0")
    manage("seed_demo")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def serving() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return True
        except OSError:
            return False

    try:
        wait_for(serving, 60, interval=0.5)
        done = subprocess.run(
            ["sh", "-e", "-c", walk_through() + specification_calls()], cwd=ROOT,
            env={**env, "PORT": str(port)},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=15)

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert '"reason":"receive"' in out
    assert '"status":"active"' in out
    assert '"status":"committed"' in out
    assert "idempotent-replayed: true" in out.lower()
    assert '"can_serve":true' in out
    assert '"disposition":"restock"' in out
    assert re.search(r'^etag: "\d+"', out, re.IGNORECASE | re.MULTILINE)
    # The specification's calls
    assert re.search(r'"productId":"TRAVEL-MUG-[A-Z2-9]{6}"', out)
    assert '"quantity":28,' in out
    assert re.search(r'"quantityChange":-2[,}]', out)
    assert '"status":"received"' in out
    assert '"totalQuantity":26,' in out
    assert '"isAvailable":true' in out
    assert '"applied":2,' in out
    assert '"report":"stock-by-location"' in out
    assert "day,movements,units_in,units_out" in out


def test_the_test_prerequisites_are_all_named():
    text = section("Running the tests")
    installed_by_ci = re.findall(r"missing\+=\((\S+)\)", (ROOT / ".ci" / "run").read_text())
    assert {"postgresql", "redis-server", "chromium", "nginx", "curl"} <= set(installed_by_ci)
    command = re.search(r"apt-get install ([^\n]+)", text).group(1).split()
    assert set(installed_by_ci) <= set(command)
    assert "TEST_DATABASE_NAME" in text
    assert "flush" in text.lower()
    assert '-m "not servers"' in text
