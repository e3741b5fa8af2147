from collections.abc import Iterable
from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from apps.api.pagination import StandardPagination
from apps.api.tenancy import MerchantAccess


class MerchantAPIView(GenericAPIView):
    """Base of every merchant endpoint: `request.merchant` is set (see tenancy) before the
    handler runs, and `request.actor` is the signed-in user or the API key."""

    permission_classes = [MerchantAccess]
    pagination_class = StandardPagination
    # No OPTIONS metadata: the OpenAPI schema is the description (OPTIONS answers 405).
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if any("\x00" in str(value) for value in kwargs.values()):
            raise exceptions.NotFound("No such object.")  # PostgreSQL cannot even compare NUL

    def query(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        """Validated query parameters (400 naming the parameter when invalid)."""
        params = serializer_class(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.validated_data

    def body(self, serializer_class: type[serializers.Serializer], **kwargs: Any) -> Any:
        data = serializer_class(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        data.is_valid(raise_exception=True)
        return data.validated_data

    def paginated(
        self, items: Iterable[Any], serializer_class: type[serializers.Serializer]
    ) -> Response:
        page = self.paginate_queryset(items)
        return self.get_paginated_response(serializer_class(page, many=True).data)
