"""No write is ever redirected (a client following a 301 would send it again as a GET): every
API path answers with or without its trailing slash; elsewhere only GET and HEAD are
redirected to the slash URL; a write over plain HTTP is refused, not redirected to HTTPS."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.catalog.models import Product
from tests.api.operations import READS, WRITES, concrete, operation_id, seed
from tests.api.test_auth import assert_problem
from tests.api.test_request_bodies import send, valid_bodies

pytestmark = pytest.mark.django_db

REDIRECTS = {301, 302, 303, 307, 308}


def test_a_post_without_the_slash_creates_instead_of_listing(api, merchant):
    response = api.post("/api/v1/products", {"sku": "NEW-1", "name": "New"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["sku"] == "NEW-1"
    assert Product.objects.filter(merchant=merchant, sku="NEW-1").exists()


@pytest.mark.parametrize("operation", READS, ids=operation_id)
def test_every_read_answers_the_same_without_the_slash(api, merchant, operation):
    _, template = operation
    path = concrete(template, seed(merchant))
    with_slash, without = api.get(path), api.get(path.rstrip("/"))
    assert without.status_code not in REDIRECTS
    assert (without.status_code, content(without)) == (with_slash.status_code, content(with_slash))


def content(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
def test_every_write_is_served_without_the_slash(api, merchant, operation):
    method, template = operation
    values = seed(merchant)
    path = concrete(template, values).rstrip("/")
    body = json.dumps(valid_bodies(values).get(operation, {}))
    response = send(api, method, path, body)
    assert response.status_code not in {*REDIRECTS, 404, 405}, response.content
    # The same key on the slash form is the same request: replayed, not applied again.
    key = response.wsgi_request.headers["Idempotency-Key"]
    if response.status_code < 300:
        again = send(api, method, f"{path}/", body, **{"Idempotency-Key": key})
        assert again.status_code == response.status_code
        assert again["Idempotent-Replayed"] == "true"


def test_query_strings_are_kept(api, merchant):
    seed(merchant)
    response = api.get("/api/v1/stock?location=nowhere")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_pages_redirect_reads_only():
    client = Client()
    read = client.get("/dashboard")
    assert (read.status_code, read["Location"]) == (301, "/dashboard/")
    write = client.post("/dashboard", {"anything": "1"})
    assert write.status_code == 404


def test_a_write_over_plain_http_is_refused_not_redirected(api, merchant, settings):
    settings.SECURE_SSL_REDIRECT = True
    body = {"sku": "NEW-1", "name": "New"}
    refused = api.post("/api/v1/products", body, format="json")
    problem = assert_problem(refused, 403, "https_required")
    assert problem["detail"] == "Send this POST over HTTPS: https://testserver/api/v1/products"
    assert not Product.objects.filter(merchant=merchant).exists()
    read = api.get("/api/v1/products/")
    assert (read.status_code, read["Location"]) == (301, "https://testserver/api/v1/products/")
    assert api.post("/api/v1/products/", body, format="json", secure=True).status_code == 201
    page = Client().post("/admin/login/", {"username": "a", "password": "b"})
    assert (page.status_code, page["Content-Type"]) == (403, "text/plain")
