"""The outbox: events written in the same transaction as the change they announce, enqueued after it commits."""

import json
import logging
from datetime import UTC, datetime

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Image, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from app.pipeline.access import LEGACY_OWNER
from app.pipeline.resources import image_resource
from app.pipeline.webhooks import backlog
from app.pipeline.webhooks.queueing import enqueue_attempt

log = logging.getLogger(__name__)

# session.info key: deliveries added in the open transaction, to enqueue once it commits.
PENDING = "pixline.webhook_deliveries"


def owner_of(image: Image) -> str:
    """The owner whose endpoints hear about the image (images from before owners belong to the legacy owner)."""
    return getattr(image, "owner_id", None) or LEGACY_OWNER


def record(image: Image, event_type: str, status: str | None = None) -> WebhookEvent | None:
    """Add the event for the image's change to the session (committed with it); None if no endpoint wants it."""
    resource = image_resource(image)
    if status is not None:
        resource["status"] = status
    return record_event(event_type, owner_of(image), resource, image_id=image.id)


def record_event(
    event_type: str, owner_id: str, data: dict, image_id: str | None = None, endpoints: list | None = None
) -> WebhookEvent | None:
    """Add an event and one delivery per endpoint (default: the owner's subscribed ones), within the backlog cap."""
    session = db.session
    endpoints = subscribed(owner_id, event_type) if endpoints is None else endpoints
    if not endpoints:
        return None
    now = datetime.now(UTC)
    body = {"type": event_type, "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    outbox_event = WebhookEvent(
        type=event_type, owner_id=owner_id, image_id=image_id, body=json.dumps({**body, "data": data})
    )
    session.add(outbox_event)
    waiting, cap = backlog.pending_count(owner_id), backlog.cap()
    for endpoint in endpoints:
        if cap and waiting >= cap:
            session.add(backlog.not_sent(outbox_event, endpoint, waiting))
            continue
        waiting += 1
        delivery = WebhookDelivery(event=outbox_event, endpoint_id=endpoint.id, next_attempt_at=utcnow())
        session.add(delivery)
        session.info.setdefault(PENDING, []).append(delivery)
    return outbox_event


def subscribed(owner_id: str, event_type: str) -> list[WebhookEndpoint]:
    """The owner's enabled endpoints that asked for this type of event."""
    rows = db.session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.owner_id == owner_id, WebhookEndpoint.disabled_at.is_(None))
    )
    return [endpoint for endpoint in rows if event_type in endpoint.events]


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    """Once the change and its events are committed, hand each delivery to the webhooks queue."""
    deliveries = session.info.pop(PENDING, None)
    if not deliveries:
        return
    for delivery in deliveries:
        # The identity, not .id: reading an expired attribute would need SQL, which after_commit cannot emit.
        delivery_id = inspect(delivery).identity[0]
        try:
            enqueue_attempt(delivery_id, 1)
        except Exception:  # noqa: BLE001 - the row stays pending: the reconciler enqueues it
            log.warning("could not enqueue webhook delivery %s; the reconciler will", delivery_id, exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    """Deliveries of a rolled-back transaction never existed."""
    session.info.pop(PENDING, None)
