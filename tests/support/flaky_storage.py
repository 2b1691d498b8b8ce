"""A local storage whose writes fail on demand: the fault-injection seam for worker processes.

Tests set the Redis key FAILURES_KEY to N; the next N saves raise StorageUnavailable.
"""

import redis

from app.exceptions import StorageUnavailable
from app.storage import LocalStorage

FAILURES_KEY = "pixline:test:storage-failures"


class FlakyStorage(LocalStorage):
    """LocalStorage that fails a Redis-controlled number of saves."""

    def __init__(self, root: str, redis_url: str):
        super().__init__(root)
        self.control = redis.Redis.from_url(redis_url)

    @classmethod
    def from_app(cls, app) -> "FlakyStorage":
        """Build from the app's config (the STORAGE_BACKEND plug-in protocol)."""
        return cls(app.config["STORAGE_ROOT"], app.config["REDIS_URL"])

    def save(self, key, source, content_type):
        if key.startswith("variants/") and self.control.decr(FAILURES_KEY) >= 0:
            raise StorageUnavailable("injected storage failure")
        return super().save(key, source, content_type)
