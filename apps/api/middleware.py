"""A write is never redirected: a client that follows a 301 sends a POST again as a GET, and
gets a list instead of a change. Both of Django's redirects (APPEND_SLASH, SECURE_SSL_REDIRECT)
are kept for reads only."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.middleware import common, security
from django.urls import is_valid_path

from apps.api.problems import PROBLEM_CONTENT_TYPE, problem

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


class HttpsWritesMiddleware:
    """Goes right before Django's SecurityMiddleware (which `check --deploy` looks for by
    name). With SECURE_SSL_REDIRECT, a GET or HEAD over plain HTTP is still redirected to
    HTTPS; any other method is refused with 403 (problem+json under /api/), naming the HTTPS
    URL to send it to."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.security = security.SecurityMiddleware(get_response)

    def __call__(self, request):
        if request.method not in REDIRECTABLE_METHODS:
            redirect = self.security.process_request(request)
            if redirect is not None:
                return https_required(request, redirect["Location"])
        return self.get_response(request)


def https_required(request, url: str) -> HttpResponse:
    detail = f"Send this {request.method} over HTTPS: {url}"
    if not request.path.startswith(API_PREFIX):
        return HttpResponseForbidden(detail, content_type="text/plain")
    body = problem(status_code=403, code="https_required", title="HTTPS required", detail=detail)
    return JsonResponse(body, status=403, content_type=PROBLEM_CONTENT_TYPE)
