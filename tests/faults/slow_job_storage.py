"""A local storage that holds a job at chosen points, so a test can strike (DELETE) while it is there.

Loaded through the STORAGE_BACKEND plug-in seam. SLOW_OPEN_SECONDS: a pause after the original is opened (the job
holds the open file, as while it renders); SLOW_SAVE_SECONDS: a pause after each variant file is written.
"""

import os
import time

from app.storage import LocalStorage


class SlowJobStorage(LocalStorage):
    """LocalStorage that pauses after opening an original and after saving each variant."""

    @classmethod
    def from_app(cls, app) -> "SlowJobStorage":
        """Build from the app's config (the STORAGE_BACKEND plug-in protocol)."""
        return cls(app.config["STORAGE_ROOT"])

    def open(self, key):
        handle = super().open(key)
        if key.startswith("originals/"):
            time.sleep(float(os.environ.get("SLOW_OPEN_SECONDS", "0")))
        return handle

    def save(self, key, source, content_type):
        size = super().save(key, source, content_type)
        if key.startswith("variants/"):
            time.sleep(float(os.environ.get("SLOW_SAVE_SECONDS", "0")))
        return size
