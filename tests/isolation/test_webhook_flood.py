"""Noisy neighbour: one owner's webhook flood to a receiver that never answers does not stall another owner's images."""

import pytest

from tests.isolation.database import database_settings
from tests.isolation.webhook_flood import LOOPBACK_RECEIVERS, WebhookFlood

pytestmark = pytest.mark.integration


def test_a_test_call_flood_to_a_silent_receiver_leaves_another_owners_upload_unharmed(start_stack, victim_of):
    stack = start_stack(**LOOPBACK_RECEIVERS, **database_settings())
    victim = victim_of(stack)
    flood = WebhookFlood(stack, calls=30)
    try:
        flood.run()
        victim.assert_unharmed()
    finally:
        flood.stop()
    refusals = flood.refusals()
    assert refusals, f"every one of {flood.calls} /test calls was accepted: {flood.statuses()}"
    assert all(status == 429 and code == "rate_limited" and int(wait) >= 1 for status, code, wait in refusals)
