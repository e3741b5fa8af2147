"""WSGI entry point: every HTTP request on the production stack (served by granian, see
`manage.py serve`). Websockets are served by the ASGI application (`inventory_site.asgi`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_site.settings.local")

application = get_wsgi_application()
