"""The JSON shapes of webhook endpoints and deliveries, as the API and the CLI show them."""

from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.pipeline.resources import iso


def endpoint_resource(endpoint: WebhookEndpoint, with_secret: bool = False) -> dict:
    """An endpoint; its secret only when just created or rotated (with_secret)."""
    resource = {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.disabled_at is None,
        "disabled_at": iso(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": iso(endpoint.failing_since),
        "created_at": iso(endpoint.created_at),
    }
    if with_secret:
        resource["secret"] = endpoint.secret
    return resource


def delivery_resource(delivery: WebhookDelivery) -> dict:
    """A delivery: its event, where it stands, its last answer, and every attempt."""
    last = delivery.attempt_log[-1] if delivery.attempt_log else None
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event.type,
        "status": delivery.status,
        "attempt": delivery.attempts,
        "status_code": last.status_code if last else None,
        "duration_ms": last.duration_ms if last else None,
        "error": last.error if last else None,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.created_at),
        "attempts": [attempt_resource(attempt) for attempt in delivery.attempt_log],
    }


def attempt_resource(attempt: WebhookAttempt) -> dict:
    """One attempt of a delivery."""
    return {
        "number": attempt.number,
        "at": iso(attempt.started_at),
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
    }
