"""One delivery in flight per endpoint: a lease in Redis taken in turn, the endpoint's oldest due delivery first.

Every delivery job is a turn of its endpoint. A turn takes the endpoint's lease (another holds it: the turn ends at
once, and the holder hands on), sends the endpoint's oldest due delivery — its own or an older one, so deliveries go
out in order — then hands on: if another delivery is due, a turn is scheduled for it, now or when the endpoint's
rest is over. An endpoint that keeps failing rests after each failed attempt for as long as the attempt took,
doubled for each failure in a row (at most MAX_REST_SECONDS): a receiver that never answers holds one worker for
one WEBHOOK_TIMEOUT, then for less and less of the time. Redis forgetting a lease or a scheduled turn loses nothing:
the delivery stays pending and overdue, and resend_overdue() enqueues it again.
"""

import math
from datetime import datetime, timedelta

from sqlalchemy import select

from app.extensions import db, redis_queue
from app.models import WebhookDelivery, WebhookEndpoint
from app.pipeline.webhooks import PENDING

KEY_PREFIX = "pixline:webhooks:endpoint"
MAX_REST_SECONDS = 3600
# A rest shorter than this is not worth scheduling around (a receiver refusing at once costs nothing).
MIN_REST_SECONDS = 1.0
# Deletes the lease only if this turn still holds it (it may have expired and been taken by another).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def lease_key(endpoint_id: str) -> str:
    """The Redis key of the endpoint's lease (its value: the holding turn's token)."""
    return f"{KEY_PREFIX}:{endpoint_id}:lease"


def turn_key(endpoint_id: str) -> str:
    """The Redis key saying a turn of the endpoint is already scheduled (so hand-offs do not pile up)."""
    return f"{KEY_PREFIX}:{endpoint_id}:turn"


def take(endpoint_id: str, token: str, seconds: int) -> bool:
    """Take the endpoint's lease for seconds, unless another turn holds it."""
    return bool(redis_queue.connection.set(lease_key(endpoint_id), token, nx=True, ex=seconds))


def release(endpoint_id: str, token: str) -> None:
    """Give the lease back, if this token still holds it."""
    redis_queue.connection.eval(_RELEASE, 1, lease_key(endpoint_id), token)


def rest_seconds(failures: int, took: float) -> float:
    """How long an endpoint rests after its failures-th failed attempt in a row, which took `took` seconds."""
    if failures < 1:
        return 0.0
    rest = min(MAX_REST_SECONDS, took * 2 ** min(failures - 1, 32))
    return rest if rest >= MIN_REST_SECONDS else 0.0


def is_resting(endpoint: WebhookEndpoint, now: datetime) -> bool:
    """Whether the endpoint rests now (it failed lately: no attempt until resume_at)."""
    return endpoint.resume_at is not None and endpoint.resume_at > now


def oldest_due(endpoint_id: str, by: datetime) -> WebhookDelivery | None:
    """The endpoint's pending delivery that fell due first, by the time `by` (None if none is due)."""
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= by,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
    )
    return db.session.scalars(query).first()


def mark_turn_scheduled(endpoint_id: str, seconds: float) -> bool:
    """Note that a turn is scheduled within `seconds`; False if one already is (then schedule none)."""
    return bool(redis_queue.connection.set(turn_key(endpoint_id), "1", nx=True, ex=max(1, math.ceil(seconds))))


def forget_scheduled_turn(endpoint_id: str) -> None:
    """A scheduled turn has begun: the next hand-off may schedule another."""
    redis_queue.connection.delete(turn_key(endpoint_id))


def rest_after(endpoint: WebhookEndpoint, took: float, now: datetime) -> None:
    """Count a failed attempt against the endpoint and set its rest (committed with the caller's attempt log)."""
    endpoint.consecutive_failures = (endpoint.consecutive_failures or 0) + 1
    rest = rest_seconds(endpoint.consecutive_failures, took)
    endpoint.resume_at = now + timedelta(seconds=rest) if rest else None


def recovered(endpoint: WebhookEndpoint) -> None:
    """A delivered attempt: the endpoint is healthy again, no rest."""
    endpoint.consecutive_failures, endpoint.resume_at = 0, None
