import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder


def test_healthz_answers_without_touching_dependencies(client):
    # No django_db mark: any database access would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_readyz_reports_each_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis", "migrations"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_reports_unreachable_redis_without_failing(client, settings, unused_port):
    """Writes need only PostgreSQL: a process without Redis still takes traffic (degraded)."""
    settings.REDIS_URL = f"redis://127.0.0.1:{unused_port}/0"
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["degraded"]) == ("ready", ["redis"])
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_is_503_while_a_migration_is_unapplied(client):
    MigrationRecorder(connection).record_unapplied("observability", "0001_initial")
    response = client.get("/readyz")
    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations["ok"] is False
    assert "observability.0001_initial" in migrations["detail"]


def test_probes_refuse_other_methods(client):
    assert client.post("/healthz").status_code == 405
