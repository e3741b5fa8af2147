"""Property-based tests of the whole API from its own OpenAPI schema: every operation gets
generated requests (valid and edge-case), authenticated with a real key over seeded data. No
response may be a server error or break the schema (status, content type, body)."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.api.schema import PATH_EXAMPLES
from apps.apikeys.services import api_key_create
from tests import factories

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = WSGIHandler()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def _keep_connection():
    """Serve in-process on the test's connection (and transaction), as Django's test client
    does: the handler would otherwise close it after each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded_key(settings, _keep_connection) -> str:
    """A merchant whose data the schema's path examples point at, and its API key."""
    settings.STOCKROOM_API_RATE_LIMIT = "100000/min"
    merchant = factories.merchant()
    product = factories.product(merchant, sku=PATH_EXAMPLES["sku"])
    location = factories.location(merchant, code=PATH_EXAMPLES["location"])
    factories.stock(product, location, 50)
    factories.location(merchant, code="empty-store")
    _, raw_key = api_key_create(merchant=merchant, name="schemathesis")
    return raw_key


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, seeded_key):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {seeded_key}", "Idempotency-Key": str(uuid.uuid4())},
        checks=CHECKS,
    )
