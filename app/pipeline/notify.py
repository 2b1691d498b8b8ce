"""Status-change notices over Redis pub/sub, and the long-poll that waits for them.

Every waiting client of a web process shares one pattern subscription (a StatusHub): thousands of long-polls cost
one Redis connection, not one each. The hub runs in a thread (a greenlet under gunicorn's gevent worker) only
while somebody waits.
"""

import contextlib
import logging
import threading
import time

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from app.exceptions import NotFound
from app.extensions import db, redis_queue
from app.models import Image, ImageStatus

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "pixline:image:"
# How long a new waiter waits for the hub's subscription before relying on its rechecks alone.
SUBSCRIBE_WAIT_SECONDS = 2.0
# Waiters re-read the database this often anyway: every second while the hub is down, and only as a safety net
# while it listens (a notice lost then is one the worker could not publish: it logged that).
RECHECK_SECONDS, DEGRADED_RECHECK_SECONDS = 30.0, 1.0
# A new waiter read its rows before it registered: a notice for them this recent may have come in between.
RECENT_NOTICE_SECONDS = 5.0
_hubs_lock = threading.Lock()


def channel(image_id: str) -> str:
    """The pub/sub channel that carries an image's status changes."""
    return f"{CHANNEL_PREFIX}{image_id}"


def publish_status(image_id: str, status: str) -> None:
    """Announce a status change; a missed notice only delays waiters, so errors are logged."""
    try:
        redis_queue.connection.publish(channel(image_id), status)
    except RedisError as error:
        log.warning("could not publish status of image %s: %s", image_id, error)


class StatusHub:
    """One subscription to every image's channel, waking the waiters of the image a notice names."""

    def __init__(self, connection: Redis):
        self.connection = connection
        self.lock = threading.Lock()
        self.waiters: dict[str, set[threading.Event]] = {}
        self.recent: dict[str, float] = {}  # image id -> when its last notice arrived (the last few seconds only)
        self.subscribed = threading.Event()
        self.thread: threading.Thread | None = None

    def register(self, image_ids: list[str], event: threading.Event) -> None:
        """Set event whenever one of these images' status may have changed (starts the listening thread if needed).

        It is set at once if a notice for one of them came in the last few seconds, or if Redis cannot be reached:
        the caller read its rows before registering, so it reads them again.
        """
        with self.lock:
            for image_id in image_ids:
                self.waiters.setdefault(image_id, set()).add(event)
            cutoff = time.monotonic() - RECENT_NOTICE_SECONDS
            if any(self.recent.get(image_id, 0.0) > cutoff for image_id in image_ids):
                event.set()
            if self.thread is None:
                self.thread = threading.Thread(target=self._listen, name="pixline-status-hub", daemon=True)
                self.thread.start()
        if not self.subscribed.wait(SUBSCRIBE_WAIT_SECONDS):
            event.set()

    def unregister(self, image_ids: list[str], event: threading.Event) -> None:
        """Stop waking this event."""
        with self.lock:
            for image_id in image_ids:
                events = self.waiters.get(image_id, set())
                events.discard(event)
                if not events:
                    self.waiters.pop(image_id, None)

    def _listen(self) -> None:
        """Subscribe and dispatch notices until nobody waits; resubscribe after Redis errors."""
        try:
            while True:
                try:
                    self._dispatch()
                    return  # nobody waits any more
                except RedisError as error:
                    log.warning("status notices interrupted (%s); waiters fall back to rechecking", error)
                    self.subscribed.clear()
                    self._wake(None)
                    if not self._is_wanted():
                        return
                    time.sleep(DEGRADED_RECHECK_SECONDS)
        finally:
            with self.lock:
                if self.thread is threading.current_thread():  # ended by an unexpected error
                    self.thread = None
                    self.subscribed.clear()

    def _dispatch(self) -> None:
        """One subscription's life: every notice wakes its image's waiters."""
        pubsub = self.connection.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
            self.subscribed.set()
            self._wake(None)  # a notice sent while we were not subscribed is lost: everyone rechecks once
            while self._is_wanted():
                message = pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "pmessage":
                    name = message["channel"]
                    name = name.decode() if isinstance(name, bytes) else name
                    self._note(name.removeprefix(CHANNEL_PREFIX))
        finally:
            with contextlib.suppress(RedisError):
                pubsub.close()

    def _is_wanted(self) -> bool:
        """Whether anybody waits; if nobody does, the thread is done (under the lock: register starts a new one)."""
        with self.lock:
            if self.waiters:
                return True
            self.thread = None
            self.subscribed.clear()
            return False

    def _note(self, image_id: str) -> None:
        """A notice for image_id: remember when (for waiters about to register) and wake its waiters."""
        now = time.monotonic()
        with self.lock:
            if len(self.recent) > 1000:
                self.recent = {key: when for key, when in self.recent.items() if now - when < RECENT_NOTICE_SECONDS}
            self.recent[image_id] = now
        self._wake(image_id)

    def _wake(self, image_id: str | None) -> None:
        """Set the events of one image's waiters, or of every waiter (None)."""
        with self.lock:
            groups = self.waiters.values() if image_id is None else [self.waiters.get(image_id, ())]
            events = [event for group in groups for event in group]
        for event in events:
            event.set()


def status_hub() -> StatusHub:
    """The current app's hub (one per process and Redis client)."""
    with _hubs_lock:
        if "pixline.status_hub" not in current_app.extensions:
            current_app.extensions["pixline.status_hub"] = StatusHub(redis_queue.connection)
        return current_app.extensions["pixline.status_hub"]


class StatusListeners:
    """A waiter on the status changes of some images (falls back to plain waiting when Redis is down)."""

    def __init__(self, image_ids: list[str]):
        self.image_ids, self.hub, self.event = list(image_ids), status_hub(), threading.Event()
        self.hub.register(self.image_ids, self.event)

    @property
    def recheck_seconds(self) -> float:
        """How long to wait at most before re-reading the database: short while notices may be missed."""
        return RECHECK_SECONDS if self.hub.subscribed.is_set() else DEGRADED_RECHECK_SECONDS

    def wait(self, seconds: float) -> None:
        """Block until a notice arrives or seconds pass."""
        self.event.wait(max(0.0, seconds))
        # Cleared before the caller re-reads the rows: a notice after this wakes the next wait, and the status it
        # announces was committed before it was sent, so the re-read sees it.
        self.event.clear()

    def close(self) -> None:
        """Stop listening."""
        self.hub.unregister(self.image_ids, self.event)


class StatusListener(StatusListeners):
    """A waiter on one image's status changes."""

    def __init__(self, image_id: str):
        super().__init__([image_id])


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
            listener.wait(min(remaining, listener.recheck_seconds))
            image = db.session.get(Image, image_id, populate_existing=True)
            if image is None or image.status == ImageStatus.DELETING.value:
                raise NotFound(f"Image {image_id!r} was deleted.")
    finally:
        listener.close()
    return image
