"""The benchmark harness still runs end to end: short scenarios on tiny data against the test
database, driven by wrk, each beside its ceiling (pgbench on scratch tables, the bare Django
view) in the same run, with their checks holding and `inventory_verify` clean. No timing is
asserted."""

import io
import json
from contextlib import redirect_stdout

import pytest
from django.conf import settings
from django.db import connection

from bench.__main__ import main

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.concurrency,
    pytest.mark.servers,  # granian and uvicorn on loopback, wrk and pgbench against them
]


def run_bench(tmp_path, monkeypatch, *args: str) -> tuple[int, str, dict]:
    database = settings.DATABASES["default"]
    monkeypatch.setenv(
        "DATABASE_URL",
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
    )
    monkeypatch.setenv("REDIS_URL", settings.REDIS_URL)
    output = tmp_path / "result.json"
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(
            [
                "--seconds", "1", "--small", "--workers", "1", "--threads", "2",
                "--no-background", "--output", str(output), *args,
            ]
        )  # fmt: skip
    return status, out.getvalue(), json.loads(output.read_text())


def scratch_tables_left() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'bench\\_scratch\\_%%'"
        )
        return [name for (name,) in cursor.fetchall()]


def table_line(table: str, scenario: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(scenario + " "))


def test_write_and_read_scenarios_run_beside_their_ceilings(tmp_path, monkeypatch):
    status, table, report = run_bench(tmp_path, monkeypatch, "--scenarios", "hot,flash,reads")
    assert status == 0, table
    assert table.startswith("Load average (1, 5, 15 min): ")
    run = report["runs"][0]
    # pgbench clients = the HTTP workers' database connections (1 worker x 2 threads).
    assert report["db_connections"] == 2

    hot = run["hot"]
    assert hot["product"]["ok"] > 0
    assert hot["product"]["non_2xx"] == 0
    assert hot["row"]["errors"] == 0
    assert hot["ceiling"]["clients"] == 2
    assert hot["ceiling"]["ops_per_s"] > 0
    assert hot["row"]["ratio"] == round(
        hot["product"]["ops_per_s"] / hot["ceiling"]["ops_per_s"], 3
    )
    # The ceiling's statement reserved exactly what its ledger and reservations say.
    assert hot["ceiling"]["state"]["consistent"] is True
    assert hot["ceiling"]["state"]["ledger_rows"] == hot["ceiling"]["transactions"]
    # Unique idempotency keys: every 201 was a new reservation.
    assert hot["facts"]["every_2xx_a_new_reservation"] is True
    assert hot["verify"]["clean"] is True
    assert " pgbench x2 " in table_line(table, "hot")
    assert ">=1,000/s, >=1/3 ceiling, p99 <=150 ms" in table_line(table, "hot")

    flash = run["flash"]["facts"]
    assert flash["units"] == 100
    assert flash["answered"] == flash["requests"] == 2_000
    assert flash["statuses"] == {"201": 100, "409": 1_900}
    assert flash["reserved_units"] == flash["reservations"] == 100
    assert flash["exact"] is True
    assert flash["late_409"]["n"] == 1_900
    assert flash["sold_out_s"] > 0
    assert run["flash"]["ceiling"]["exact"] is True
    assert run["flash"]["ceiling"]["state"]["reservations"] == 100
    assert run["flash"]["ceiling"]["sold_out_s"] > 0
    assert run["flash"]["verify"]["clean"] is True

    reads = run["reads"]
    assert reads["product"]["ok"] > 0
    assert reads["ceiling"]["ok"] > 0
    assert reads["row"]["ceiling"] == "bare view"
    assert reads["facts"]["staleness_samples"] > 0
    assert " bare view " in table_line(table, "reads")

    assert "inventory_verify: No drift" in table
    assert scratch_tables_left() == []
    assert run["_memory"]["web"]["peak_mb"] > 0


def test_hot_scenario_on_buckets_reserves_from_the_buckets(tmp_path, monkeypatch):
    status, table, report = run_bench(tmp_path, monkeypatch, "--scenarios", "hot", "--buckets", "4")
    assert status == 0, table
    hot = report["runs"][0]["hot"]
    facts = hot["facts"]
    assert facts["buckets"] == 4
    # Every reservation came out of a bucket; none wrote the level row.
    assert facts["level_writes_during_run"] == 0
    assert len(facts["reserved_per_bucket"]) == 4
    assert sum(facts["reserved_per_bucket"]) >= hot["product"]["ok"]
    assert facts["every_2xx_a_new_reservation"] is True
    assert hot["verify"]["clean"] is True
