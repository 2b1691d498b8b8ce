"""A local storage that misbehaves, inside the work horse, while reading originals that carry a marker.

Loaded through the STORAGE_BACKEND plug-in seam. The marker sits in the JPEG's comment (`marked_jpeg`), so the
upload is a valid photo and the fault strikes where a broken decoder would: in the process running the job.
Faults marked "once" strike on the first attempt only (a flag file beside the storage root remembers it).
"""

import ctypes
import io
import os
import signal
import time
from pathlib import Path

from PIL import Image

from app.storage import LocalStorage

MIB = 1024 * 1024
SEGFAULT = b"PIXLINE:SEGFAULT"  # dereference NULL, as a crashing C decoder does
OOM_KILL_ONCE = b"PIXLINE:OOM-KILL-ONCE"  # grow by 256 MB, then die of SIGKILL, as the OOM killer does it
HANG_ONCE = b"PIXLINE:HANG-ONCE"  # hang with SIGALRM blocked, as C code that never returns to Python
LEAK = b"PIXLINE:LEAK"  # keep 512 MB after the job, as a leaking decoder would
MARKERS = (SEGFAULT, OOM_KILL_ONCE, HANG_ONCE, LEAK)

_leaked: list[bytes] = []


def marked_jpeg(marker: bytes, size: tuple[int, int] = (32, 32)) -> bytes:
    """A small valid JPEG whose comment carries the marker."""
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "JPEG", comment=marker)
    return buffer.getvalue()


class CrashingStorage(LocalStorage):
    """LocalStorage whose reads of marked originals segfault, get OOM-killed, hang or leak."""

    @classmethod
    def from_app(cls, app) -> "CrashingStorage":
        """Build from the app's config (the STORAGE_BACKEND plug-in protocol)."""
        return cls(app.config["STORAGE_ROOT"])

    def open(self, key):
        if key.startswith("originals/"):
            self._strike(key, self.path(key).read_bytes())
        return super().open(key)

    def _strike(self, key: str, original: bytes) -> None:
        """Do what the original's marker asks for, if it has one."""
        marker = next((marker for marker in MARKERS if marker in original), None)
        if marker is None or (marker in (OOM_KILL_ONCE, HANG_ONCE) and not self._first_strike(key)):
            return
        if marker == SEGFAULT:
            ctypes.string_at(0)
        elif marker == OOM_KILL_ONCE:
            _leaked.append(b"\x01" * (256 * MIB))
            os.kill(os.getpid(), signal.SIGKILL)
        elif marker == HANG_ONCE:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(3600)
        else:
            _leaked.append(b"\x01" * (512 * MIB))

    def _first_strike(self, key: str) -> bool:
        """True the first time a once-fault strikes this original (its flag lives outside the storage root)."""
        flag = Path(f"{self.root}-struck") / key.replace("/", "_")
        flag.parent.mkdir(parents=True, exist_ok=True)
        try:
            flag.touch(exist_ok=False)
        except FileExistsError:
            return False
        return True
