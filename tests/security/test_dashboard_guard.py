"""rq-dashboard's guard, from the attacker's side: credentials compared in constant time, actions same-origin only."""

import base64

import pytest

from app.monitoring import dashboard


def basic(user: str, password: str) -> dict:
    """An Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


AUTH = basic("admin", "s3cret")
# Every dashboard route that changes state, with its method (requeue answers GET too).
ACTIONS = [
    ("GET", "/rq/requeue/images"),
    ("POST", "/rq/requeue/images"),
    ("POST", "/rq/job/image-x/requeue"),
    ("POST", "/rq/job/image-x/delete"),
    ("POST", "/rq/queue/images/failed/empty"),
    ("POST", "/rq/queue/images/compact"),
]
HOSTILE_SOURCES = {
    "no-origin-no-referer": {},
    "other-origin": {"Origin": "http://evil.example"},
    "other-referer": {"Referer": "http://evil.example/rq/"},
    "lookalike-host": {"Origin": "http://localhost.evil.example"},
    "null-origin": {"Origin": "null"},
}


@pytest.mark.parametrize(("method", "url"), ACTIONS)
@pytest.mark.parametrize("source", HOSTILE_SOURCES.values(), ids=HOSTILE_SOURCES.keys())
def test_action_from_anywhere_but_the_dashboard_is_403(client, method, url, source):
    response = client.open(url, method=method, headers={**AUTH, **source})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "url"), ACTIONS)
def test_every_dashboard_route_that_changes_state_is_recognised(app, method, url):
    with app.test_request_context(url, method=method):
        assert dashboard.is_state_changing()


def test_same_origin_referer_passes(client):
    headers = {**AUTH, "Referer": "http://localhost/rq/"}
    assert client.get("/rq/requeue/images", headers=headers).status_code != 403


@pytest.mark.parametrize(
    "headers",
    [
        basic("admin", ""),
        basic("", "s3cret"),
        basic("Admin", "s3cret"),
        basic("admin", "s3cret "),
        {"Authorization": "Bearer s3cret"},
    ],
    ids=["empty-password", "empty-user", "user-case", "trailing-space", "bearer"],
)
def test_near_miss_credentials_are_401(client, headers):
    assert client.get("/rq/", headers=headers).status_code == 401


def test_both_credentials_are_compared_in_constant_time_even_when_the_user_is_wrong(client, monkeypatch):
    compared = []

    def spy(given, expected):
        compared.append((given, expected))
        return given == expected

    monkeypatch.setattr(dashboard.hmac, "compare_digest", spy)
    assert client.get("/rq/", headers=basic("mallory", "guess")).status_code == 401
    assert compared == [(b"mallory", b"admin"), (b"guess", b"s3cret")]


@pytest.mark.parametrize(("method", "url"), ACTIONS + [("GET", "/rq/"), ("GET", "/rq/0/data/queues.json")])
def test_dashboard_is_404_everywhere_without_a_password(make_app, method, url):
    client = make_app(DASHBOARD_PASSWORD="").test_client()
    assert client.open(url, method=method, headers=basic("admin", "")).status_code == 404
