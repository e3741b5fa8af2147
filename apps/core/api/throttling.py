import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from apps.apikeys.models import ApiKey
from apps.core.cache import CACHE_ERRORS

logger = logging.getLogger(__name__)


class CredentialRateThrottle(SimpleRateThrottle):
    """A request budget per API key (or per signed-in user, or per address when anonymous).
    The rate is `STOCKROOM_API_RATE_LIMIT` (e.g. "1200/min"); refusals are 429 with
    Retry-After. The budget is counted in the cache: while the cache is unreachable requests
    are let through unmetered, so a Redis outage never refuses a stock write."""

    scope = "api"

    def get_rate(self) -> str | None:
        return settings.STOCKROOM_API_RATE_LIMIT

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return f"throttle:api:{ident}"

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as error:
            logger.warning("Rate limit not checked, the cache is unreachable: %s", error)
            return True
