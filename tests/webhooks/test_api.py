"""The webhooks API on fakeredis: registering, listing, rotating, removing; owners and scopes kept apart."""

import base64

import pytest
from standardwebhooks import Webhook

from app.pipeline.access import DEFAULT_SCOPES
from app.pipeline.webhooks.signing import sign_headers

PUBLIC_URL = "https://93.184.216.34/hooks"


@pytest.fixture(autouse=True)
def as_alice(acting_as):
    """Every request acts as alice with webhooks:manage unless a test says otherwise."""
    acting_as("alice")
    return acting_as


def register(client, url=PUBLIC_URL, events=("image.done",)):
    """POST an endpoint; returns the response."""
    return client.post("/api/webhooks", json={"url": url, "events": list(events)})


def test_registering_answers_201_with_the_secret_once(client):
    created = register(client, events=["image.done", "image.failed"])
    assert created.status_code == 201
    endpoint = created.get_json()
    assert endpoint["url"] == PUBLIC_URL and endpoint["events"] == ["image.done", "image.failed"]
    assert endpoint["enabled"] is True and endpoint["id"].startswith("whe_")
    assert endpoint["secret"].startswith("whsec_")
    assert len(base64.b64decode(endpoint["secret"].removeprefix("whsec_"))) >= 24

    listed = client.get("/api/webhooks").get_json()["items"]
    assert [item["id"] for item in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in client.get(f"/api/webhooks/{endpoint['id']}").get_json()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/hooks", "https://10.0.0.1/hooks", "https://169.254.169.254/", "https://u:p@93.184.216.34/"],
)
def test_registering_an_unsafe_url_is_refused_with_a_code(client, url):
    refused = register(client, url=url)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "webhook_url_refused"
    assert client.get("/api/webhooks").get_json()["items"] == []


@pytest.mark.parametrize(
    "body", [None, [], {"url": PUBLIC_URL}, {"url": PUBLIC_URL, "events": ["image.exploded"]}, {"events": ["ping"]}]
)
def test_a_malformed_registration_is_a_400(client, body):
    refused = client.post("/api/webhooks", json=body)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] in ("bad_request", "webhook_url_refused")


def test_an_endpoint_of_another_owner_is_not_found(client, as_alice):
    endpoint = register(client).get_json()
    as_alice("bob")
    assert client.get("/api/webhooks").get_json()["items"] == []
    for method, path in [
        ("get", f"/api/webhooks/{endpoint['id']}"),
        ("delete", f"/api/webhooks/{endpoint['id']}"),
        ("post", f"/api/webhooks/{endpoint['id']}/rotate"),
        ("post", f"/api/webhooks/{endpoint['id']}/test"),
        ("get", f"/api/webhooks/{endpoint['id']}/deliveries"),
    ]:
        answer = getattr(client, method)(path)
        assert answer.status_code == 404, (method, path)
        assert answer.get_json()["error"]["code"] == "not_found"


def test_a_key_without_the_webhooks_scope_is_forbidden(client, as_alice):
    as_alice("alice", scopes=DEFAULT_SCOPES)
    answer = register(client)
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/webhooks").status_code == 403


def test_an_admin_holds_the_webhooks_scope(client, as_alice):
    as_alice("ops", scopes={"admin"})
    assert register(client).status_code == 201


def test_deleting_an_endpoint_removes_it(client):
    endpoint = register(client).get_json()
    assert client.delete(f"/api/webhooks/{endpoint['id']}").status_code == 204
    assert client.get(f"/api/webhooks/{endpoint['id']}").status_code == 404
    assert client.delete(f"/api/webhooks/{endpoint['id']}").status_code == 404


def test_rotation_shows_a_new_secret_and_both_sign_meanwhile(client, app):
    endpoint = register(client).get_json()
    rotated = client.post(f"/api/webhooks/{endpoint['id']}/rotate")
    assert rotated.status_code == 200
    new_secret = rotated.get_json()["secret"]
    assert new_secret != endpoint["secret"]

    from app.extensions import db
    from app.models import WebhookEndpoint, utcnow
    from app.pipeline.webhooks.delivery import secrets_in_force

    with app.app_context():
        row = db.session.get(WebhookEndpoint, endpoint["id"])
        in_force = secrets_in_force(row, utcnow())
    assert in_force == [new_secret, endpoint["secret"]]
    body = '{"type":"ping"}'
    headers = sign_headers("msg_1", body, in_force)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new_secret, endpoint["secret"]):
        assert Webhook(secret).verify(body, headers) == {"type": "ping"}


def test_ping_is_queued_on_the_webhooks_queue_and_logged(client, fake_redis):
    from rq import Queue
    from rq.serializers import JSONSerializer

    endpoint = register(client).get_json()
    pinged = client.post(f"/api/webhooks/{endpoint['id']}/test")
    assert pinged.status_code == 202
    delivery = pinged.get_json()
    assert (
        delivery["event_type"] == "ping" and delivery["status"] == "pending" and delivery["event_id"].startswith("msg_")
    )
    queue = Queue("webhooks", connection=fake_redis, serializer=JSONSerializer)
    assert queue.job_ids == [f"webhook-{delivery['id']}-1"]
    log = client.get(f"/api/webhooks/{endpoint['id']}/deliveries").get_json()["items"]
    assert [item["id"] for item in log] == [delivery["id"]]


def test_redelivering_another_owners_delivery_is_not_found(client, as_alice):
    endpoint = register(client).get_json()
    delivery = client.post(f"/api/webhooks/{endpoint['id']}/test").get_json()
    as_alice("bob")
    assert client.post(f"/api/deliveries/{delivery['id']}/redeliver").status_code == 404
    assert client.post("/api/deliveries/not-a-number/redeliver").status_code == 404
