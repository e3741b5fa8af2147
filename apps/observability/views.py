"""Probes and metrics for operators and orchestrators. No session, no CSRF, no templates."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from apps.observability import metrics, selectors


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving. Checks nothing else: a dependency being down must not
    make an orchestrator restart a healthy process."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: database reachable and migrations applied (503 if not). Redis and
    the replica are reported but do not decide: stock writes need only the primary database,
    reads fall back to it without the replica, and Redis-backed work (cache, rate limit,
    events, background jobs) waits or degrades until Redis returns. Failing readiness for
    them would take every web process out of service for nothing. Those that fail are
    listed under `degraded`."""
    checks = selectors.readiness()
    ready = all(ok for name, (ok, _) in checks.items() if name not in selectors.NON_CRITICAL)
    degraded = [
        name for name, (ok, _) in checks.items() if name in selectors.NON_CRITICAL and not ok
    ]
    return JsonResponse(
        {
            "status": "ready" if ready else "unavailable",
            "degraded": degraded,
            "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()},
        },
        status=200 if ready else 503,
    )


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "")
        return hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode())
    # No token configured: only the machine itself may scrape (behind a proxy, REMOTE_ADDR is
    # the proxy, so set METRICS_TOKEN there).
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse(
            "Metrics need a bearer token.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
