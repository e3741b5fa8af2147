"""Alerts over the API: list and filter, read, acknowledge and resolve, through the alert
services (the admin's lifecycle: triggered -> acknowledged -> resolved; low-stock alerts
resolve themselves when stock is replenished)."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.alerts import selectors, services
from apps.alerts.api.serializers import AlertFilterSerializer, AlertSerializer
from apps.alerts.models import Alert
from apps.api.idempotency import plain_write
from apps.api.schema import OPTIONAL_IDEMPOTENCY_PARAMETER
from apps.api.serializers import NoBodySerializer
from apps.api.tenancy import require_all_locations, require_locations
from apps.api.views import MerchantAPIView
from apps.inventory.services.stock import acting_user

TAGS = ["alerts"]


class AlertListView(MerchantAPIView):
    @extend_schema(
        operation_id="alerts_list",
        parameters=[AlertFilterSerializer],
        responses=AlertSerializer(many=True),
        tags=TAGS,
        description="The merchant's alerts, newest first: low stock, ledger drift, disabled "
        "webhook endpoints.",
    )
    def get(self, request):
        filters = dict(self.query(AlertFilterSerializer))
        alerts = selectors.alert_list(
            merchant_id=request.merchant.pk, is_open=filters.pop("open"), **filters
        )
        return self.paginated(alerts, AlertSerializer)


class AlertDetailView(MerchantAPIView):
    @extend_schema(operation_id="alerts_retrieve", responses=AlertSerializer, tags=TAGS)
    def get(self, request, alert_id: int):
        alert = selectors.alert_of_merchant(merchant_id=request.merchant.pk, alert_id=alert_id)
        return Response(AlertSerializer(alert).data)


def _action_view(name: str, act: Callable[..., Alert], description: str) -> type:
    """A view for POST alerts/{id}/<name>/ calling `act(request, alert)`."""

    def post(self, request, alert_id: int):
        def perform() -> Response:
            self.body(NoBodySerializer)
            alert = selectors.alert_of_merchant(merchant_id=request.merchant.pk, alert_id=alert_id)
            if alert.location is not None:
                require_locations(request, [alert.location])
            else:
                require_all_locations(request, f"{name} alerts about the whole merchant")
            return Response(AlertSerializer(act(request, alert)).data)

        return plain_write(request, f"POST alerts {name}", perform)

    documented = extend_schema(
        operation_id=f"alerts_{name}",
        request=None,
        responses=AlertSerializer,
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        description=description,
    )(post)
    return type(f"Alert{name.title()}View", (MerchantAPIView,), {"post": documented})


def _acknowledge(request, alert: Alert) -> Alert:
    return services.alert_acknowledge_requested(alert=alert, actor=acting_user(request.actor))


def _resolve(request, alert: Alert) -> Alert:
    return services.alert_resolve_requested(alert=alert)


AlertAcknowledgeView = _action_view(
    "acknowledge",
    _acknowledge,
    "Triggered -> acknowledged (someone is on it). An acknowledged alert stays as it is; a "
    "resolved one is refused (409).",
)
AlertResolveView = _action_view(
    "resolve",
    _resolve,
    "Open -> resolved. Low-stock alerts are refused (409): they resolve themselves when "
    "available rises above the threshold. A resolved alert stays as it is.",
)
