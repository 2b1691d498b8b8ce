"""The hostile-GIF attack of issue 22, reusable by the noisy-neighbour suite and `make bench`.

An attacker with a key of its own uploads GIFs of a few kB whose header says 100x100 and whose later frames reach far
past it: Pillow's reader grows its canvas to reach each of them and composites every frame on it. Before frame sizes
were checked, each took a worker for minutes and 1.1-1.7 GB. `GROWING_PAST_THE_LIMIT` reaches 9000x9000, past
MAX_IMAGE_PIXELS: refused at upload. `GROWING_WITHIN_THE_LIMIT` reaches 7000x7000, just inside it, over 100 frames:
accepted, and rendered still from its first frame (100 x 49 MP is past the animation budget), in well under a second.
`PeakMemory` samples the resident memory of the stack's worker processes and their work horses meanwhile.
"""

import contextlib
import threading
import time
from dataclasses import dataclass, field

import psutil

from tests.framegen import growing_gif
from tests.isolation.conftest import create_key
from tests.support.stack import RunningStack

GROWING_PAST_THE_LIMIT = growing_gif(frames=100, reach=(9000, 9000))
GROWING_WITHIN_THE_LIMIT = growing_gif(frames=100, reach=(7000, 7000))
MIB = 1024 * 1024


@dataclass
class AttackUpload:
    """One hostile upload: the answer, its error code if refused, and the image's final state if accepted."""

    status: int
    code: str | None
    image_id: str | None
    final: dict | None = None


@dataclass
class HostileGifAttack:
    """An owner uploading `rounds` pairs of growing GIFs (one past the pixel limit, one within it)."""

    stack: RunningStack
    rounds: int = 3
    owner: str = "attacker"
    uploads: list[AttackUpload] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = create_key(self.stack, self.owner)

    def start(self) -> "HostileGifAttack":
        """Send every hostile upload (the accepted ones then sit in the queue ahead of anyone else's)."""
        for _ in range(self.rounds):
            for data in (GROWING_PAST_THE_LIMIT, GROWING_WITHIN_THE_LIMIT):
                self.uploads.append(self._upload(data))
        return self

    def _upload(self, data: bytes) -> AttackUpload:
        """POST one GIF with the attacker's key."""
        answer = self.stack.request("POST", "/api/images", self.key, files={"file": ("growing.gif", data)})
        body = answer.json()
        if answer.status_code == 202:
            return AttackUpload(202, None, body["id"])
        return AttackUpload(answer.status_code, body["error"]["code"], None)

    def settle(self, timeout: float) -> list[AttackUpload]:
        """Follow every accepted upload to done or failed within timeout (fails past it)."""
        deadline = time.monotonic() + timeout
        for upload in self.uploads:
            if upload.image_id is not None:
                remaining = max(1.0, deadline - time.monotonic())
                upload.final = self._final(upload.image_id, remaining)
        return self.uploads

    def _final(self, image_id: str, timeout: float) -> dict:
        """The image once done or failed."""
        deadline = time.monotonic() + timeout
        while True:
            image = self.stack.request("GET", f"/api/images/{image_id}?wait=5", self.key, timeout=40).json()
            if image["status"] in ("done", "failed"):
                return image
            assert time.monotonic() < deadline, f"the attacker's image {image_id} is still {image['status']}"


class PeakMemory:
    """The largest resident set of any worker process of a stack (or its work horse), sampled every 20 ms."""

    def __init__(self, stack: RunningStack) -> None:
        self.root = psutil.Process(stack.process.pid)
        self.peak_bytes = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        self._thread.join(5)

    @property
    def peak_mb(self) -> float:
        """The peak in MB."""
        return self.peak_bytes / MIB

    def _sample(self) -> None:
        while not self._stopping.wait(0.02):
            for process in self._workers():
                # A work horse may end between the listing and the reading.
                with contextlib.suppress(psutil.Error):
                    self.peak_bytes = max(self.peak_bytes, process.memory_info().rss)

    def _workers(self) -> list[psutil.Process]:
        """The `worker.py` processes under the stack, and their children (work horses, schedulers)."""
        try:
            children = self.root.children(recursive=True)
        except psutil.Error:
            return []
        workers = [child for child in children if _runs_worker(child)]
        return workers + [horse for worker in workers for horse in _children(worker)]


def _runs_worker(process: psutil.Process) -> bool:
    """Whether the process is a `python worker.py`."""
    try:
        return any(part.endswith("worker.py") for part in process.cmdline())
    except psutil.Error:
        return False


def _children(process: psutil.Process) -> list[psutil.Process]:
    """A process's children, none if it is gone."""
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []
