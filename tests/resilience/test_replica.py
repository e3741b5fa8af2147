"""Read replicas, proven on a real streaming replica: a private primary and a
`pg_basebackup -R` standby, both on loopback."""

import json
import sys

import pytest

from tests.resilience.servers import ROOT, django_env, manage

pytestmark = [pytest.mark.servers, pytest.mark.timeout(240)]


def test_reads_go_to_the_replica_and_own_writes_to_the_primary(private_postgres, workdir):
    import subprocess

    env = django_env(DATABASE_URL=private_postgres.url())
    migrated = manage("migrate", "--noinput", "-v0", env=env, timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    standby = private_postgres.replica()
    try:
        assert standby.execute("SELECT pg_is_in_recovery()") == [(True,)]
        env["DATABASE_REPLICA_URL"] = standby.url()
        run = subprocess.run(
            [sys.executable, "-m", "tests.resilience.probes", "replica"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout.strip().splitlines()[-1])

        assert result["replica_in_recovery"] is True
        assert result["read_alias"] == "replica"
        assert result["replica_caught_up"] == 10
        assert result["write_returned"] == 15  # the write went to the primary
        # Replay paused: the replica still has the old figure, the primary the new one.
        assert result["read_from_replica_while_paused"] == 10
        assert result["read_with_use_primary"] == 15
        assert result["read_inside_transaction"] == 15
        assert result["alias_inside_transaction"] == "default"
        assert result["read_from_replica_after_resume"] == 15

        # Migrations never run on the replica, and /readyz checks it.
        ready = manage("shell", "-c", READY_SCRIPT, env=env)
        assert ready.returncode == 0, ready.stderr
        assert json.loads(ready.stdout.strip().splitlines()[-1])["replica"] == [True, "ok"]

        standby.stop("immediate")
        env["DATABASE_POOL_TIMEOUT"] = "2"
        run = subprocess.run(
            [sys.executable, "-m", "tests.resilience.probes", "replica-down"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        down = json.loads(run.stdout.strip().splitlines()[-1])
        assert down["on_hand"] == 15  # answered by the primary
        assert down["read_alias"] == "default"
        assert down["ready_status"] == 200
        assert down["replica_check"]["ok"] is False
    finally:
        standby.stop("immediate")


READY_SCRIPT = """
import json
from apps.observability.selectors import readiness
print(json.dumps(readiness()))
"""
