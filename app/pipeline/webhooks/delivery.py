"""Delivering events: one RQ job per attempt on the webhooks queue, retried on a schedule, logged in the database.

Each attempt is claimed in the database before it is sent (the delivery's attempt count moves from n-1 to n, and
its next_attempt_at becomes a lease), so two jobs for one attempt never both send. When the attempt fails, the
next one is scheduled in RQ (enqueue_in) and its time recorded in next_attempt_at; resend_overdue() re-enqueues
any delivery whose time has passed with no job waiting for it (Redis flushed, the enqueue failed, the worker died
mid-attempt). So every event is delivered at least once to a receiver that is up; receivers dedupe on webhook-id.
"""

import contextlib
import email.utils
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select, update

from app.exceptions import WebhookUrlRefused
from app.extensions import db, redis_queue
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow
from app.pipeline.webhooks import sender, signing, ssrf

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
WAITING_STATUSES = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
# The receiver asked us to wait (Retry-After) on these; on the others the schedule alone decides.
THROTTLING_CODES = (429, 503)
RESEND_BATCH = 500


@dataclass(frozen=True)
class Result:
    """What one attempt came to, as the job returns it (the worker counts it for /metrics)."""

    outcome: str  # delivered, retrying, gave_up, refused, skipped
    status_code: int | None = None
    seconds: float = 0.0

    def as_job_result(self) -> dict:
        """A JSON-serializable result for RQ."""
        return {"webhook_outcome": self.outcome, "status_code": self.status_code, "seconds": round(self.seconds, 4)}


def webhooks_queue() -> Queue:
    """The queue deliveries run on (JSON-serialized like every Pixline queue)."""
    return Queue(current_app.config["WEBHOOK_QUEUE"], connection=redis_queue.connection, serializer=JSONSerializer)


def job_id_for(delivery_id: int, attempt: int) -> str:
    """The one RQ job id of one attempt at one delivery."""
    return f"webhook-{delivery_id}-{attempt}"


def attempt_timeout(config) -> int:
    """Seconds one attempt may run before RQ stops it: the HTTP deadline plus room for the database."""
    return config["WEBHOOK_TIMEOUT"] + 5


def lease_seconds(config) -> int:
    """How long a claimed attempt is presumed running; past it, the reconciler sends the next attempt."""
    # Past the job timeout and the grace a worker gives a horse before killing it (20 s is more than either needs).
    return attempt_timeout(config) + 20


def enqueue_attempt(delivery_id: int, attempt: int, delay: float = 0) -> Job:
    """Queue an attempt, now or after delay seconds (an RQ scheduled job)."""
    config = current_app.config
    options = {
        "args": (delivery_id, attempt),
        "job_id": job_id_for(delivery_id, attempt),
        "job_timeout": attempt_timeout(config),
        "result_ttl": config["RESULT_TTL"],
        "failure_ttl": config["FAILURE_TTL"],
        "description": f"webhook delivery {delivery_id}, attempt {attempt}",
    }
    queue = webhooks_queue()
    if delay > 0:
        # RQ keeps scheduled times in whole seconds, cut down: round up instead, so no attempt comes early.
        due = datetime.fromtimestamp(math.ceil(time.time() + delay), UTC)
        return queue.enqueue_at(due, deliver, **options)
    return queue.enqueue(deliver, **options)


def deliver(delivery_id: int, attempt: int) -> dict:
    """RQ job: make one attempt at a delivery, log it, and schedule the next one if it failed."""
    config = current_app.config
    if not _claim(delivery_id, attempt, lease_seconds(config)):
        log.info("webhook delivery %s attempt %s: already made or no longer wanted", delivery_id, attempt)
        return Result("skipped").as_job_result()
    delivery = db.session.get(WebhookDelivery, delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    record = WebhookAttempt(delivery_id=delivery_id, number=attempt, started_at=utcnow())
    if endpoint.disabled_at is not None:
        record.error = f"not sent: the endpoint is disabled ({endpoint.disabled_reason})"
        _finish(delivery, record, FAILED)
        return Result("skipped").as_job_result()
    db.session.add(record)
    db.session.commit()
    answer = _send(endpoint, event.id, event.body, config)
    result = _record_answer(delivery_id, record.id, answer, config)
    log.info("webhook delivery %s attempt %s: %s (%s)", delivery_id, attempt, result.outcome, answer.status_code)
    return result.as_job_result()


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
        delivery.delivered_at = now
        _finish(delivery, record, DELIVERED)
        return Result("delivered", answer.status_code, answer.seconds)
    endpoint.failing_since = endpoint.failing_since or now
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


def retry_wait(attempts_made: int, schedule, answer: sender.Answer | None = None, rng=None) -> float | None:
    """Seconds before the next attempt (the schedule, stretched by up to 20% jitter); None when none is left."""
    if attempts_made > len(schedule):
        return None
    wait = schedule[attempts_made - 1] * (rng or random).uniform(1.0, 1.2)
    if answer is not None and answer.status_code in THROTTLING_CODES:
        asked = parse_retry_after(answer.retry_after)
        if asked is not None:
            # Never sooner than the receiver asked, never later than the longest wait of the schedule.
            wait = max(wait, min(asked, max(schedule)))
    return wait


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


# --- recovery and operator actions ---------------------------------------------------------------------------


def resend_overdue() -> int:
    """Periodic task: enqueue every pending delivery whose attempt is overdue and that no job waits to make."""
    grace = timedelta(seconds=current_app.config["RECONCILE_GRACE_SECONDS"])
    overdue = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at < utcnow() - grace)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(RESEND_BATCH)
    ).all()
    db.session.rollback()
    resent = 0
    for delivery_id, attempts in overdue:
        if _waiting_job(job_id_for(delivery_id, attempts + 1)):
            continue
        enqueue_attempt(delivery_id, attempts + 1)
        resent += 1
    if resent:
        log.info("re-enqueued %s overdue webhook deliveries", resent)
    return resent


def _waiting_job(job_id: str) -> bool:
    """Whether Redis holds a job with this id that will still run; a dead one's record is removed."""
    try:
        job = Job.fetch(job_id, connection=redis_queue.connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return False
    if job.get_status(refresh=False) in WAITING_STATUSES:
        return True
    job.delete()
    return False


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
