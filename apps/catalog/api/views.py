from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
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
    SubstitutionGroupSerializer,
    SubstitutionGroupUpdateSerializer,
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


def _member_requests(request, members: list[dict]) -> list[services.MemberRequest]:
    """The members as the service takes them; an unknown SKU is 400 naming its line."""
    products = selectors.products_by_sku(
        merchant=request.merchant, skus=[member["sku"] for member in members]
    )
    unknown = {
        f"members.{index}.sku": [f"Unknown SKU {member['sku']}."]
        for index, member in enumerate(members)
        if member["sku"] not in products
    }
    if unknown:
        raise exceptions.ValidationError(unknown)
    return [
        services.MemberRequest(
            product=products[member["sku"]], units=member["units"], priority=member["priority"]
        )
        for member in members
    ]


class SubstitutionGroupListView(MerchantAPIView):
    @extend_schema(
        operation_id="substitution_groups_list",
        responses=SubstitutionGroupSerializer(many=True),
        tags=["products"],
    )
    def get(self, request):
        return self.paginated(
            selectors.substitution_group_list(merchant=request.merchant),
            SubstitutionGroupSerializer,
        )

    @extend_schema(
        operation_id="substitution_groups_create",
        request=SubstitutionGroupSerializer,
        responses={201: SubstitutionGroupSerializer},
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["products"],
        description="Products that stand in for one another in proportion to their `units` "
        "(a 12-pack with units 12 for two 6-packs with units 6). A reservation line with "
        "`substitutes: true` takes from them when its SKU is short. A product belongs to at "
        "most one group.",
    )
    def post(self, request):
        def perform() -> Response:
            data = self.body(SubstitutionGroupSerializer)
            group = services.substitution_group_create(
                merchant=request.merchant,
                code=data["code"],
                name=data["name"],
                members=_member_requests(request, data["members"]),
            )
            fresh = selectors.substitution_group_get(merchant=request.merchant, code=group.code)
            return Response(SubstitutionGroupSerializer(fresh).data, status=status.HTTP_201_CREATED)

        return plain_write(request, "POST substitution-groups", perform)


class SubstitutionGroupDetailView(MerchantAPIView):
    def group(self, code: str):
        return selectors.substitution_group_get(merchant=self.request.merchant, code=code)

    @extend_schema(
        operation_id="substitution_groups_retrieve",
        responses=SubstitutionGroupSerializer,
        tags=["products"],
    )
    def get(self, request, code: str):
        return Response(SubstitutionGroupSerializer(self.group(code)).data)

    @extend_schema(
        operation_id="substitution_groups_partial_update",
        request=SubstitutionGroupUpdateSerializer,
        responses=SubstitutionGroupSerializer,
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["products"],
        description="Rename the group or replace its members (send the whole list).",
    )
    def patch(self, request, code: str):
        def perform() -> Response:
            group = self.group(code)
            data = self.body(SubstitutionGroupUpdateSerializer)
            if data.get("code", code) != code:
                raise exceptions.ValidationError(
                    {"code": ["A group's code cannot change: create a new group instead."]}
                )
            members = data.get("members")
            services.substitution_group_update(
                group=group,
                name=data.get("name"),
                members=None if members is None else _member_requests(request, members),
            )
            return Response(SubstitutionGroupSerializer(self.group(code)).data)

        return plain_write(request, "PATCH substitution-groups", perform)

    @extend_schema(
        operation_id="substitution_groups_destroy",
        responses={204: None},
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=["products"],
    )
    def delete(self, request, code: str):
        def perform() -> Response:
            self.body(NoBodySerializer)
            services.substitution_group_delete(group=self.group(code))
            return Response(status=status.HTTP_204_NO_CONTENT)

        return plain_write(request, "DELETE substitution-groups", perform)
