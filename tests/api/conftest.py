from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from apps.apikeys.services import api_key_create
from tests import factories


class MerchantClient(APIClient):
    """An APIClient for one merchant's API key; `post_stock` adds a fresh Idempotency-Key."""

    def post_stock(self, path: str, data=None, *, key: str | None = None, **extra):
        headers = {"Idempotency-Key": key or str(uuid.uuid4()), **extra.pop("headers", {})}
        return self.post(path, data, format="json", headers=headers, **extra)


def client_for(merchant, *, read_only: bool = False) -> MerchantClient:
    _, raw_key = api_key_create(merchant=merchant, name="tests", read_only=read_only)
    client = MerchantClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    client.raw_key = raw_key
    return client


@pytest.fixture
def api(merchant) -> MerchantClient:
    return client_for(merchant)


@pytest.fixture
def other_api(other_merchant) -> MerchantClient:
    return client_for(other_merchant)


@pytest.fixture
def read_only_api(merchant) -> MerchantClient:
    return client_for(merchant, read_only=True)


@pytest.fixture
def stocked(product, location):
    """`product` with 10 units at `location`."""
    return factories.stock(product, location, 10)
