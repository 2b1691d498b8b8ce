"""What one owner's webhooks may take: /test and redeliver rate-limited per owner, a cap on pending deliveries."""

import io

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import WebhookDelivery
from app.pipeline.jobs import process_image
from app.web.ratelimit import parse_rate
from config import ConfigError
from tests.conftest import TEST_OWNER, base_config
from tests.support.images import encoded

PUBLIC_URL = "https://93.184.216.34/hooks"


@pytest.fixture(autouse=True)
def as_alice(acting_as):
    """Every request acts as alice with webhooks:manage unless a test says otherwise."""
    acting_as("alice")
    return acting_as


def register(client) -> str:
    """An endpoint of the acting owner's; its id."""
    created = client.post("/api/webhooks", json={"url": PUBLIC_URL, "events": ["image.done"]})
    assert created.status_code == 201
    return created.get_json()["id"]


def test_test_calls_past_the_rate_are_429_rate_limited_with_retry_after(client, app):
    endpoint_id = register(client)
    answers = [client.post(f"/api/webhooks/{endpoint_id}/test") for _ in range(11)]
    assert [answer.status_code for answer in answers] == [202] * 10 + [429]
    refused = answers[-1]
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    with app.app_context():
        assert db.session.query(WebhookDelivery).count() == 10


def test_redeliver_shares_the_budget_and_other_owners_have_their_own(client, as_alice):
    endpoint_id = register(client)
    first = client.post(f"/api/webhooks/{endpoint_id}/test").get_json()
    assert all(client.post(f"/api/deliveries/{first['id']}/redeliver").status_code == 202 for _ in range(9))
    refused = client.post(f"/api/deliveries/{first['id']}/redeliver")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    as_alice("bob")
    assert client.post(f"/api/webhooks/{register(client)}/test").status_code == 202


def test_the_rate_is_a_setting_and_a_bad_one_names_it(tmp_path, fake_redis):
    with pytest.raises(ConfigError, match="WEBHOOK_TEST_RATE_LIMIT"):
        create_app({**base_config(tmp_path), "REDIS_CLIENT": fake_redis, "WEBHOOK_TEST_RATE_LIMIT": "lots"})
    assert parse_rate("3/hour").count == 3


def test_a_test_call_past_the_pending_cap_is_429_webhook_backlog(app, client):
    app.config["WEBHOOK_MAX_PENDING"] = 2
    endpoint_id = register(client)
    assert [client.post(f"/api/webhooks/{endpoint_id}/test").status_code for _ in range(2)] == [202, 202]
    refused = client.post(f"/api/webhooks/{endpoint_id}/test")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "webhook_backlog"
    assert "2 webhook deliveries waiting" in refused.get_json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1


def test_events_past_the_pending_cap_are_recorded_as_not_sent(app, client, acting_as):
    app.config["WEBHOOK_MAX_PENDING"] = 1
    acting_as(TEST_OWNER)
    endpoint_id = register(client)
    form = {"file": (io.BytesIO(encoded(64, 48)), "a.jpg")}
    ids = [client.post("/api/images", data=dict(form), content_type="multipart/form-data").get_json()["id"]]
    form = {"file": (io.BytesIO(encoded(64, 48)), "b.jpg")}
    ids.append(client.post("/api/images", data=form, content_type="multipart/form-data").get_json()["id"])
    with app.app_context():
        for image_id in ids:
            process_image(image_id)
        rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        assert [row.status for row in rows] == ["pending", "failed"]
        [attempt] = rows[1].attempt_log
        assert attempt.error.startswith("not sent:") and "WEBHOOK_MAX_PENDING=1" in attempt.error
        assert rows[1].endpoint_id == endpoint_id


def test_redelivering_a_finished_delivery_past_the_cap_is_429(app, client):
    app.config["WEBHOOK_MAX_PENDING"] = 1
    endpoint_id = register(client)
    first = client.post(f"/api/webhooks/{endpoint_id}/test").get_json()
    with app.app_context():
        db.session.get(WebhookDelivery, first["id"]).status = "failed"
        db.session.commit()
    assert client.post(f"/api/webhooks/{endpoint_id}/test").status_code == 202
    refused = client.post(f"/api/deliveries/{first['id']}/redeliver")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "webhook_backlog"
