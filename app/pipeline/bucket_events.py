"""Bucket notifications: MinIO pushes S3 event records onto a Redis list; each created original completes its upload.

MinIO's Redis target in "access" format RPUSHes `[{"Event": [<S3 event record>], "EventTime": "..."}]`; the plain
S3 shape `{"Records": [<S3 event record>]}` is read as well. Keys in records are URL-encoded.
"""

import json
import logging
import time
from urllib.parse import unquote_plus

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.exceptions import PixlineError
from app.extensions import db, redis_queue
from app.pipeline.direct import complete_by_key

log = logging.getLogger(__name__)

# Longest single BLPOP: below the Redis client's socket timeout, so a quiet list never looks like a dead server.
POLL_SECONDS = 2
# Pause after a transient failure before the next attempt.
BACKOFF_SECONDS = 1.0


def event_records(notification: bytes | str) -> list[dict]:
    """The S3 event records of one notification, in either format; [] for anything unreadable (logged)."""
    try:
        document = json.loads(notification)
    except (ValueError, TypeError):
        log.warning("bucket notification is not JSON; ignored")
        return []
    entries = document if isinstance(document, list) else [document]
    found = []
    for entry in entries:
        records = (entry.get("Event") or entry.get("Records")) if isinstance(entry, dict) else None
        if not isinstance(records, list):
            log.warning("bucket notification entry without a list of records; ignored")
            continue
        found += [record for record in records if isinstance(record, dict)]
    return found


def created_keys(notification: bytes | str, bucket: str) -> list[str]:
    """The decoded keys of objects created in bucket that a notification announces; odd records are skipped."""
    keys = []
    for record in event_records(notification):
        event_name = record.get("eventName")
        if not isinstance(event_name, str) or "ObjectCreated:" not in event_name:
            continue
        s3 = _field(record, "s3")
        if _field(_field(s3, "bucket"), "name") != bucket:
            continue
        key = _field(_field(s3, "object"), "key")
        if isinstance(key, str):
            keys.append(unquote_plus(key))
        else:
            log.warning("bucket event record without an object key; ignored")
    return keys


def _field(mapping: object, name: str) -> object:
    """mapping[name] if mapping is a JSON object, else None: records come from outside and may be any shape."""
    return mapping.get(name) if isinstance(mapping, dict) else None


def handle_notification(notification: bytes | str) -> bool:
    """Complete every upload a notification announces; False when a transient failure means it should be retried."""
    for key in created_keys(notification, current_app.config["S3_BUCKET"]):
        try:
            complete_by_key(key)
        except PixlineError as error:
            if error.is_transient:
                log.warning("completing %s failed for now: %s", key, error.message)
                return False
            log.info("upload %s not completed: %s", key, error.code)
        except SQLAlchemyError as error:
            db.session.rollback()
            log.warning("completing %s failed for now (database: %s)", key, error)
            return False
        finally:
            db.session.remove()
    return True


def handle_safely(notification: bytes | str) -> bool:
    """handle_notification, except that one notification nobody foresaw is logged and dropped, never fatal."""
    try:
        return handle_notification(notification)
    except RedisError:
        raise
    except Exception:  # noqa: BLE001 - the listener serves every later upload: one bad record must not stop it
        log.exception("bucket notification could not be handled; dropped: %r", _preview(notification))
        return True


def _preview(notification: bytes | str) -> str:
    """The start of a notification, for the log."""
    text = notification.decode("utf-8", "replace") if isinstance(notification, bytes) else str(notification)
    return text[:200]


def listen(max_events: int | None = None, idle_seconds: float | None = None) -> int:
    """Consume notifications from S3_EVENTS_LIST until max_events were taken or the list stayed idle that long."""
    connection = redis_queue.connection
    list_name = current_app.config["S3_EVENTS_LIST"]
    taken = 0
    idle_since = time.monotonic()
    while max_events is None or taken < max_events:
        if idle_seconds is not None and time.monotonic() - idle_since >= idle_seconds:
            break
        try:
            popped = connection.blpop([list_name], timeout=POLL_SECONDS)
            if popped is None:
                continue
            taken += 1
            idle_since = time.monotonic()
            if not handle_safely(popped[1]):
                # Back to the end of the list: a storage or database hiccup must not lose the upload.
                connection.rpush(list_name, popped[1])
                time.sleep(BACKOFF_SECONDS)
        except RedisError as error:
            log.warning("cannot read bucket notifications from Redis: %s", error)
            time.sleep(BACKOFF_SECONDS)
    return taken
