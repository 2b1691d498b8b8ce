"""Parallel uploads: one owner sends many uploads at once, racing its quota's check against its count.

Before issue 22 the check and the count were apart: 12 parallel uploads stored 6.2 MB under a 3 MB QUOTA_BYTES,
and 5 uploads passed a daily limit of 4. Quotas are now reserved before storing. `make bench` reuses this class.
"""

import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.stack import RunningStack


@dataclass
class ParallelUploads:
    """`uploads` uploads of one photo with one key, released together from a barrier (a thread each)."""

    stack: RunningStack
    key: str
    photo: Path
    uploads: int = 12
    answers: list[tuple[int, str | None]] = field(default_factory=list)

    def run(self) -> "ParallelUploads":
        """Send them all at once and wait for every answer."""
        barrier = threading.Barrier(self.uploads)
        threads = [threading.Thread(target=self._upload, args=(barrier,)) for _ in range(self.uploads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        return self

    def _upload(self, barrier: threading.Barrier) -> None:
        barrier.wait()
        answer = self.stack.upload(self.photo, key=self.key)
        code = (answer.json().get("error") or {}).get("code") if answer.status_code != 202 else None
        self.answers.append((answer.status_code, code))

    def accepted(self) -> int:
        """How many uploads were taken (202)."""
        return sum(1 for status, _ in self.answers if status == 202)

    def refusals(self) -> list[tuple[int, str | None]]:
        """The answers that were not 202."""
        return [answer for answer in self.answers if answer[0] != 202]
