"""Views that exist only for these tests: they exercise the middleware's error mapping."""

from django.db import OperationalError
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from apps.core.errors import DomainError
from apps.inventory import services
from apps.merchants.models import Merchant


def database_gone(request: HttpRequest):
    raise OperationalError("server closed the connection unexpectedly")


def reserve(request: HttpRequest, pk: str | None = None):
    merchant = Merchant.objects.get(pk=request.POST["merchant"])
    product = merchant.products.get(pk=request.POST["product"])
    quantity = int(request.POST["quantity"])
    try:
        reservation = services.reservation_create(
            merchant=merchant,
            lines=[services.ReservationLineRequest(product=product, quantity=quantity)],
            actor=None,
            idempotency_key=request.headers["Idempotency-Key"],
        )
    except DomainError as error:
        return JsonResponse(error.to_dict(), status=409, content_type="application/problem+json")
    return JsonResponse({"id": str(reservation.pk)}, status=201)


urlpatterns = [
    path("", include("inventory_site.urls")),
    path("boom", database_gone),
    path("shop/reservations/", reserve),
    path("shop/reservations/<uuid:pk>/extend/", reserve),
]
