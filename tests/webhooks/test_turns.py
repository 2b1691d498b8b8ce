"""One delivery in flight per endpoint, oldest due first; an endpoint that keeps failing rests (fakeredis, no HTTP)."""

from datetime import timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint, utcnow
from app.pipeline.access import WEBHOOKS, Principal
from app.pipeline.webhooks import delivery, endpoints, turns
from app.pipeline.webhooks.sender import Answer

PUBLIC_URL = "https://93.184.216.34/hooks"


@pytest.fixture
def sent(monkeypatch):
    """Stand in for the HTTP POST: records which event each attempt sent, answers with `answers` (default 200)."""
    record = {"events": [], "answers": []}

    def post(target, body, headers, connect_timeout, total_timeout, context=None):
        record["events"].append(headers["webhook-id"])
        return record["answers"].pop(0) if record["answers"] else Answer(200, 0.01)

    monkeypatch.setattr(delivery.sender, "post", post)
    return record


@pytest.fixture
def endpoint_id(app):
    """An endpoint of alice's at a public address."""
    with app.app_context():
        return endpoints.register(Principal("alice", frozenset({WEBHOOKS})), PUBLIC_URL, ["image.done"]).id


def ping(app, endpoint_id: str) -> tuple[int, str]:
    """A ping delivery to the endpoint: its id and its event's id."""
    with app.app_context():
        found = endpoints.ping(db.session.get(WebhookEndpoint, endpoint_id))
        return found.id, found.event_id


def row(app, delivery_id: int) -> WebhookDelivery:
    """The delivery as the database has it now."""
    with app.app_context():
        found = db.session.get(WebhookDelivery, delivery_id)
        db.session.expunge(found)
        return found


def scheduled_turns(fake_redis) -> list[str]:
    """Turn jobs scheduled on the webhooks queue."""
    queue = Queue("webhooks", connection=fake_redis, serializer=JSONSerializer)
    registry = ScheduledJobRegistry(queue=queue)
    return [job_id for job_id in registry.get_job_ids() + queue.job_ids if job_id.startswith("webhook-turn-")]


def test_a_turn_ends_at_once_while_another_attempt_to_the_endpoint_is_in_flight(app, endpoint_id, sent, fake_redis):
    delivery_id, _ = ping(app, endpoint_id)
    with app.app_context():
        assert turns.take(endpoint_id, "another-turn", 60)
        assert delivery.deliver(delivery_id, 1) == delivery.WAITING
    assert sent["events"] == [] and row(app, delivery_id).attempts == 0
    assert row(app, delivery_id).status == "pending"


def test_a_turn_sends_the_endpoints_oldest_due_delivery_first(app, endpoint_id, sent):
    (first, first_event), (second, _), (third, _) = (ping(app, endpoint_id) for _ in range(3))
    with app.app_context():
        result = delivery.deliver(third, 1)
    assert result["webhook_outcome"] == "delivered" and sent["events"] == [first_event]
    assert [row(app, d).status for d in (first, second, third)] == ["delivered", "pending", "pending"]


def test_after_an_attempt_the_next_due_delivery_gets_a_turn(app, endpoint_id, sent, fake_redis):
    first, _ = ping(app, endpoint_id)
    ping(app, endpoint_id)
    with app.app_context():
        delivery.deliver(first, 1)
    assert len(scheduled_turns(fake_redis)) == 1
    # A second hand-off while that turn waits schedules no other.
    with app.app_context():
        delivery.hand_on(endpoint_id)
    assert len(scheduled_turns(fake_redis)) == 1


def test_an_endpoint_that_timed_out_rests_and_its_deliveries_wait(app, endpoint_id, sent, fake_redis):
    first, _ = ping(app, endpoint_id)
    second, _ = ping(app, endpoint_id)
    sent["answers"] = [Answer(None, 15.0, "timed out")]
    with app.app_context():
        assert delivery.deliver(first, 1)["webhook_outcome"] == "retrying"
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert endpoint.consecutive_failures == 1
        assert timedelta(seconds=14) < endpoint.resume_at - utcnow() <= timedelta(seconds=15)
        turns.forget_scheduled_turn(endpoint_id)
        assert delivery.deliver(second, 1) == delivery.WAITING
    assert len(sent["events"]) == 1 and row(app, second).attempts == 0
    assert scheduled_turns(fake_redis), "no turn waits for the end of the rest"


def test_a_delivered_attempt_ends_the_rest(app, endpoint_id, sent):
    first, _ = ping(app, endpoint_id)
    with app.app_context():
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        endpoint.consecutive_failures, endpoint.resume_at = 3, utcnow() - timedelta(seconds=1)
        db.session.commit()
        delivery.deliver(first, 1)
        endpoint = db.session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
        assert (endpoint.consecutive_failures, endpoint.resume_at) == (0, None)


def test_rests_double_with_each_failure_in_a_row_up_to_an_hour():
    rests = [turns.rest_seconds(failures, 15.0) for failures in range(1, 11)]
    assert rests[:4] == [15, 30, 60, 120]
    assert rests[-1] == turns.MAX_REST_SECONDS == 3600
    # A receiver that refuses at once costs nothing: no rest worth the name.
    assert turns.rest_seconds(3, 0.01) == 0
    assert turns.rest_seconds(0, 15.0) == 0


def test_the_reconciler_gives_one_turn_per_endpoint_with_overdue_deliveries(app, endpoint_id, fake_redis):
    for _ in range(5):
        ping(app, endpoint_id)
    fake_redis.flushall()
    with app.app_context():
        db.session.query(WebhookDelivery).update({"next_attempt_at": utcnow() - timedelta(minutes=5)})
        db.session.commit()
        assert delivery.resend_overdue() == 1
        assert delivery.resend_overdue() == 0  # that turn is still waiting to run
    assert len(scheduled_turns(fake_redis)) == 1
