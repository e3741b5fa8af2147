"""Several stateless web processes behind nginx (from the distribution, on loopback), and
several OS processes reserving the same stock: they agree, nothing is oversold."""

import json
import subprocess
import sys
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from apps.inventory.ledger_replay import find_drift, oversold_units
from apps.inventory.models import Reservation, StockLevel
from tests import factories
from tests.resilience.servers import (
    ROOT,
    current_database_url,
    django_env,
    load_balancer,
    web_server,
)

pytestmark = [pytest.mark.servers, pytest.mark.timeout(240)]
TOKEN = "load-balanced-test-token"


def healthz_count(base: str) -> float:
    response = requests.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "stockroom_http_request_duration_seconds_count" and sample.labels == {
                "method": "GET",
                "route": "healthz",
                "status": "200",
            }:
                return sample.value
    return 0.0


@pytest.mark.django_db(transaction=True)
def test_web_processes_behind_nginx(private_redis, workdir, processes):
    env = django_env(
        DATABASE_URL=current_database_url(), REDIS_URL=private_redis.url, METRICS_TOKEN=TOKEN
    )
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    multi, multi_port = web_server(
        {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, workdir, workers=2
    )
    processes.append(multi)
    single, single_port = web_server(env, workdir)
    processes.append(single)
    nginx, port = load_balancer([multi_port, single_port], workdir)
    processes.append(nginx)
    base = f"http://127.0.0.1:{port}"

    upstreams = Counter()
    with requests.Session() as session:
        for i in range(60):
            response = session.get(f"{base}/{'readyz' if i % 2 else 'healthz'}", timeout=10)
            assert response.status_code == 200, response.text
            upstreams[response.headers["X-Upstream"]] += 1
            # The id the balancer generated is the one the application used and returned.
            assert response.headers["X-Request-ID"] == response.headers["X-Proxy-Request-ID"]
    assert set(upstreams) == {f"127.0.0.1:{multi_port}", f"127.0.0.1:{single_port}"}
    assert min(upstreams.values()) >= 20  # round robin

    # Two server processes on one port, one metrics view: the histogram adds them up.
    direct = f"http://127.0.0.1:{multi_port}"
    before = healthz_count(direct)
    for _ in range(30):
        assert requests.get(f"{direct}/healthz", timeout=10).status_code == 200
    assert healthz_count(direct) == before + 30


@pytest.mark.django_db(transaction=True)
def test_several_processes_reserving_the_same_stock_never_oversell(product, location):
    level = factories.stock(product, location, 25)
    env = django_env(DATABASE_URL=current_database_url())
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.resilience.probes",
                "race",
                "--product",
                str(product.pk),
                "--attempts",
                "12",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["reserved"] for r in results) == 25
    assert sum(r["refused"] for r in results) == 3 * 12 - 25
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (25, 25)
    assert Reservation.objects.filter(status="active").count() == 25
    assert oversold_units() == 0
    assert find_drift() == []
    assert StockLevel.objects.get(pk=level.pk).available == 0
