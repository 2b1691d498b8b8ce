"""Signed, expiring media URLs: an HMAC-SHA256 over the path and the expiry, under one of several keys.

A URL carries `exp=<unix seconds>&sig=<key id>.<base64url MAC>`. The key id lets keys rotate: every listed key is
accepted, the first one signs. Pure functions and one small holder of the keys; no Flask, no I/O.
"""

import base64
import hashlib
import hmac
import math
import re
import time
from dataclasses import dataclass
from urllib.parse import urlencode

# The grammar of MEDIA_SIGNING_KEYS is a setting's: app.settings checks it when the settings are read.
from app.settings.grammars import KEY_ID, MIN_SECRET_CHARS, parse_signing_keys

__all__ = ["KEY_ID", "MIN_SECRET_CHARS", "MediaSigner", "expiry", "mac", "parse_signing_keys", "signature", "verify"]

# Ten digits reach the year 2286; anything longer is not an expiry we would have written.
EXPIRY = re.compile(r"^[0-9]{1,10}$")


def expiry(now: float, ttl: int) -> int:
    """When a URL made now expires: at least ttl away, rounded up to a ttl/2 boundary so it stays stable a while."""
    step = max(ttl // 2, 1)
    return math.ceil((now + ttl) / step) * step


def mac(secret: bytes, key_id: str, path: str, expires: int) -> str:
    """The base64url (unpadded) HMAC-SHA256 of the key id, path and expiry."""
    message = f"{key_id}\n{path}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signature(key_id: str, secret: bytes, path: str, expires: int) -> str:
    """The sig= value: '<key id>.<mac>'."""
    return f"{key_id}.{mac(secret, key_id, path, expires)}"


def verify(keys: dict[str, bytes], path: str, exp: str | None, sig: str | None, now: float) -> int | None:
    """The expiry of a valid, unexpired signature of path under one of keys, else None."""
    if not exp or not sig or not EXPIRY.match(exp):
        return None
    key_id, dot, given = sig.partition(".")
    secret = keys.get(key_id)
    if not dot or secret is None:
        return None
    expires = int(exp)
    # Compared in constant time, and before the expiry, so a wrong MAC and a late one take the same path.
    is_authentic = hmac.compare_digest(given.encode(), mac(secret, key_id, path, expires).encode())
    return expires if is_authentic and expires > now else None


@dataclass(frozen=True)
class MediaSigner:
    """The accepted keys (the first signs) and how long a URL lives."""

    keys: dict[str, bytes]
    ttl: int

    @property
    def current_key_id(self) -> str:
        """The id of the key new URLs are signed with."""
        return next(iter(self.keys))

    def sign(self, path: str, now: float | None = None) -> str:
        """path with exp= and sig= appended."""
        expires = expiry(time.time() if now is None else now, self.ttl)
        key_id = self.current_key_id
        query = urlencode({"exp": expires, "sig": signature(key_id, self.keys[key_id], path, expires)})
        return f"{path}?{query}"

    def verify(self, path: str, exp: str | None, sig: str | None, now: float | None = None) -> int | None:
        """The expiry of a valid signature of path, else None."""
        return verify(self.keys, path, exp, sig, time.time() if now is None else now)
