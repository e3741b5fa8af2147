from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.api.idempotency import plain_write
from apps.api.schema import OPTIONAL_IDEMPOTENCY_PARAMETER
from apps.api.serializers import NoBodySerializer
from apps.api.views import MerchantAPIView
from apps.catalog import selectors, services
from apps.catalog.api.serializers import (
    ProductFilterSerializer,
    ProductListItemSerializer,
    ProductSerializer,
)


class ProductListView(MerchantAPIView):
    @extend_schema(
        operation_id="products_list",
        parameters=[ProductFilterSerializer],
        responses=ProductListItemSerializer(many=True),
        tags=["products"],
    )
    def get(self, request):
        filters = self.query(ProductFilterSerializer)
        return self.paginated(
            selectors.product_list(merchant=request.merchant, **filters),
            ProductListItemSerializer,
        )

    @extend_schema(
        operation_id="products_create",
        request=ProductSerializer,
        responses={201: ProductSerializer},
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["products"],
        description="Without a `sku`, one is generated from the name and returned as `sku` "
        "and `productId`; send an Idempotency-Key so that a retry cannot create a second one.",
    )
    def post(self, request):
        def perform() -> Response:
            fields = self.body(ProductSerializer)
            product = services.product_create(merchant=request.merchant, **fields)
            return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

        return plain_write(request, "POST products", perform)


class ProductDetailView(MerchantAPIView):
    def product(self, sku: str):
        return selectors.product_get(merchant=self.request.merchant, sku=sku)

    @extend_schema(operation_id="products_retrieve", responses=ProductSerializer, tags=["products"])
    def get(self, request, sku: str):
        return Response(ProductSerializer(self.product(sku)).data)

    @extend_schema(
        operation_id="products_update",
        request=ProductSerializer,
        responses=ProductSerializer,
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["products"],
        description="Replace the product's fields (those left out take their defaults; the "
        "SKU, named by the path, need not be sent).",
    )
    def put(self, request, sku: str):
        return self._update(request, sku, partial=False)

    @extend_schema(
        operation_id="products_partial_update",
        request=ProductSerializer,
        responses=ProductSerializer,
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["products"],
    )
    def patch(self, request, sku: str):
        return self._update(request, sku, partial=True)

    def _update(self, request, sku: str, *, partial: bool) -> Response:
        def perform() -> Response:
            product = self.product(sku)
            data = ProductSerializer(product, data=request.data, partial=partial)
            data.is_valid(raise_exception=True)
            product = services.product_update(product=product, **data.validated_data)
            return Response(ProductSerializer(product).data)

        return plain_write(request, f"{request.method} products", perform)

    @extend_schema(
        operation_id="products_destroy",
        responses={204: None},
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["products"],
        description="Refused with 409 while the product has stock, active reservations or "
        "stock history: deactivate it instead (`active: false`).",
    )
    def delete(self, request, sku: str):
        def perform() -> Response:
            self.body(NoBodySerializer)
            services.product_delete(product=self.product(sku))
            return Response(status=status.HTTP_204_NO_CONTENT)

        return plain_write(request, "DELETE products", perform)
