"""METRICS_TOKEN: when set, /metrics answers only a scraper that sends it as Bearer."""

import pytest

TOKEN = "scrape-me-0123456789"


@pytest.fixture
def guarded(app):
    """The unit app with METRICS_TOKEN set."""
    app.config["METRICS_TOKEN"] = TOKEN
    return app.test_client()


def test_metrics_are_open_without_a_token_setting(client):
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer é"],
)
def test_metrics_without_the_token_are_401(guarded, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = guarded.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert b"pixline_" not in response.data


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_metrics_with_the_token_are_served(guarded, scheme):
    response = guarded.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
    assert response.status_code == 200
    assert b"pixline_images" in response.data
