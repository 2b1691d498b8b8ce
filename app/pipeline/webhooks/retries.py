"""When a failed delivery is tried again: the retry schedule with upward jitter, and a receiver's Retry-After."""

import email.utils
import random
from datetime import UTC, datetime

from app.pipeline.webhooks.sender import Answer

# The receiver asked us to wait (Retry-After) on these; on the others the schedule alone decides.
THROTTLING_CODES = (429, 503)


def retry_wait(attempts_made: int, schedule, answer: Answer | None = None, rng=None) -> float | None:
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
