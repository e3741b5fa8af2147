import functools
from collections.abc import Iterable
from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from apps.api.pagination import StandardPagination
from apps.api.tenancy import MerchantAccess
from apps.api.throttling import rate_limit_headers


class MerchantAPIView(GenericAPIView):
    """Base of every merchant endpoint: `request.merchant` is set (see tenancy) before the
    handler runs, and `request.actor` is the signed-in user or the API key."""

    permission_classes = [MerchantAccess]
    pagination_class = StandardPagination
    # No OPTIONS metadata: the OpenAPI schema is the description (OPTIONS answers 405).
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]

    def initial(self, request, *args, **kwargs):
        """DRF's checks, with the rate limit first: DRF authenticates and checks permissions
        before it throttles, so requests with no key or a wrong key were never counted."""
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(
            request
        )
        request.version, request.versioning_scheme = self.determine_version(
            request, *args, **kwargs
        )
        self.check_throttles(request)  # authenticates, counting a wrong key before refusing it
        self.perform_authentication(request)
        self.check_permissions(request)
        if any("\x00" in str(value) for value in kwargs.values()):
            raise exceptions.NotFound("No such object.")  # PostgreSQL cannot even compare NUL

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in rate_limit_headers(request).items():
            response[name] = value
        return response

    def query(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        """Validated query parameters (400 naming the parameter when invalid)."""
        if not self.request.query_params:  # the defaults: validated once per class
            return dict(_defaults(serializer_class))
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


@functools.cache
def _defaults(serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """What a query serializer makes of no parameters (every default is a constant)."""
    params = serializer_class(data={})
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)
