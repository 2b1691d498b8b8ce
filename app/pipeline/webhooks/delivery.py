"""Delivering events: RQ jobs on the webhooks queue, one attempt in flight per endpoint, logged in the database.

Each job is a turn of its delivery's endpoint (see turns): it sends the endpoint's oldest due delivery, or ends at
once when another attempt to that endpoint is in flight or the endpoint rests. Each attempt is claimed in the
database before it is sent (the delivery's attempt count moves from n-1 to n, and its next_attempt_at becomes a
lease), so two jobs for one attempt never both send. When the attempt fails, the next one is scheduled in RQ
(enqueue_at) and its time recorded in next_attempt_at; resend_overdue() re-enqueues any delivery whose time has
passed with no job waiting for it (Redis flushed, the enqueue failed, the worker died mid-attempt). So every event
is delivered at least once to a receiver that is up; receivers dedupe on webhook-id.
"""

import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import func, select, update

from app.exceptions import WebhookUrlRefused
from app.extensions import db, redis_queue
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow
from app.pipeline.webhooks import DELIVERED, FAILED, PENDING, sender, signing, ssrf, turns
from app.pipeline.webhooks.queueing import enqueue_attempt, job_id_for, lease_seconds, schedule_turn, webhooks_queue
from app.pipeline.webhooks.retries import parse_retry_after, retry_wait

# Names other modules import from here (the queue and retry helpers live in their own modules).
__all__ = ["DELIVERED", "FAILED", "PENDING", "deliver", "enqueue_attempt", "parse_retry_after", "redeliver",
           "retry_wait", "take_turn", "webhooks_queue"]  # fmt: skip

log = logging.getLogger(__name__)

RESEND_BATCH = 500
# What a turn that sent nothing returns: no webhook_outcome, so /metrics counts only attempts.
WAITING = {"webhook_turn": "waiting"}


@dataclass(frozen=True)
class Result:
    """What one attempt came to, as the job returns it (the worker counts it for /metrics)."""

    outcome: str  # delivered, retrying, gave_up, refused, skipped
    status_code: int | None = None
    seconds: float = 0.0

    def as_job_result(self) -> dict:
        """A JSON-serializable result for RQ."""
        return {"webhook_outcome": self.outcome, "status_code": self.status_code, "seconds": round(self.seconds, 4)}


def deliver(delivery_id: int, attempt: int) -> dict:
    """RQ job: a turn of the delivery's endpoint, which sends its oldest due delivery (this one or an older one)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != PENDING or delivery.attempts != attempt - 1:
        log.info("webhook delivery %s attempt %s: already made or no longer wanted", delivery_id, attempt)
        db.session.rollback()
        return Result("skipped").as_job_result()
    endpoint_id = delivery.endpoint_id
    db.session.rollback()
    return _turn(endpoint_id)


def take_turn(endpoint_id: str) -> dict:
    """RQ job scheduled by a hand-off: the endpoint's next turn."""
    turns.forget_scheduled_turn(endpoint_id)
    return _turn(endpoint_id)


def _turn(endpoint_id: str) -> dict:
    """Send the endpoint's oldest due delivery, unless another attempt to it is in flight or it rests."""
    config = current_app.config
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return Result("skipped").as_job_result()
    resume_at = endpoint.resume_at if turns.is_resting(endpoint, utcnow()) else None
    db.session.rollback()
    if resume_at is not None:
        schedule_turn(endpoint_id, resume_at)
        return WAITING
    token = secrets.token_hex(8)
    if not turns.take(endpoint_id, token, lease_seconds(config)):
        return WAITING  # the holder hands on when its attempt is over
    try:
        due = turns.oldest_due(endpoint_id, utcnow())
        result = _attempt(due.id, due.attempts + 1, config) if due else Result("skipped")
    finally:
        turns.release(endpoint_id, token)
    hand_on(endpoint_id)
    return result.as_job_result()


def _attempt(delivery_id: int, attempt: int, config) -> Result:
    """Make one attempt at a delivery, log it, and schedule the next one if it failed."""
    if not _claim(delivery_id, attempt, lease_seconds(config)):
        log.info("webhook delivery %s attempt %s: already made or no longer wanted", delivery_id, attempt)
        return Result("skipped")
    delivery = db.session.get(WebhookDelivery, delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    record = WebhookAttempt(delivery_id=delivery_id, number=attempt, started_at=utcnow())
    if endpoint.disabled_at is not None:
        record.error = f"not sent: the endpoint is disabled ({endpoint.disabled_reason})"
        _finish(delivery, record, FAILED)
        return Result("skipped")
    db.session.add(record)
    db.session.commit()
    answer = _send(endpoint, event.id, event.body, config)
    result = _record_answer(delivery_id, record.id, answer, config)
    log.info("webhook delivery %s attempt %s: %s (%s)", delivery_id, attempt, result.outcome, answer.status_code)
    return result


def hand_on(endpoint_id: str) -> None:
    """After an attempt: schedule the endpoint's next turn if a delivery is due by the end of its rest."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    if endpoint is None:
        db.session.rollback()
        return
    now = utcnow()
    at = endpoint.resume_at if turns.is_resting(endpoint, now) else now
    is_due = turns.oldest_due(endpoint_id, at) is not None
    db.session.rollback()
    if is_due:
        schedule_turn(endpoint_id, at)


def _claim(delivery_id: int, attempt: int, lease: int) -> bool:
    """Take attempt number `attempt` of a pending delivery (only one job ever does), leasing it for lease seconds."""
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.attempts == attempt - 1,
        )
        .values(attempts=attempt, next_attempt_at=utcnow() + timedelta(seconds=lease))
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        return False
    db.session.commit()
    return True


def _send(endpoint: WebhookEndpoint, event_id: str, body: str, config) -> sender.Answer:
    """Check the URL again (DNS may have changed), sign and POST; a refusal is an answer too."""
    try:
        target = ssrf.check_url(endpoint.url, config["WEBHOOK_ALLOW_HTTP"], config["WEBHOOK_ALLOW_PRIVATE"])
    except WebhookUrlRefused as refused:
        return sender.Answer(None, 0.0, f"refused: {refused.message}")
    headers = signing.sign_headers(event_id, body, secrets_in_force(endpoint, utcnow()))
    return sender.post(target, body.encode(), headers, config["WEBHOOK_CONNECT_TIMEOUT"], config["WEBHOOK_TIMEOUT"])


def secrets_in_force(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The endpoint's secret, and the one before it while a rotation's overlap lasts."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def _record_answer(delivery_id: int, attempt_id: int, answer: sender.Answer, config) -> Result:
    """Log the attempt's answer, then mark the delivery delivered, retrying or failed; mind the endpoint's health."""
    db.session.rollback()
    delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    record = db.session.get(WebhookAttempt, attempt_id)
    record.status_code, record.duration_ms = answer.status_code, round(answer.seconds * 1000)
    record.error = _error_of(answer)
    endpoint, now = delivery.endpoint, utcnow()
    if answer.is_delivered:
        endpoint.failing_since = None
        turns.recovered(endpoint)
        delivery.delivered_at = now
        _finish(delivery, record, DELIVERED)
        return Result("delivered", answer.status_code, answer.seconds)
    endpoint.failing_since = endpoint.failing_since or now
    turns.rest_after(endpoint, answer.seconds, now)
    _disable_if_dead(endpoint, answer, now, config)
    wait = None if endpoint.disabled_at else retry_wait(delivery.attempts, config["WEBHOOK_RETRY_SCHEDULE"], answer)
    if wait is None:
        _finish(delivery, record, FAILED)
        outcome = "refused" if (record.error or "").startswith("refused") else "gave_up"
        return Result(outcome, answer.status_code, answer.seconds)
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    next_attempt = delivery.attempts + 1
    db.session.commit()
    try:
        enqueue_attempt(delivery_id, next_attempt, delay=wait)
    except Exception:  # noqa: BLE001 - next_attempt_at is recorded: the reconciler enqueues it when due
        log.warning("could not schedule webhook delivery %s attempt %s", delivery_id, next_attempt, exc_info=True)
    return Result("retrying", answer.status_code, answer.seconds)


def _finish(delivery: WebhookDelivery, record: WebhookAttempt, status: str) -> None:
    """Close the delivery for good (delivered, or failed with no retry left) and commit the attempt with it."""
    delivery.status, delivery.next_attempt_at = status, None
    if record.id is None:
        db.session.add(record)
    db.session.commit()


def _error_of(answer: sender.Answer) -> str | None:
    """What went wrong, for the delivery log (None for a 2xx)."""
    if answer.error:
        return answer.error[:500]
    if answer.is_delivered:
        return None
    if 300 <= answer.status_code < 400:
        return f"redirect not followed: HTTP {answer.status_code} to {answer.location or 'nowhere'}"[:500]
    return f"HTTP {answer.status_code}"


def _disable_if_dead(endpoint: WebhookEndpoint, answer: sender.Answer, now: datetime, config) -> None:
    """Disable an endpoint that answered 410 Gone, or has failed for WEBHOOK_DISABLE_AFTER seconds."""
    if answer.status_code == 410:
        endpoint.disabled_at, endpoint.disabled_reason = now, "the receiver answered 410 Gone"
        return
    failing_for = (now - endpoint.failing_since).total_seconds()
    if failing_for >= config["WEBHOOK_DISABLE_AFTER"]:
        since = endpoint.failing_since.isoformat(timespec="seconds") + "Z"
        endpoint.disabled_at, endpoint.disabled_reason = now, f"every delivery failed since {since}"


# --- recovery and operator actions ---------------------------------------------------------------------------


def resend_overdue() -> int:
    """Periodic task: a turn for each endpoint with an overdue pending delivery (Redis lost its job, a worker died)."""
    grace = timedelta(seconds=current_app.config["RECONCILE_GRACE_SECONDS"])
    endpoint_ids = db.session.scalars(
        select(WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at < utcnow() - grace)
        .group_by(WebhookDelivery.endpoint_id)
        .order_by(func.min(WebhookDelivery.next_attempt_at))
        .limit(RESEND_BATCH)
    ).all()
    db.session.rollback()
    # One turn per endpoint is enough: a turn sends the endpoint's oldest due delivery, then hands on to the next.
    resent = sum(schedule_turn(endpoint_id, utcnow()) for endpoint_id in endpoint_ids)
    if resent:
        log.info("gave a turn to %s webhook endpoints with overdue deliveries", resent)
    return resent


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, whatever became of it (its log goes on with the next attempt number)."""
    next_attempt = delivery.attempts + 1
    with contextlib.suppress(NoSuchJobError):
        Job.fetch(
            job_id_for(delivery.id, next_attempt), connection=redis_queue.connection, serializer=JSONSerializer
        ).delete()
    delivery.status, delivery.next_attempt_at = PENDING, utcnow()
    db.session.commit()
    try:
        enqueue_attempt(delivery.id, next_attempt)
    except Exception:  # noqa: BLE001 - it is pending and due: the reconciler enqueues it
        log.warning("could not enqueue redelivery of %s; the reconciler will", delivery.id, exc_info=True)
    return delivery
