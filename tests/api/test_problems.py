"""The exception handler answers any domain error by what the error's class says about itself."""

from apps.api.problems import PROBLEM_CONTENT_TYPE, api_exception_handler
from apps.core.errors import DomainError, InvalidState


class Teapot(DomainError):
    code = "teapot"
    title = "I am a teapot"
    http_status = 418


def test_a_domain_error_of_any_app_is_answered_from_its_class_attributes():
    response = api_exception_handler(Teapot("Short and stout.", spout=1), {})
    assert response.status_code == 418
    assert response.content_type == PROBLEM_CONTENT_TYPE
    assert response.data == {
        "type": "urn:stockroom:problem:teapot", "title": "I am a teapot", "status": 418,
        "detail": "Short and stout.", "code": "teapot", "fields": {}, "spout": 1,
    }  # fmt: skip


def test_a_state_is_reported_as_state_beside_the_http_status():
    response = api_exception_handler(InvalidState("Shipped.", status="in_transit"), {})
    assert (response.status_code, response.data["status"], response.data["state"]) == (
        409,
        409,
        "in_transit",
    )


def test_an_integer_past_64_bits_is_written_out_not_a_server_error():
    from apps.api.rendering import FastJSONRenderer

    assert FastJSONRenderer().render({"id": 2**70}) == b'{"id":1180591620717411303424}'
