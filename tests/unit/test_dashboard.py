"""rq-dashboard at /rq: Basic auth on every URL, same-origin for actions."""

import base64

import pytest

from app import create_app

DASHBOARD_URLS = [
    ("GET", "/rq/"),
    ("GET", "/rq/0/data/queues.json"),
    ("GET", "/rq/0/data/workers.json"),
    ("GET", "/rq/0/view/workers"),
    ("GET", "/rq/requeue/images"),
    ("POST", "/rq/job/image-x/requeue"),
    ("POST", "/rq/job/image-x/delete"),
    ("POST", "/rq/queue/images/failed/empty"),
]


def basic(user: str, password: str) -> dict:
    """An Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(("method", "url"), DASHBOARD_URLS)
def test_every_dashboard_url_needs_credentials(client, method, url):
    response = client.open(url, method=method)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_password_is_refused(client):
    assert client.get("/rq/", headers=basic("admin", "wrong")).status_code == 401


def test_dashboard_shows_with_credentials(client):
    response = client.get("/rq/0/data/queues.json", headers=basic("admin", "s3cret"))
    assert response.status_code == 200
    assert "queues" in response.get_json()


def test_cross_origin_requeue_is_refused(client):
    headers = {**basic("admin", "s3cret"), "Origin": "http://evil.example"}
    assert client.get("/rq/requeue/images", headers=headers).status_code == 403


def test_same_origin_action_passes_the_guard(client):
    headers = {**basic("admin", "s3cret"), "Origin": "http://localhost"}
    assert client.post("/rq/queue/images/failed/empty", headers=headers).status_code == 200


def test_dashboard_is_disabled_without_a_password(app, tmp_path, fake_redis, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "other"))
    other = create_app({**app.config, "DASHBOARD_PASSWORD": None, "REDIS_CLIENT": fake_redis})
    assert other.test_client().get("/rq/", headers=basic("admin", "")).status_code == 404
