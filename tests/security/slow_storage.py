"""A local storage whose reads of originals take a minute: the seam for proving JOB_TIMEOUT stops a job."""

import time

from app.storage import LocalStorage

READ_DELAY_SECONDS = 60


class SlowStorage(LocalStorage):
    """LocalStorage that stalls on every read of an original, like a pathological file would."""

    @classmethod
    def from_app(cls, app) -> "SlowStorage":
        """Build from the app's config (the STORAGE_BACKEND plug-in protocol)."""
        return cls(app.config["STORAGE_ROOT"])

    def open(self, key):
        if key.startswith("originals/"):
            time.sleep(READ_DELAY_SECONDS)
        return super().open(key)
