"""Django's CommonMiddleware, except that a write is never redirected."""

from __future__ import annotations

from django.middleware import common
from django.urls import is_valid_path

API_PREFIX = "/api/"
REDIRECTABLE_METHODS = ("GET", "HEAD")


class CommonMiddleware(common.CommonMiddleware):
    """Replaces `django.middleware.common.CommonMiddleware` in MIDDLEWARE.

    APPEND_SLASH answers a path missing its trailing slash with a 301 to the slash URL, and a
    client that follows it turns a POST into a GET (`POST /api/v1/products` would list the
    products and create nothing). Instead:

    - under /api/, a path that resolves only with its trailing slash is served as that path,
      for every method: both forms are the same endpoint (and the same request for
      idempotency);
    - elsewhere, only GET and HEAD are redirected; any other method gets the 404 of the path
      it was sent to.
    """

    def process_request(self, request):
        path = request.path_info
        if path.startswith(API_PREFIX) and not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf):
                request.path_info = f"{path}/"
                request.path = f"{request.path}/"
        return super().process_request(request)

    def should_redirect_with_slash(self, request) -> bool:
        return request.method in REDIRECTABLE_METHODS and super().should_redirect_with_slash(
            request
        )
