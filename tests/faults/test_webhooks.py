"""Webhook deliveries surviving Redis flushed and a worker killed mid-delivery: at least once, never lost."""

import pytest

from tests.faults.conftest import kill_tree
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until
from tests.support.receiver import Receiver

pytestmark = pytest.mark.faults

# Loopback receivers, a fast webhook reconciler, and a short HTTP deadline so a lease runs out within the test.
WEBHOOKS = {
    "WEBHOOK_ALLOW_HTTP": "1",
    "WEBHOOK_ALLOW_PRIVATE": "1",
    "WEBHOOK_RECONCILE_INTERVAL": "1",
    "WEBHOOK_TIMEOUT": "3",
}


@pytest.fixture
def receiver():
    """A loopback receiver, listening."""
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def register_and_upload(stack, receiver: Receiver) -> tuple[dict, str]:
    """An endpoint for image.done, and an image uploaded and processed to done."""
    endpoint = stack.client.post("/api/webhooks", json={"url": receiver.url, "events": ["image.done"]}).get_json()
    created = stack.upload(encoded(160, 120), "hook.jpg").get_json()
    wait_for_status(stack.client, created["id"], "done")
    return endpoint, created["id"]


def newest_delivery(stack, endpoint_id: str) -> dict | None:
    """The endpoint's newest delivery, or None."""
    items = stack.client.get(f"/api/webhooks/{endpoint_id}/deliveries").get_json()["items"]
    return items[0] if items else None


def wait_delivered(stack, endpoint_id: str, timeout: float = 90) -> dict:
    """Wait for the endpoint's newest delivery to be delivered."""

    def delivered():
        delivery = newest_delivery(stack, endpoint_id)
        return delivery if delivery and delivery["status"] == "delivered" else None

    return wait_until(delivered, timeout, 0.2, what=f"the delivery\n{stack.worker_logs()[-3000:]}")


def test_an_event_whose_retry_redis_forgot_still_arrives(make_fault_stack, redis_url, receiver):
    stack = make_fault_stack(redis_url, **WEBHOOKS, WEBHOOK_RETRY_SCHEDULE="3")
    stack.start_cron()
    stack.start_worker()
    receiver.statuses = [500]
    endpoint, _ = register_and_upload(stack, receiver)

    wait_until(lambda: (d := newest_delivery(stack, endpoint["id"])) and d["status_code"] == 500, 30, 0.1)
    assert stack.redis.zcard("rq:scheduled:webhooks") == 1
    stack.redis.flushall()

    delivery = wait_delivered(stack, endpoint["id"])
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [500, 200]
    assert [request.headers["webhook-id"] for request in receiver.received] == [delivery["event_id"]] * 2


def test_an_event_whose_worker_was_killed_mid_delivery_still_arrives(make_fault_stack, redis_url, receiver):
    stack = make_fault_stack(redis_url, **WEBHOOKS)
    stack.start_cron()
    worker = stack.start_worker()
    receiver.hold.set()
    created = stack.client.post("/api/webhooks", json={"url": receiver.url, "events": ["image.done"]}).get_json()
    upload = stack.upload(encoded(160, 120), "hook.jpg").get_json()

    wait_until(lambda: receiver.received, 60, 0.05, what="the first attempt to reach the receiver")
    kill_tree(worker)
    receiver.hold.clear()
    receiver.release.set()
    stack.start_worker()

    delivery = wait_delivered(stack, created["id"])
    # The first attempt's answer never reached a live sender: it has no status; the reconciler sent the second.
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [None, 200]
    assert len(receiver.received) == 2
    assert {request.headers["webhook-id"] for request in receiver.received} == {delivery["event_id"]}
    assert stack.client.get(f"/api/images/{upload['id']}").get_json()["status"] == "done"
