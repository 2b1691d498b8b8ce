"""Waiting clients of one process share one Redis subscription, woken per image, on a real redis-server."""

import threading

import pytest

from app.pipeline.notify import StatusListener, publish_status, status_hub
from tests.support.polling import wait_until

pytestmark = pytest.mark.integration
WAITERS = 50


def pubsub_connections(stack) -> int:
    """Redis clients holding a pattern subscription, as the hub does, from CLIENT LIST."""
    return sum(1 for client in stack.redis.client_list() if int(client.get("psub", 0)))


def test_many_waiters_share_one_redis_subscription_and_wake_only_for_their_image(make_stack):
    stack = make_stack()
    with stack.app.app_context():
        listeners = [StatusListener(f"image-{number}") for number in range(WAITERS)]
        try:
            # One for all 50 (a server of an earlier test may still be closing its own).
            wait_until(lambda: pubsub_connections(stack) == 1, 10, what="one pattern subscription")
            for listener in listeners:
                listener.event.clear()  # the hub wakes everyone once when it subscribes
            publish_status("image-7", "done")
            wait_until(lambda: listeners[7].event.is_set(), 10, what="image-7's waiter to wake")
            assert [n for n, listener in enumerate(listeners) if listener.event.is_set()] == [7]
            listeners[7].wait(1)
            assert not listeners[7].event.is_set(), "a wait clears its notice for the next one"
            assert listeners[3].recheck_seconds > 1
        finally:
            for listener in listeners:
                listener.close()
        hub = status_hub()
        wait_until(lambda: hub.thread is None, 10, what="the hub to stop once nobody waits")
        wait_until(lambda: pubsub_connections(stack) == 0, 10, what="the subscription to close")


def test_a_notice_wakes_a_waiter_at_once(make_stack):
    stack = make_stack()
    with stack.app.app_context():
        listener = StatusListener("image-a")
        try:
            woken = []

            def wait() -> None:
                listener.wait(30)
                woken.append(True)

            waiter = threading.Thread(target=wait)
            waiter.start()
            publish_status("image-a", "processing")
            waiter.join(timeout=10)
            assert woken == [True]
        finally:
            listener.close()


def test_without_redis_a_waiter_rechecks_often_instead(make_stack, tmp_path):
    stack = make_stack(REDIS_URL="redis://127.0.0.1:1/0")
    with stack.app.app_context():
        listener = StatusListener("image-b")
        try:
            assert listener.recheck_seconds == 1.0
            listener.wait(0.05)  # returns after its timeout, raises nothing
        finally:
            listener.close()
