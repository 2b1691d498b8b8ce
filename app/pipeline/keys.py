"""API keys: create, check, list, revoke and roll them; only a SHA-256 of each secret is ever stored.

A key reads `pxl_<key id>_<secret>`: the fixed prefix lets secret scanners find a leaked one, the key id finds its
row without a search over hashes, and the secret (192 random bits) is compared as a hash in constant time.
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

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


def is_usable(row: ApiKey, moment: datetime) -> bool:
    """Whether a key is neither revoked nor expired at moment."""
    return row.revoked_at is None and (row.expires_at is None or moment < row.expires_at)


def authenticate(token: str) -> Principal | None:
    """The principal a key acts as, or None for any key that is malformed, unknown, wrong, revoked or expired."""
    parts = split_token(token)
    if parts is None:
        return None
    key_id, secret = parts
    row = db.session.get(ApiKey, key_id)
    # Hash and compare even for an unknown id, so the answer takes as long whether or not the id exists.
    expected = row.secret_sha256 if row is not None else digest("")
    matches = hmac.compare_digest(digest(secret), expected)
    moment = now()
    if row is None or not matches or not is_usable(row, moment):
        return None
    touch(row, moment)
    return Principal(owner_id=row.owner_id, scopes=row.scope_set, key_id=row.id)


def touch(row: ApiKey, moment: datetime) -> None:
    """Record that the key was used, at most once per TOUCH_EVERY; a failed write never fails the request."""
    if row.last_used_at is not None and moment - row.last_used_at < TOUCH_EVERY:
        return
    try:
        db.session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=moment))
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("could not record the use of key %s: %s", row.id, error)


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
    log.info("API key %s rolled into %s; it expires at %s", key_id, new.row.id, old.expires_at.isoformat())
    return new
