"""An owner's webhook backlog: its deliveries still pending, capped per owner (WEBHOOK_MAX_PENDING).

Past the cap a new event is still recorded, but its delivery is not queued: it is written as failed, with one
attempt that says it was not sent and why, so the delivery log shows the gap (redeliver it once the backlog has
drained). `/test` and redeliver past the cap answer 429 `webhook_backlog`. The cap bounds the rows, the jobs and
the worker time one owner's unreachable receivers can hold; it is counted before each event, so concurrent events
may pass it by a few.
"""

import logging

from flask import current_app
from sqlalchemy import func, select

from app.exceptions import WebhookBacklogFull
from app.extensions import db
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from app.pipeline.webhooks import FAILED, PENDING

log = logging.getLogger(__name__)

# What /test and redeliver past the cap tell the client to wait: about one failed attempt's time, then ask again.
RETRY_AFTER_SECONDS = 60


def cap() -> int:
    """WEBHOOK_MAX_PENDING: deliveries one owner may have pending (0: no cap)."""
    return current_app.config["WEBHOOK_MAX_PENDING"]


def pending_count(owner_id: str) -> int:
    """How many of owner_id's deliveries are pending (waiting for a first attempt or a retry)."""
    query = (
        select(func.count(WebhookDelivery.id))
        .join(WebhookEndpoint, WebhookDelivery.endpoint_id == WebhookEndpoint.id)
        .where(WebhookEndpoint.owner_id == owner_id, WebhookDelivery.status == PENDING)
    )
    return int(db.session.scalar(query) or 0)


def check_room(owner_id: str) -> None:
    """Refuse one more delivery of owner_id's past the cap (429 webhook_backlog, with Retry-After)."""
    limit = cap()
    if limit and (waiting := pending_count(owner_id)) >= limit:
        raise WebhookBacklogFull(
            f"Owner {owner_id!r} has {waiting} webhook deliveries waiting (the most is {limit}); "
            "try again once they are through.",
            retry_after=RETRY_AFTER_SECONDS,
        )


def not_sent(event: WebhookEvent, endpoint: WebhookEndpoint, waiting: int) -> WebhookDelivery:
    """A delivery of event to endpoint that the backlog cap kept from being queued: failed, saying why."""
    reason = (
        f"not sent: owner {endpoint.owner_id!r} had {waiting} deliveries waiting (WEBHOOK_MAX_PENDING={cap()}); "
        "redeliver it once they are through"
    )
    log.warning("webhook event %s to endpoint %s not queued: %s", event.type, endpoint.id, reason)
    attempt = WebhookAttempt(number=1, started_at=utcnow(), error=reason[:500])
    return WebhookDelivery(event=event, endpoint_id=endpoint.id, status=FAILED, attempts=1, attempt_log=[attempt])
