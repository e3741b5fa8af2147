from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy

from apps.dashboard.selectors import (
    dashboard_access,
    dashboard_locations,
    dashboard_merchants,
    dashboard_snapshot,
)


def _pick(queryset, wanted: str | None):
    if wanted and wanted.isdigit():
        return queryset.filter(pk=int(wanted)).first()
    return queryset.first()


@login_required(login_url=reverse_lazy("admin:login"))
def dashboard(request: HttpRequest) -> HttpResponse:
    """The live stock dashboard of one location (chosen with ?merchant= and ?location=)."""
    merchants = dashboard_merchants(request.user)
    merchant = _pick(merchants, request.GET.get("merchant"))
    context = {**admin.site.each_context(request), "title": "Live stock", "merchants": merchants}
    if merchant is None:
        if request.GET.get("merchant"):
            raise Http404("No such merchant.")
        return render(request, "dashboard/index.html", context)
    access = dashboard_access(request.user, merchant)
    if access is None:
        raise Http404("No such merchant.")
    locations = dashboard_locations(access)
    location = _pick(locations, request.GET.get("location"))
    if location is None and request.GET.get("location"):
        raise Http404("No such location.")
    context.update(merchant=merchant, locations=locations, location=location)
    if location is not None:
        snapshot = dashboard_snapshot(merchant_id=merchant.pk, location=location)
        context.update(
            snapshot=snapshot,
            stream_config={
                "path": "/ws/stock/",
                "port": settings.STOCKROOM_WEBSOCKET_PORT,
                "merchant": merchant.pk,
                "location": location.pk,
                "since": snapshot.since,
                "movements": snapshot.movements,
                "alerts": snapshot.alerts,
            },
        )
    return render(request, "dashboard/index.html", context)
