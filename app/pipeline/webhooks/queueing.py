"""The webhooks queue and its jobs: one per attempt at a delivery, and the turns an endpoint's hand-offs schedule.

Jobs name their function by its dotted path, the only names RQ stores (kept importable: see app/jobs.py's note).
"""

import logging
import math
import time
from datetime import UTC, datetime

from flask import current_app
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from app.extensions import redis_queue
from app.models import utcnow
from app.pipeline.webhooks import turns

log = logging.getLogger(__name__)

DELIVER = "app.pipeline.webhooks.delivery.deliver"
TAKE_TURN = "app.pipeline.webhooks.delivery.take_turn"


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


def job_options(config, job_id: str, args: tuple, description: str) -> dict:
    """What every webhooks job is enqueued with."""
    return {
        "args": args,
        "job_id": job_id,
        "job_timeout": attempt_timeout(config),
        "result_ttl": config["RESULT_TTL"],
        "failure_ttl": config["FAILURE_TTL"],
        "description": description,
    }


def enqueue_attempt(delivery_id: int, attempt: int, delay: float = 0) -> Job:
    """Queue an attempt, now or after delay seconds (an RQ scheduled job)."""
    description = f"webhook delivery {delivery_id}, attempt {attempt}"
    options = job_options(current_app.config, job_id_for(delivery_id, attempt), (delivery_id, attempt), description)
    return _enqueue(DELIVER, delay, options)


def schedule_turn(endpoint_id: str, at: datetime) -> bool:
    """Enqueue a turn of the endpoint at `at` (naive UTC), unless one is already scheduled; whether this one was."""
    config = current_app.config
    delay = max(0.0, (at - utcnow()).total_seconds())
    if not turns.mark_turn_scheduled(endpoint_id, delay + lease_seconds(config)):
        return False
    job_id = f"webhook-turn-{endpoint_id}-{time.time_ns()}"
    options = job_options(config, job_id, (endpoint_id,), f"webhook endpoint {endpoint_id}: its next due delivery")
    try:
        _enqueue(TAKE_TURN, delay, options)
    except Exception:  # noqa: BLE001 - the deliveries stay pending and overdue: the reconciler enqueues them
        turns.forget_scheduled_turn(endpoint_id)
        log.warning("could not schedule the next turn of webhook endpoint %s", endpoint_id, exc_info=True)
        return False
    return True


def _enqueue(function: str, delay: float, options: dict) -> Job:
    """Enqueue on the webhooks queue, now or after delay seconds (an RQ scheduled job)."""
    queue = webhooks_queue()
    if delay > 0:
        # RQ keeps scheduled times in whole seconds, cut down: round up instead, so nothing runs early.
        due = datetime.fromtimestamp(math.ceil(time.time() + delay), UTC)
        return queue.enqueue_at(due, function, **options)
    return queue.enqueue(function, **options)
