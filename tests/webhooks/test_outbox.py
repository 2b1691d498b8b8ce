"""The outbox on fakeredis: an event exists exactly when the status change it announces was committed."""

import io
import json

import pytest
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import select

from app.extensions import db
from app.models import Image, WebhookDelivery, WebhookEvent
from app.pipeline import deletion, records
from app.pipeline.access import ADMIN, LEGACY_OWNER, Principal
from app.pipeline.jobs import process_image
from app.pipeline.webhooks import endpoints, outbox
from tests.support.images import encoded

ALL_EVENTS = ["image.done", "image.failed", "image.deleted"]


@pytest.fixture
def endpoint(app):
    """An endpoint of the owner uploads belong to (the legacy owner, until keys name owners)."""
    with app.app_context():
        found = endpoints.register(Principal(LEGACY_OWNER, frozenset({ADMIN})), "https://93.184.216.34/in", ALL_EVENTS)
        return found.id


@pytest.fixture
def image_id(client):
    """A freshly uploaded, queued image."""
    form = {"file": (io.BytesIO(encoded(64, 48)), "a.jpg")}
    return client.post("/api/images", data=form, content_type="multipart/form-data").get_json()["id"]


def events(app) -> list[tuple[str, dict]]:
    """Every outbox event: its type and its body."""
    with app.app_context():
        rows = db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.created_at)).all()
        return [(row.type, json.loads(row.body)) for row in rows]


def webhook_jobs(fake_redis) -> list[str]:
    """Job ids waiting on the webhooks queue."""
    return Queue("webhooks", connection=fake_redis, serializer=JSONSerializer).job_ids


def test_done_writes_one_event_with_the_image_resource_and_queues_its_delivery(app, endpoint, image_id, fake_redis):
    with app.app_context():
        process_image(image_id)
    [(event_type, body)] = events(app)
    assert event_type == "image.done"
    assert body["type"] == "image.done" and body["timestamp"].endswith("Z")
    assert body["data"]["id"] == image_id and body["data"]["status"] == "done"
    assert set(body["data"]["variants"]) == {"thumb", "small", "medium", "large"}
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
    assert webhook_jobs(fake_redis) == [f"webhook-{delivery.id}-1"]


def test_failing_for_good_writes_image_failed_but_a_retry_does_not(app, endpoint, image_id):
    with app.app_context():
        records.mark_attempt_failed(image_id, "storage_unavailable", "try again", will_retry=True)
        assert events(app) == []
        records.mark_attempt_failed(image_id, "invalid_image", "broken", will_retry=False)
    [(event_type, body)] = events(app)
    assert event_type == "image.failed"
    assert body["data"]["status"] == "failed" and body["data"]["error"]["code"] == "invalid_image"


def test_a_change_that_did_not_happen_writes_no_event(app, endpoint, image_id):
    with app.app_context():
        process_image(image_id)
        # Already done: failing it is refused, so nothing is announced.
        assert records.fail_unfinished(image_id, "job_lost", "late") is False
    assert [event_type for event_type, _ in events(app)] == ["image.done"]


def test_deleting_writes_image_deleted_with_the_resource_as_it_was(app, endpoint, image_id, client):
    assert client.delete(f"/api/images/{image_id}").status_code == 204
    [(event_type, body)] = events(app)
    assert event_type == "image.deleted"
    assert body["data"]["id"] == image_id and body["data"]["status"] == "deleted"
    assert body["data"]["filename"] == "a.jpg"
    with app.app_context():
        assert db.session.get(Image, image_id) is None
        # A second deletion of the same image finds nothing to announce.
        assert deletion.delete_image(image_id) is False
    assert len(events(app)) == 1


def test_a_rolled_back_transaction_leaves_no_event_and_queues_nothing(app, endpoint, image_id, fake_redis):
    with app.app_context():
        image = db.session.get(Image, image_id)
        outbox.record(image, "image.done")
        db.session.rollback()
        db.session.commit()
    assert events(app) == []
    assert webhook_jobs(fake_redis) == []


def test_only_the_images_owner_endpoints_hear_of_it(app, image_id):
    with app.app_context():
        bob = endpoints.register(Principal("bob", frozenset({ADMIN})), "https://93.184.216.34/bob", ALL_EVENTS)
        bob_id = bob.id
        process_image(image_id)
        assert db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == bob_id)).all() == []
    # Nobody of the image's owner listens: the outbox stays empty.
    assert events(app) == []


def test_an_endpoint_hears_only_the_events_it_asked_for(app, image_id):
    with app.app_context():
        endpoints.register(Principal(LEGACY_OWNER, frozenset({ADMIN})), "https://93.184.216.34/in", ["image.deleted"])
        process_image(image_id)
    assert events(app) == []
