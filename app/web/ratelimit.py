"""Rate limits in fixed windows counted in Redis: uploads per client (RATE_LIMIT, off by default), and webhook
test and redeliver calls per owner (WEBHOOK_TEST_RATE_LIMIT).
"""

import logging
import math
import time

from flask import Flask, current_app, g, make_response, request
from redis.exceptions import RedisError

from app.exceptions import RateLimited
from app.extensions import redis_queue
from app.pipeline.quotas import client_network
from app.settings.grammars import Rate, parse_rate
from app.web.errors import error_response
from app.web.request_limits import UPLOAD_ENDPOINTS

log = logging.getLogger(__name__)

# The views that accept uploads (or, for direct uploads, hand out a place to send one); the rest are left alone.
LIMITED_ENDPOINTS = UPLOAD_ENDPOINTS | {"direct_uploads.create_upload"}
# Views that take several files in one request: each file is one upload, counted by the view (allow_uploads).
PER_FILE_ENDPOINTS = frozenset({"pages.upload_form"})
KEY_PREFIX = "pixline:ratelimit"


def client_id() -> str:
    """Who is uploading: the key's owner when a key is used, else the client's network (ProxyFix corrects it)."""
    principal = g.get("principal")
    if principal is not None and principal.key_id is not None:
        return f"owner:{principal.owner_id}"
    # An IPv6 client holds a whole /64: counting its addresses one by one would count nothing.
    return client_network(request.remote_addr)


def hit(rate: Rate, client: str, now: float | None = None) -> int:
    """Count one upload of client in the current window; 0 if allowed, else seconds until the next window."""
    return take(rate, client, 1, now)[1]


def take(rate: Rate, client: str, uploads: int, now: float | None = None, budget: str = "") -> tuple[int, int]:
    """Count uploads of client in the current window: how many fit, and (if not all) seconds until the next window."""
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    key = f"{KEY_PREFIX}:{budget + ':' if budget else ''}{client}:{window}"
    pipeline = redis_queue.connection.pipeline()
    pipeline.incrby(key, uploads)
    pipeline.expire(key, rate.seconds + 1)
    count, _ = pipeline.execute()
    allowed = max(0, min(uploads, rate.count - (count - uploads)))
    if allowed == uploads:
        return allowed, 0
    return allowed, max(1, math.ceil((window + 1) * rate.seconds - now))


def refusal(retry_after: int) -> RateLimited:
    """The error for an upload over the limit."""
    rate = current_app.extensions["pixline.rate_limit"]
    return RateLimited(f"More than {rate.count} uploads in {rate.seconds} s; try again in {retry_after} s.")


def allow_uploads(count: int) -> tuple[int, int]:
    """For a request carrying count uploads (the no-JS form): how many fit this client's budget, and Retry-After."""
    rate = current_app.extensions.get("pixline.rate_limit")
    if rate is None:
        return count, 0
    try:
        return take(rate, client_id(), count)
    except RedisError as error:
        log.warning("rate limit not checked (Redis: %s)", error)
        return count, 0


def limit_uploads():
    """before_request hook: refuse an upload over RATE_LIMIT with 429 and Retry-After."""
    rate = current_app.extensions.get("pixline.rate_limit")
    if rate is None or request.method != "POST" or request.endpoint not in LIMITED_ENDPOINTS:
        return None
    if request.endpoint in PER_FILE_ENDPOINTS:
        return None
    try:
        retry_after = hit(rate, client_id())
    except RedisError as error:
        # Uploads work while Redis is down (they are queued later), so the limit fails open rather than closed.
        log.warning("rate limit not checked (Redis: %s)", error)
        return None
    if not retry_after:
        return None
    response = make_response(error_response(refusal(retry_after)))
    response.headers["Retry-After"] = str(retry_after)
    return response


def limit_webhook_sends(owner_id: str) -> None:
    """Count one webhook /test or redeliver call of owner_id; RateLimited (429, Retry-After) past the limit."""
    rate = current_app.extensions.get("pixline.webhook_test_rate")
    if rate is None:
        return
    try:
        retry_after = take(rate, f"owner:{owner_id}", 1, budget="webhook-sends")[1]
    except RedisError as error:
        # The call would enqueue on this Redis anyway: without it there is nothing to protect.
        log.warning("webhook send limit not checked (Redis: %s)", error)
        return
    if retry_after:
        calls = f"{rate.count} webhook test or redeliver calls in {rate.seconds} s"
        raise RateLimited(f"More than {calls}; try again in {retry_after} s.", retry_after=retry_after)


def init_app(app: Flask) -> None:
    """Parse RATE_LIMIT and WEBHOOK_TEST_RATE_LIMIT once (a bad value stops startup) and register the hook."""
    app.extensions["pixline.rate_limit"] = parse_rate(app.config.get("RATE_LIMIT"))
    app.extensions["pixline.webhook_test_rate"] = parse_rate(app.config.get("WEBHOOK_TEST_RATE_LIMIT"))
    app.before_request(limit_uploads)
