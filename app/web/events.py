"""Server-sent events: `GET /api/events?ids=a,b,…` streams every status change of those images.

Event ids are the image_events table's ids, so a client that reconnects with `Last-Event-ID` gets, from the
database, every change after the last one it saw (at least once: changes of the last SETTLE_SECONDS are sent
again, since PostgreSQL may commit a lower id after a higher one was read). The stream holds no database
connection while it waits (it wakes on the same Redis notices as the long-poll), sends a comment every 15 s so
proxies keep it open, and ends after EVENT_STREAM_MAX_SECONDS (the browser's EventSource reconnects by itself).
"""

import json
import time
from collections.abc import Iterator
from datetime import timedelta

from flask import Blueprint, Response, current_app, request, stream_with_context
from sqlalchemy import func, or_, select

from app.exceptions import BadRequest
from app.extensions import db
from app.models import Image, ImageEvent, utcnow
from app.pipeline.access import READ
from app.pipeline.notify import StatusListeners
from app.pipeline.resources import image_resource, iso
from app.web.auth import require

bp = Blueprint("events", __name__, url_prefix="/api")

MAX_IDS = 100
HEARTBEAT_SECONDS = 15.0
# Rows are numbered when inserted but may commit out of order (PostgreSQL): rows this recent are read again.
SETTLE_SECONDS = 10
RECONNECT_MILLISECONDS = 1000


@bp.get("/events")
def stream_events():
    """The status changes of the images in ?ids= (those the caller may see), as text/event-stream."""
    principal = require(READ)
    # Another owner's image is followed exactly like an id that never existed: nothing is ever sent for it.
    image_ids = [
        image.id for image in images(requested_ids(request.args.get("ids", ""))) if principal.sees(image.owner_id)
    ]
    last_seen = last_event_id(request.headers.get("Last-Event-ID") or request.args.get("last_event_id"))
    seconds = current_app.config["EVENT_STREAM_MAX_SECONDS"]
    stream = stream_with_context(status_stream(image_ids, last_seen, seconds))
    # X-Accel-Buffering: nginx (or another proxy honouring it) passes each event on at once.
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream, mimetype="text/event-stream", headers=headers)


def requested_ids(raw: str) -> list[str]:
    """The image ids of ?ids= (comma-separated, at most MAX_IDS); 400 otherwise."""
    image_ids = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not image_ids:
        raise BadRequest("Give the images to follow as ?ids=<id>,<id>,….")
    if len(image_ids) > MAX_IDS or any(len(image_id) > 64 for image_id in image_ids):
        raise BadRequest(f"Follow at most {MAX_IDS} images per stream, each id at most 64 characters.")
    return image_ids


def last_event_id(raw: str | None) -> int | None:
    """The Last-Event-ID a reconnecting client sends (a whole number), or None for a fresh stream."""
    if raw in (None, ""):
        return None
    try:
        return max(0, int(raw))
    except ValueError:
        raise BadRequest("Last-Event-ID must be a whole number.") from None


def status_stream(image_ids: list[str], last_seen: int | None, seconds: int) -> Iterator[str]:
    """The stream's text: the images' current state (fresh stream) or what was missed, then each change."""
    deadline = time.monotonic() + seconds
    listeners = StatusListeners(image_ids)
    try:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        sent: dict[int, float] = {}
        if last_seen is None:
            last_seen = newest_event_id(image_ids)
            changes_after(image_ids, last_seen, sent)  # the recent history the current state already shows
            yield from (event_text(last_seen, image, image.status) for image in images(image_ids))
        quiet_since = time.monotonic()
        while True:
            for event, image in changes_after(image_ids, last_seen, sent):
                last_seen = max(last_seen, event.id)
                quiet_since = time.monotonic()
                yield event_text(event.id, image, event.status, event.at)
            # End the transaction while waiting, so no database connection is held by an idle stream.
            db.session.rollback()
            now = time.monotonic()
            if now >= deadline:
                return
            if now - quiet_since >= HEARTBEAT_SECONDS:
                quiet_since = now
                yield ": heartbeat\n\n"
            listeners.wait(min(listeners.recheck_seconds, deadline - now, HEARTBEAT_SECONDS - (now - quiet_since)))
    finally:
        listeners.close()
        db.session.rollback()


def images(image_ids: list[str]) -> list[Image]:
    """The images that exist among image_ids, in the order asked."""
    found = {image.id: image for image in db.session.scalars(select(Image).where(Image.id.in_(image_ids)))}
    return [found[image_id] for image_id in image_ids if image_id in found]


def newest_event_id(image_ids: list[str]) -> int:
    """The id of the newest history entry of these images (0 when none): where a fresh stream starts."""
    return db.session.scalar(select(func.max(ImageEvent.id)).where(ImageEvent.image_id.in_(image_ids))) or 0


def changes_after(image_ids: list[str], last_seen: int, sent: dict[int, float]) -> list[tuple[ImageEvent, Image]]:
    """History entries of these images after last_seen, and recent ones not sent yet (committed late)."""
    now = time.monotonic()
    for event_id in [event_id for event_id, when in sent.items() if now - when > 2 * SETTLE_SECONDS]:
        del sent[event_id]
    recent = utcnow() - timedelta(seconds=SETTLE_SECONDS)
    query = (
        select(ImageEvent, Image)
        .join(Image, Image.id == ImageEvent.image_id)
        .where(ImageEvent.image_id.in_(image_ids), or_(ImageEvent.id > last_seen, ImageEvent.at >= recent))
        .order_by(ImageEvent.id)
    )
    rows = [(event, image) for event, image in db.session.execute(query).all() if event.id not in sent]
    for event, _ in rows:
        sent[event.id] = now
    return rows


def event_text(event_id: int, image: Image, status: str, at=None) -> str:
    """One event: its id, the status it records and the image as it is now (JSON on one data line)."""
    payload = {"image_id": image.id, "status": status, "at": iso(at), "image": image_resource(image)}
    return f"id: {event_id}\nevent: status\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"
