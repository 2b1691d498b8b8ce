"""Status-change notices over Redis pub/sub, so long-polling clients wake at once."""

import contextlib
import logging
import time

from redis.exceptions import RedisError

from app.extensions import redis_queue

log = logging.getLogger(__name__)


def channel(image_id: str) -> str:
    """The pub/sub channel that carries an image's status changes."""
    return f"pixline:image:{image_id}"


def publish_status(image_id: str, status: str) -> None:
    """Announce a status change; a missed notice only delays waiters, so errors are logged."""
    try:
        redis_queue.connection.publish(channel(image_id), status)
    except RedisError as error:
        log.warning("could not publish status of image %s: %s", image_id, error)


class StatusListener:
    """A subscription to one image's status changes (falls back to plain waiting if Redis is down)."""

    def __init__(self, image_id: str):
        self.pubsub = None
        try:
            self.pubsub = redis_queue.connection.pubsub(ignore_subscribe_messages=True)
            self.pubsub.subscribe(channel(image_id))
        except RedisError:
            self.pubsub = None

    def wait(self, seconds: float) -> None:
        """Block until a notice arrives or seconds pass."""
        if self.pubsub is None:
            time.sleep(seconds)
            return
        try:
            self.pubsub.get_message(timeout=seconds)
        except RedisError:
            self.pubsub = None
            time.sleep(seconds)

    def close(self) -> None:
        """Drop the subscription."""
        if self.pubsub is not None:
            with contextlib.suppress(RedisError):
                self.pubsub.close()
