from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.api.idempotency import plain_write
from apps.api.schema import OPTIONAL_IDEMPOTENCY_PARAMETER
from apps.api.serializers import NoBodySerializer
from apps.api.tenancy import require_all_locations
from apps.api.views import MerchantAPIView
from apps.locations import selectors, services
from apps.locations.api.serializers import LocationFilterSerializer, LocationSerializer


class LocationListView(MerchantAPIView):
    @extend_schema(
        operation_id="locations_list",
        parameters=[LocationFilterSerializer],
        responses=LocationSerializer(many=True),
        tags=["locations"],
    )
    def get(self, request):
        filters = self.query(LocationFilterSerializer)
        return self.paginated(
            selectors.location_list(merchant=request.merchant, **filters), LocationSerializer
        )

    @extend_schema(
        operation_id="locations_create",
        request=LocationSerializer,
        responses={201: LocationSerializer},
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["locations"],
    )
    def post(self, request):
        def perform() -> Response:
            fields = self.body(LocationSerializer)
            location = services.location_create(merchant=request.merchant, **fields)
            return Response(LocationSerializer(location).data, status=status.HTTP_201_CREATED)

        require_all_locations(request, "create locations")
        return plain_write(request, "POST locations", perform)


class LocationDetailView(MerchantAPIView):
    def location(self, code: str):
        return selectors.location_get(merchant=self.request.merchant, code=code)

    @extend_schema(
        operation_id="locations_retrieve", responses=LocationSerializer, tags=["locations"]
    )
    def get(self, request, code: str):
        return Response(LocationSerializer(self.location(code)).data)

    @extend_schema(
        operation_id="locations_update",
        request=LocationSerializer,
        responses=LocationSerializer,
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["locations"],
    )
    def put(self, request, code: str):
        return self._update(request, code, partial=False)

    @extend_schema(
        operation_id="locations_partial_update",
        request=LocationSerializer,
        responses=LocationSerializer,
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["locations"],
    )
    def patch(self, request, code: str):
        return self._update(request, code, partial=True)

    def _update(self, request, code: str, *, partial: bool) -> Response:
        def perform() -> Response:
            location = self.location(code)
            data = LocationSerializer(location, data=request.data, partial=partial)
            data.is_valid(raise_exception=True)
            location = services.location_update(location=location, **data.validated_data)
            return Response(LocationSerializer(location).data)

        require_all_locations(request, "change locations")
        return plain_write(request, f"{request.method} locations", perform)

    @extend_schema(
        operation_id="locations_destroy",
        responses={204: None},
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["locations"],
        description="Refused with 409 while the location holds stock, active reservations, open "
        "transfers or stock history: set `status` to `inactive` instead.",
    )
    def delete(self, request, code: str):
        def perform() -> Response:
            self.body(NoBodySerializer)
            services.location_delete(location=self.location(code))
            return Response(status=status.HTTP_204_NO_CONTENT)

        require_all_locations(request, "delete locations")
        return plain_write(request, "DELETE locations", perform)
