"""Status-change notices over Redis pub/sub, and the long-poll that waits for them."""

import contextlib
import logging
import time

from redis.exceptions import RedisError

from app.exceptions import NotFound
from app.extensions import db, redis_queue
from app.models import Image, ImageStatus

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


def wait_for_change(image: Image, known_status: str, seconds: int) -> Image:
    """Long-poll: return as soon as the image's status differs from known_status, or after seconds."""
    image_id = image.id
    deadline = time.monotonic() + seconds
    listener = StatusListener(image_id)
    try:
        while image.status == known_status:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # End the transaction while waiting, so no database connection is held by an idle poll.
            db.session.rollback()
            listener.wait(min(remaining, 1.0))
            image = db.session.get(Image, image_id, populate_existing=True)
            if image is None or image.status == ImageStatus.DELETING.value:
                raise NotFound(f"Image {image_id!r} was deleted.")
    finally:
        listener.close()
    return image
