"""Deliveries through real workers to a real receiver on loopback: signatures, retries, the log, metrics."""

import json
import urllib.request
from datetime import datetime

import pytest
from standardwebhooks import Webhook

from app.stack import free_port
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until
from tests.support.receiver import Receiver, manage_webhooks

pytestmark = pytest.mark.integration

LOOPBACK = {"WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture
def receiver():
    """A receiver that is not listening yet (tests script it, then start it)."""
    receiver = Receiver()
    yield receiver
    receiver.stop()


def register(stack, url: str, events=("image.done",)) -> dict:
    """Register an endpoint through the API; returns it with its secret."""
    manage_webhooks(stack)
    created = stack.client.post("/api/webhooks", json={"url": url, "events": list(events)})
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def upload_done(stack) -> dict:
    """Upload a small image and follow it to done."""
    created = stack.upload(encoded(200, 150), "hook.jpg")
    assert created.status_code == 202
    return wait_for_status(stack.client, created.get_json()["id"], "done")


def delivery_log(stack, endpoint_id: str) -> list[dict]:
    """The endpoint's deliveries, newest first."""
    return stack.client.get(f"/api/webhooks/{endpoint_id}/deliveries").get_json()["items"]


def wait_delivered(stack, endpoint_id: str, timeout: float = 60) -> dict:
    """Wait until the endpoint's newest delivery is delivered; returns it."""

    def delivered():
        log = delivery_log(stack, endpoint_id)
        return log[0] if log and log[0]["status"] == "delivered" else None

    return wait_until(delivered, timeout, 0.2, what=f"a delivery to {endpoint_id}\n{stack.worker_logs()[-3000:]}")


def scrape(port: int, wanted: str) -> str | None:
    """What a worker's metrics port serves, once it holds the wanted line (None before)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return text if wanted in text else None


def moment(iso: str) -> datetime:
    """An API timestamp as a datetime."""
    return datetime.fromisoformat(iso.removesuffix("Z"))


def test_a_receiver_failing_twice_gets_one_event_three_times_signed_with_growing_waits(make_stack, receiver):
    metrics_port = free_port()
    stack = make_stack(**LOOPBACK, WEBHOOK_RETRY_SCHEDULE="1,4,16", WORKER_METRICS_PORT=str(metrics_port))
    stack.start_worker()
    receiver.statuses = [500, 500]
    receiver.start()
    endpoint = register(stack, receiver.url)

    image = upload_done(stack)
    delivery = wait_delivered(stack, endpoint["id"])

    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [500, 500, 200]
    assert [attempt["error"] for attempt in delivery["attempts"]] == ["HTTP 500", "HTTP 500", None]
    assert delivery["event_type"] == "image.done" and delivery["attempt"] == 3
    assert len(receiver.received) == 3
    ids = {request.headers["webhook-id"] for request in receiver.received}
    assert ids == {delivery["event_id"]}
    for request in receiver.received:
        payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert payload["type"] == "image.done"
        assert payload["data"]["id"] == image["id"] and payload["data"]["status"] == "done"
        assert payload["data"]["variants"] == image["variants"]
    started = [moment(attempt["at"]) for attempt in delivery["attempts"]]
    first_wait, second_wait = (started[1] - started[0]).total_seconds(), (started[2] - started[1]).total_seconds()
    assert 1 <= first_wait < second_wait and second_wait >= 4

    # The job is counted once it returns, a moment after the database says delivered.
    wanted = 'pixline_webhook_deliveries_total{outcome="delivered"} 1.0'
    scraped = wait_until(lambda: scrape(metrics_port, wanted), 30, 0.2, what=wanted)
    assert 'pixline_webhook_deliveries_total{outcome="retrying"} 2.0' in scraped
    assert 'pixline_webhook_deliveries_total{outcome="delivered"} 1.0' in scraped
    assert 'pixline_webhook_delivery_seconds_count{outcome="delivered"} 1.0' in scraped


def test_a_receiver_down_for_the_first_attempts_gets_the_event_once_it_is_up(make_stack, receiver):
    stack = make_stack(**LOOPBACK, WEBHOOK_RETRY_SCHEDULE="1,1,2,2,4,4")
    stack.start_worker()
    endpoint = register(stack, receiver.url)

    upload_done(stack)
    wait_until(lambda: (log := delivery_log(stack, endpoint["id"])) and log[0]["attempt"] >= 2, 30, 0.2)
    receiver.start()
    delivery = wait_delivered(stack, endpoint["id"])

    refused = delivery["attempts"][:-1]
    assert len(refused) >= 2 and all(attempt["status_code"] is None for attempt in refused)
    assert all(attempt["error"].startswith("connect failed") for attempt in refused)
    assert delivery["attempts"][-1]["status_code"] == 200
    assert [request.headers["webhook-id"] for request in receiver.received] == [delivery["event_id"]]


def test_410_gone_disables_the_endpoint_and_its_listing_says_so(make_stack, receiver):
    stack = make_stack(**LOOPBACK, WEBHOOK_RETRY_SCHEDULE="1,1")
    stack.start_worker()
    receiver.then = 410
    receiver.start()
    endpoint = register(stack, receiver.url)
    ping = stack.client.post(f"/api/webhooks/{endpoint['id']}/test").get_json()

    def disabled():
        listed = stack.client.get("/api/webhooks").get_json()["items"][0]
        return listed if not listed["enabled"] else None

    listed = wait_until(disabled, 30, 0.2, what="the endpoint disabled")
    assert listed["disabled_reason"] == "the receiver answered 410 Gone" and listed["disabled_at"]
    [delivery] = delivery_log(stack, endpoint["id"])
    assert delivery["id"] == ping["id"] and delivery["status"] == "failed" and delivery["status_code"] == 410
    assert len(receiver.received) == 1
    assert stack.client.post(f"/api/webhooks/{endpoint['id']}/test").get_json()["error"]["code"] == "conflict"


def test_ping_and_redeliver_send_the_same_event_again(make_stack, receiver):
    stack = make_stack(**LOOPBACK)
    stack.start_worker()
    receiver.start()
    endpoint = register(stack, receiver.url)
    ping = stack.client.post(f"/api/webhooks/{endpoint['id']}/test").get_json()
    first = wait_delivered(stack, endpoint["id"])
    assert first["id"] == ping["id"]

    again = stack.client.post(f"/api/deliveries/{ping['id']}/redeliver")
    assert again.status_code == 202
    wait_until(lambda: delivery_log(stack, endpoint["id"])[0]["attempt"] == 2, 30, 0.2)
    delivery = wait_delivered(stack, endpoint["id"])
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [200, 200]
    bodies = [json.loads(request.body) for request in receiver.received]
    assert [body["type"] for body in bodies] == ["ping", "ping"]
    assert bodies[0] == bodies[1] and bodies[0]["data"] == {"endpoint_id": endpoint["id"]}
    assert len({request.headers["webhook-id"] for request in receiver.received}) == 1


def test_an_endpoint_gets_one_attempt_at_a_time_in_order_though_workers_are_free(make_stack, receiver):
    from rq.job import Job
    from rq.serializers import JSONSerializer

    stack = make_stack(**LOOPBACK)
    stack.start_worker()
    stack.start_worker()
    receiver.hold.set()
    receiver.start()
    endpoint = register(stack, receiver.url)
    pings = [stack.client.post(f"/api/webhooks/{endpoint['id']}/test").get_json() for _ in range(3)]
    wait_until(lambda: receiver.received, 30, 0.05, what="the first attempt to reach the receiver")

    def ended_waiting(delivery_id: int) -> bool:
        job = Job.fetch(f"webhook-{delivery_id}-1", connection=stack.redis, serializer=JSONSerializer)
        return job.get_status() == "finished" and job.return_value() == {"webhook_turn": "waiting"}

    # Whichever job ran first sends the oldest ping; the other two ran on the free worker and ended at once.
    wait_until(lambda: sum(ended_waiting(ping["id"]) for ping in pings) == 2, 30, 0.1, what="the other jobs")
    assert len(receiver.received) == 1
    receiver.release.set()
    wait_until(lambda: all(item["status"] == "delivered" for item in delivery_log(stack, endpoint["id"])), 60, 0.2)
    assert [request.headers["webhook-id"] for request in receiver.received] == [ping["event_id"] for ping in pings]
