"""A local storage whose reads of originals take a while: a job still running when a test strikes, or overrunning.

Loaded through the STORAGE_BACKEND plug-in seam; SLOW_READ_SECONDS in the environment sets the delay.
"""

import os
import time

from app.storage import LocalStorage


class SlowStorage(LocalStorage):
    """LocalStorage that sleeps before opening an original."""

    @classmethod
    def from_app(cls, app) -> "SlowStorage":
        """Build from the app's config (the STORAGE_BACKEND plug-in protocol)."""
        return cls(app.config["STORAGE_ROOT"])

    def open(self, key):
        if key.startswith("originals/"):
            time.sleep(float(os.environ.get("SLOW_READ_SECONDS", "0")))
        return super().open(key)
