"""One bare Django view: what Django itself costs per request on this server."""

from django.http import JsonResponse
from django.urls import path


def bare(request, sku: str) -> JsonResponse:
    return JsonResponse({"sku": sku, "available": 10, "can_serve": True})


urlpatterns = [path("api/v1/availability/<path:sku>/", bare)]
