"""A local storage whose deletes fail while a Redis flag is set: storage down at the moment of a DELETE.

Loaded through the STORAGE_BACKEND plug-in seam, so the in-process app, the workers and the cron process all see
the same outage. Each delete raises an OSError (EIO), as a failing local disk does.
"""

import errno

import redis

from app.storage import LocalStorage

DOWN_KEY = "pixline:test:deletes-down"


class UnreliableDeleteStorage(LocalStorage):
    """LocalStorage whose deletes fail while DOWN_KEY is set in Redis."""

    def __init__(self, root: str, redis_url: str):
        super().__init__(root)
        self.control = redis.Redis.from_url(redis_url)

    @classmethod
    def from_app(cls, app) -> "UnreliableDeleteStorage":
        """Build from the app's config (the STORAGE_BACKEND plug-in protocol)."""
        return cls(app.config["STORAGE_ROOT"], app.config["REDIS_URL"])

    def delete(self, key):
        if self.control.exists(DOWN_KEY):
            raise OSError(errno.EIO, "Input/output error (injected)")
        return super().delete(key)
