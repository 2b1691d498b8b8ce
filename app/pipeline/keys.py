"""API keys: create, check, list, revoke and roll them; only a SHA-256 of each secret is ever stored.

A key reads `pxl_<key id>_<secret>`: the fixed prefix lets secret scanners find a leaked one, the key id finds its
row without a search over hashes, and the secret (192 random bits) is compared as a hash in constant time.
Checking a key reads its row on a connection of its own that goes back to the pool at once, and each process keeps
what it read for API_KEY_CACHE_SECONDS: a revoke or roll made elsewhere reaches every process within that bound.
"""

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import ApiKey, utcnow
from app.pipeline.access import DEFAULT_SCOPES, SCOPES, Principal

log = logging.getLogger(__name__)

PREFIX = "pxl_"
SECRET_BYTES = 24
# last_used_at is written at most this often per key: every request writing a row would cost more than it tells.
TOUCH_EVERY = timedelta(minutes=1)
# A rolled key keeps working this long, so the clients that hold it can move to the new one.
ROLL_GRACE = timedelta(hours=24)
# Past this many cached key ids the cache starts over (each entry is a few hundred bytes).
MAX_CACHED_KEYS = 10_000


def now() -> datetime:
    """The current time (naive UTC): the clock seam tests move instead of sleeping."""
    return utcnow()


@dataclass(frozen=True)
class NewKey:
    """A key just made: its row, and the whole key, which is shown once and never again."""

    row: ApiKey
    token: str


def parse_scopes(text: str | None) -> frozenset[str]:
    """Scopes from 'images:read,images:write' (commas or spaces); the default set when empty; ValueError if unknown."""
    names = frozenset(name for name in (text or "").replace(",", " ").split())
    unknown = names - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCOPES)}")
    return names or DEFAULT_SCOPES


def digest(secret: str) -> str:
    """The SHA-256 of a secret, in hex: what the database keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(name: str, owner_id: str, scopes: frozenset[str], expires_in: timedelta | None = None) -> NewKey:
    """Make a key for owner_id and store its row; the returned token is the only copy of the secret."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(SECRET_BYTES)
    token = f"{PREFIX}{key_id}_{secret}"
    created = now()
    row = ApiKey(
        id=key_id,
        name=name,
        owner_id=owner_id,
        scopes=" ".join(sorted(scopes)),
        secret_sha256=digest(secret),
        last4=token[-4:],
        created_at=created,
        expires_at=created + expires_in if expires_in else None,
    )
    db.session.add(row)
    db.session.commit()
    log.info("API key %s created for owner %s (%s)", key_id, owner_id, row.scopes)
    return NewKey(row, token)


def split_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    if not token.startswith(PREFIX):
        return None
    key_id, underscore, secret = token.removeprefix(PREFIX).partition("_")
    if not underscore or not key_id or not secret or len(key_id) > 32 or len(secret) > 128:
        return None
    return key_id, secret


def is_usable(row: "ApiKey | KeyRecord", moment: datetime) -> bool:
    """Whether a key is neither revoked nor expired at moment."""
    return row.revoked_at is None and (row.expires_at is None or moment < row.expires_at)


def authenticate(token: str) -> Principal | None:
    """The principal a key acts as, or None for any key that is malformed, unknown, wrong, revoked or expired."""
    parts = split_token(token)
    if parts is None:
        return None
    key_id, secret = parts
    record = key_record(key_id)
    # Hash and compare even for an unknown id, so the answer takes as long whether or not the id exists.
    expected = record.secret_sha256 if record is not None else digest("")
    matches = hmac.compare_digest(digest(secret), expected)
    moment = now()
    if record is None or not matches or not is_usable(record, moment):
        return None
    touch(record, moment)
    return Principal(owner_id=record.owner_id, scopes=record.scopes, key_id=record.id)


@dataclass(frozen=True)
class KeyRecord:
    """What checking a key needs of its row, read on a connection of its own (no session, no open transaction)."""

    id: str
    owner_id: str
    scopes: frozenset[str]
    secret_sha256: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCache:
    """Key records (and unknown ids) of the last API_KEY_CACHE_SECONDS, so most requests cost the database nothing."""

    def __init__(self, seconds: int):
        self.seconds, self.lock = seconds, threading.Lock()
        self.records: dict[str, tuple[float, KeyRecord | None]] = {}

    def get(self, key_id: str) -> tuple[bool, KeyRecord | None]:
        """(found, record): found is False when the id is not cached or its entry is older than the bound."""
        with self.lock:
            fetched_at, record = self.records.get(key_id, (None, None))
        if fetched_at is None or time.monotonic() - fetched_at >= self.seconds:
            return False, None
        return True, record

    def put(self, key_id: str, record: KeyRecord | None) -> None:
        """Remember what the database just said of key_id (None: no such key)."""
        if self.seconds <= 0:
            return
        with self.lock:
            if len(self.records) >= MAX_CACHED_KEYS:  # made-up ids must not grow it without bound
                self.records.clear()
            self.records[key_id] = (time.monotonic(), record)

    def used(self, key_id: str, moment: datetime) -> None:
        """Note a last_used_at this process wrote (the entry keeps its age: nothing else was read)."""
        with self.lock:
            fetched_at, record = self.records.get(key_id, (None, None))
            if record is not None:
                self.records[key_id] = (fetched_at, replace(record, last_used_at=moment))

    def forget(self, key_id: str) -> None:
        """Drop key_id, so this process reads it afresh (a revoke or roll made here takes effect at once)."""
        with self.lock:
            self.records.pop(key_id, None)


def key_cache() -> KeyCache:
    """This app's cache of key records."""
    extensions = current_app.extensions
    if "pixline.key_cache" not in extensions:
        extensions["pixline.key_cache"] = KeyCache(current_app.config["API_KEY_CACHE_SECONDS"])
    return extensions["pixline.key_cache"]


def key_record(key_id: str) -> KeyRecord | None:
    """The record of key_id (from the cache if it is fresh enough), or None if there is no such key."""
    cache = key_cache()
    found, record = cache.get(key_id)
    if not found:
        record = read_key_record(key_id)
        cache.put(key_id, record)
    return record


def read_key_record(key_id: str) -> KeyRecord | None:
    """One short query on a pooled connection that goes straight back: nothing is held while the body streams."""
    columns = (ApiKey.id, ApiKey.owner_id, ApiKey.scopes, ApiKey.secret_sha256, ApiKey.expires_at,
               ApiKey.revoked_at, ApiKey.last_used_at)  # fmt: skip
    with db.engine.connect() as connection:
        row = connection.execute(select(*columns).where(ApiKey.id == key_id)).first()
    if row is None:
        return None
    return KeyRecord(row.id, row.owner_id, frozenset(row.scopes.split()), row.secret_sha256, row.expires_at,
                     row.revoked_at, row.last_used_at)  # fmt: skip


def touch(record: KeyRecord, moment: datetime) -> None:
    """Record that the key was used, at most once per TOUCH_EVERY; a failed write never fails the request."""
    if record.last_used_at is not None and moment - record.last_used_at < TOUCH_EVERY:
        return
    try:
        with db.engine.begin() as connection:
            connection.execute(update(ApiKey).where(ApiKey.id == record.id).values(last_used_at=moment))
    except SQLAlchemyError as error:
        log.warning("could not record the use of key %s: %s", record.id, error)
        return
    key_cache().used(record.id, moment)


def list_keys() -> list[ApiKey]:
    """Every key, oldest first."""
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(key_id: str) -> ApiKey | None:
    """Revoke a key at once (the next request with it gets 401); None if there is no such key."""
    row = db.session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now()
        db.session.commit()
        log.info("API key %s revoked", key_id)
    key_cache().forget(key_id)
    return row


def roll_key(key_id: str) -> NewKey | None:
    """A new key with the same name, owner and scopes; the old one expires ROLL_GRACE from now (or sooner)."""
    old = db.session.get(ApiKey, key_id)
    if old is None or not is_usable(old, now()):
        return None
    remaining = old.expires_at - now() if old.expires_at else None
    new = create_key(old.name, old.owner_id, old.scope_set, remaining)
    grace_end = now() + ROLL_GRACE
    old.expires_at = min(old.expires_at, grace_end) if old.expires_at else grace_end
    db.session.commit()
    key_cache().forget(key_id)
    log.info("API key %s rolled into %s; it expires at %s", key_id, new.row.id, old.expires_at.isoformat())
    return new
