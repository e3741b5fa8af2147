from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.demo.selectors import demo_logins


def _embedded_defaults() -> bool:
    """Running as `make run` does with nothing configured: SQLite and no Redis."""
    engine = settings.DATABASES["default"]["ENGINE"]
    return not settings.REDIS_URL and engine == "django.db.backends.sqlite3"


@never_cache
@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    """`/`: what Stockroom is and where to go (admin, dashboard, API docs, health), with the
    demo logins while the demo's people can still sign in with them."""
    context = {
        **admin.site.each_context(request),
        "title": "Stockroom",
        "demo_logins": demo_logins(),
        "embedded": _embedded_defaults(),
    }
    return render(request, "home/index.html", context)
