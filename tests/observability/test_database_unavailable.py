import pytest


@pytest.mark.urls("tests.observability.urls")
def test_a_lost_database_is_a_503_problem_with_retry_after(client, settings):
    settings.STOCKROOM_RETRY_AFTER_SECONDS = 7
    response = client.get("/boom", HTTP_X_REQUEST_ID="trace-1")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "7"
    body = response.json()
    assert body["status"] == 503
    assert body["code"] == "database_unavailable"
    assert body["request_id"] == "trace-1"
    assert "Idempotency-Key" in body["detail"]
