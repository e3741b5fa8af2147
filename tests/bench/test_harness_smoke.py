"""The benchmark harness still runs end to end: one short scenario on tiny data against the
test database, its table has the reference chain and `inventory_verify` is clean. No timing
is asserted."""

import io
import json
from contextlib import redirect_stdout

import pytest
from django.conf import settings

from bench.__main__ import main

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


@pytest.mark.parametrize("buckets", [0, 4])
def test_hot_sku_scenario_prints_the_reference_chain_and_a_clean_verify(
    tmp_path, monkeypatch, buckets
):
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
                "--seconds", "1", "--small", "--scenarios", "hot", "--workers", "1",
                "--db-connections", "2", "--no-background", "--output", str(output),
                "--buckets", str(buckets),
            ]
        )  # fmt: skip
    table = out.getvalue()
    assert status == 0, table
    assert "== hot" in table
    assert [line.split()[0] for line in table.splitlines() if line.strip().startswith(
        ("psycopg", "service", "api")
    )] == ["psycopg", "service", "api"]  # fmt: skip
    assert "inventory_verify: No drift" in table
    report = json.loads(output.read_text())
    rows = report["runs"][0]["hot"]["rows"]
    assert [row["driver"] for row in rows] == ["psycopg", "service", "api"]
    assert all(row["ok"] > 0 and row["server_5xx"] == 0 for row in rows)
    assert rows[0]["of_ceiling"] == 1.0
    assert report["runs"][0]["hot"]["verify"]["clean"] is True
    assert report["runs"][0]["_memory"]["web"]["peak_mb"] > 0
    facts = report["runs"][0]["hot"]["facts"]
    assert facts["buckets"] == buckets
    if buckets:
        # Every driver reserved from the buckets; none wrote the level row.
        assert facts["level_writes_during_run"] == 0
        assert len(facts["reserved_per_bucket"]) == buckets
        assert sum(facts["reserved_per_bucket"]) >= sum(row["ok"] for row in rows)
