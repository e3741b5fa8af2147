"""The ceiling for the HTTP benchmarks: the product's own settings, with no middleware and one
URL, a Django view answering a small JSON document. Served by the same server, with the same
workers and threads, in the same run as the product (`bench.wsgi_bare`)."""

from inventory_site.settings.local import *  # noqa: F403

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare_urls"
