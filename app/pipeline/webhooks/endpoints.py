"""An owner's webhook endpoints: register, list, find, rotate the secret, ping, remove; and their delivery logs.

One function per operation, for the API and the CLI alike. A principal sees only its owner's endpoints (an
admin sees every owner's); another owner's endpoint is NotFound exactly like a missing id.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.exceptions import BadRequest, Conflict, NotFound
from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint, utcnow
from app.pipeline.access import Principal
from app.pipeline.webhooks import EVENT_TYPES, PING, backlog, delivery, outbox, signing, ssrf

# Both secrets sign for this long after a rotation, so receivers can switch without losing a call.
ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS_PER_OWNER = 20
SUBSCRIBABLE = tuple(event for event in EVENT_TYPES if event != PING)


def register(principal: Principal, url, events) -> WebhookEndpoint:
    """Add an endpoint for the principal's owner after the SSRF check; its secret is readable only now."""
    events = checked_events(events)
    config = current_app.config
    ssrf.check_url(url, config["WEBHOOK_ALLOW_HTTP"], config["WEBHOOK_ALLOW_PRIVATE"])
    count = len(
        db.session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.owner_id == principal.owner_id)).all()
    )
    if count >= MAX_ENDPOINTS_PER_OWNER:
        raise Conflict(f"An owner may register at most {MAX_ENDPOINTS_PER_OWNER} webhook endpoints.")
    endpoint = WebhookEndpoint(owner_id=principal.owner_id, url=url.strip(), events=events, secret=signing.new_secret())
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def checked_events(events) -> list[str]:
    """The event types asked for, known and without repeats (BadRequest otherwise)."""
    if not isinstance(events, list) or not events or not all(isinstance(event, str) for event in events):
        raise BadRequest(f"events must be a non-empty list of event types: {', '.join(SUBSCRIBABLE)}.")
    unknown = sorted(set(events) - set(SUBSCRIBABLE))
    if unknown:
        raise BadRequest(f"Unknown event types {', '.join(unknown)}; known: {', '.join(SUBSCRIBABLE)}.")
    return list(dict.fromkeys(events))


def endpoints_of(principal: Principal | None = None) -> list[WebhookEndpoint]:
    """The endpoints a principal sees (every one for an operator: no principal), oldest first."""
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    if principal is not None and not principal.is_admin:
        query = query.where(WebhookEndpoint.owner_id == principal.owner_id)
    return list(db.session.scalars(query))


def find_endpoint(endpoint_id: str, principal: Principal | None = None) -> WebhookEndpoint:
    """One endpoint the principal sees (NotFound otherwise)."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id) if len(endpoint_id) <= 32 else None
    if endpoint is None or (principal is not None and not principal.sees(endpoint.owner_id)):
        raise NotFound(f"No webhook endpoint with id {endpoint_id!r}.")
    return endpoint


def remove(endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint; its deliveries (and any retry still scheduled) go with it."""
    db.session.delete(endpoint)
    db.session.commit()


def rotate(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Give the endpoint a new secret; the old one still signs (a second signature) for ROTATION_OVERLAP."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret = signing.new_secret()
    db.session.commit()
    return endpoint


def ping(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `ping` event to this endpoint alone; the delivery is logged like any other."""
    if endpoint.disabled_at is not None:
        raise Conflict(f"The endpoint is disabled: {endpoint.disabled_reason}. Register it again to re-enable it.")
    backlog.check_room(endpoint.owner_id)
    outbox.record_event(PING, endpoint.owner_id, {"endpoint_id": endpoint.id}, endpoints=[endpoint])
    db.session.commit()
    return deliveries_of(endpoint, limit=1)[0]


def deliveries_of(endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def find_delivery(delivery_id: str | int, principal: Principal | None = None) -> WebhookDelivery:
    """One delivery to an endpoint the principal sees (NotFound otherwise)."""
    try:
        found = db.session.get(WebhookDelivery, int(delivery_id))
    except (TypeError, ValueError, OverflowError):
        found = None
    if found is None or (principal is not None and not principal.sees(found.endpoint.owner_id)):
        raise NotFound(f"No webhook delivery with id {delivery_id!r}.")
    return found


def redeliver(found: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (Conflict while its endpoint is disabled)."""
    if found.endpoint.disabled_at is not None:
        raise Conflict(f"The endpoint is disabled: {found.endpoint.disabled_reason}.")
    if found.status != delivery.PENDING:
        backlog.check_room(found.endpoint.owner_id)
    return delivery.redeliver(found)
