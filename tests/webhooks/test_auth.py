"""The webhooks routes behind real API keys: every route wants a key with webhooks:manage, within its owner."""

import pytest

from app.pipeline.access import DEFAULT_SCOPES, WEBHOOKS
from tests.conftest import authorize, make_key

PUBLIC_URL = "https://93.184.216.34/hooks"
# Every webhooks route, called on one endpoint and one delivery id (the matrix in tests/security covers the rest).
ROUTES = [
    ("POST", "/api/webhooks"),
    ("GET", "/api/webhooks"),
    ("GET", "/api/webhooks/{endpoint}"),
    ("DELETE", "/api/webhooks/{endpoint}"),
    ("POST", "/api/webhooks/{endpoint}/rotate"),
    ("POST", "/api/webhooks/{endpoint}/test"),
    ("GET", "/api/webhooks/{endpoint}/deliveries"),
    ("POST", "/api/deliveries/1/redeliver"),
]


@pytest.fixture
def endpoint_id(app):
    """An endpoint of owner alice, registered with her managing key."""
    client = authorize(app.test_client(), make_key(app, "alice", DEFAULT_SCOPES | {WEBHOOKS}))
    return client.post("/api/webhooks", json={"url": PUBLIC_URL, "events": ["image.done"]}).get_json()["id"]


def call(client, method: str, path: str, endpoint_id: str):
    """Send one route's request."""
    body = {"json": {"url": PUBLIC_URL, "events": ["image.done"]}} if path == "/api/webhooks" else {}
    return client.open(path.format(endpoint=endpoint_id), method=method, **body)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_key_is_401(app, endpoint_id, method, path):
    answer = call(authorize(app.test_client(), None), method, path, endpoint_id)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_key_without_webhooks_manage_is_403(app, endpoint_id, method, path):
    client = authorize(app.test_client(), make_key(app, "alice", DEFAULT_SCOPES))
    answer = call(client, method, path, endpoint_id)
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), [route for route in ROUTES if "{endpoint}" in route[1]])
def test_another_owners_endpoint_is_404_and_stays(app, endpoint_id, method, path):
    bob = authorize(app.test_client(), make_key(app, "bob", DEFAULT_SCOPES | {WEBHOOKS}))
    assert call(bob, method, path, endpoint_id).status_code == 404
    alice = authorize(app.test_client(), make_key(app, "alice", DEFAULT_SCOPES | {WEBHOOKS}))
    assert alice.get(f"/api/webhooks/{endpoint_id}").status_code == 200


def test_routes_here_are_every_webhooks_route(app):
    rules = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("webhooks.")
             for method in rule.methods - {"HEAD", "OPTIONS"}}  # fmt: skip
    listed = {(method, path.replace("{endpoint}", "<endpoint_id>").replace("/1/", "/<delivery_id>/"))
              for method, path in ROUTES}  # fmt: skip
    assert rules == listed, rules ^ listed
