"""Server-sent events: `GET /api/events?ids=a,b,…` streams every status change of those images.

Event ids are the image_events table's ids, so a client that reconnects with `Last-Event-ID` gets, from the
database, every change after the last one it saw (at least once: changes of the last SETTLE_SECONDS are sent
again, since PostgreSQL may commit a lower id after a higher one was read). Opening a stream costs one query; the
stream holds no database connection while it waits (it wakes on the same Redis notices as the long-poll), sends a
comment every 15 s so proxies keep it open, and ends after EVENT_STREAM_MAX_SECONDS (the browser's EventSource
reconnects by itself). A browser sends a stream token (POST /api/events/token) in ?access_token=, since EventSource
sends no headers; app.web.connection_limits counts the open streams per owner, address and process.
"""

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased, selectinload

from app.exceptions import BadRequest
from app.extensions import db
from app.models import Image, ImageEvent, ImageStatus, Variant, utcnow
from app.pipeline.access import READ, Principal
from app.pipeline.notify import StatusListeners
from app.pipeline.resources import image_resource, iso
from app.web import page_session
from app.web.auth import require

log = logging.getLogger(__name__)

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
    image_ids = requested_ids(request.args.get("ids", ""))
    last_seen = last_event_id(request.headers.get("Last-Event-ID") or request.args.get("last_event_id"))
    opening = open_stream(image_ids, last_seen, principal)
    seconds = current_app.config["EVENT_STREAM_MAX_SECONDS"]
    stream = stream_with_context(status_stream(opening, seconds))
    # X-Accel-Buffering: nginx (or another proxy honouring it) passes each event on at once.
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream, mimetype="text/event-stream", headers=headers)


@bp.post("/events/token")
def stream_token():
    """A short-lived token that opens event streams of the caller's owner and does nothing else."""
    principal = require(READ)
    token = page_session.stream_token_for(principal.owner_id)
    return jsonify({"token": token, "expires_in": page_session.STREAM_TOKEN_MAX_AGE})


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


@dataclass
class Opening:
    """Where a stream starts: the images it follows, its first events as text, the last event id, what was sent."""

    image_ids: list[str]
    texts: list[str]
    last_seen: int
    sent: dict[int, float]


def open_stream(image_ids: list[str], last_seen: int | None, principal: Principal) -> Opening:
    """One query: the images the principal may see and their recent history; no connection is held afterwards."""
    rows = db.session.execute(opening_query(image_ids, last_seen)).all()
    # Another owner's image is followed exactly like an id that never existed: nothing is ever sent for it.
    found = {image.id: image for image, _ in rows if principal.sees(image.owner_id)}
    followed = [found[image_id] for image_id in image_ids if image_id in found]
    events = sorted({event.id: (event, image) for image, event in rows if event and image.id in found}.values(),
                    key=lambda pair: pair[0].id)  # fmt: skip
    now = time.monotonic()
    sent = {event.id: now for event, _ in events}
    if last_seen is None:  # a fresh stream: each image as it is now, which its every event so far led to
        last_seen = max(sent, default=0)
        texts = [event_text(last_seen, image, image.status) for image in with_variants(followed)]
    else:  # a resumed one: what it missed, and the last few seconds again
        last_seen = max(last_seen, *sent) if sent else last_seen
        texts = [event_text(event.id, image, event.status, event.at) for event, image in events]
    followed_ids = [image.id for image in followed]
    db.session.rollback()  # rows read after this would be read again: everything the stream needs is taken above
    return Opening(followed_ids, texts, last_seen, sent)


def opening_query(image_ids: list[str], last_seen: int | None) -> Select:
    """The requested images, each joined to the history rows a stream starts from (or to none)."""
    recent = utcnow() - timedelta(seconds=SETTLE_SECONDS)
    if last_seen is None:
        history = aliased(ImageEvent)
        newest = select(func.max(history.id)).where(history.image_id == Image.id).correlate(Image).scalar_subquery()
        wanted = or_(ImageEvent.id == newest, ImageEvent.at >= recent)
    else:
        wanted = or_(ImageEvent.id > last_seen, ImageEvent.at >= recent)
    joined = and_(ImageEvent.image_id == Image.id, wanted)
    return select(Image, ImageEvent).outerjoin(ImageEvent, joined).where(Image.id.in_(image_ids))


def with_variants(followed: list[Image]) -> list[Image]:
    """The images, the variants of those already done loaded for all of them at once (not a query per image)."""
    done = [image.id for image in followed if image.status == ImageStatus.DONE.value]
    if done:
        loading = selectinload(Image.variants).selectinload(Variant.files)
        db.session.scalars(select(Image).where(Image.id.in_(done)).options(loading)).all()
    return followed


def status_stream(opening: Opening, seconds: int) -> Iterator[str]:
    """The stream's text: its opening events, then each change of its images, until seconds have passed."""
    deadline = time.monotonic() + seconds
    image_ids, last_seen, sent = opening.image_ids, opening.last_seen, opening.sent
    listeners = StatusListeners(image_ids)
    try:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        yield from opening.texts
        quiet_since = time.monotonic()
        while (now := time.monotonic()) < deadline:
            if now - quiet_since >= HEARTBEAT_SECONDS:
                quiet_since = now
                yield ": heartbeat\n\n"
            listeners.wait(min(listeners.recheck_seconds, deadline - now, HEARTBEAT_SECONDS - (now - quiet_since)))
            for event, image in changes_after(image_ids, last_seen, sent):
                last_seen = max(last_seen, event.id)
                quiet_since = time.monotonic()
                yield event_text(event.id, image, event.status, event.at)
            # End the transaction while waiting, so no database connection is held by an idle stream.
            db.session.rollback()
    except SQLAlchemyError as error:
        # The database is down or no connection was free: end the stream (the browser comes back by itself).
        log.warning("event stream ended by a database error: %s", error)
    finally:
        listeners.close()
        db.session.rollback()


def changes_after(image_ids: list[str], last_seen: int, sent: dict[int, float]) -> list[tuple[ImageEvent, Image]]:
    """History entries of these images after last_seen, and recent ones not sent yet (committed late)."""
    if not image_ids:
        return []
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
