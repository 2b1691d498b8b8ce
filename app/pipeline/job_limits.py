"""What bounds one job inside the process that runs it: its memory, and (in a simple worker) a stop request.

Memory: WORKER_MEMORY_LIMIT_MB is the process's RLIMIT_DATA, which Linux (4.7 and later) checks on every private
writable mapping: the heap, the mmap'd buffers Pillow and its codecs decode into, thread stacks. Unlike a resident-set
watchdog it refuses the allocation that would pass it, before any of that memory is touched, so a job can never take
the machine's memory first and be killed afterwards. The allocation fails, the codec raises, and the job fails
permanently with `too_large_to_process` (app.imaging.errors). The limit is set in the work horse for its whole life
(prefork, fork), or around each job in the worker itself (simple, whose own memory then counts too).

Stopping: `flask`/API deletes stop a running job with RQ's stop-job command, which kills the work horse. A simple
worker has no horse: its job runs under RQ's SIGALRM death penalty, and a stop request fires that alarm early.
"""

import contextlib
import resource
import signal
import threading
from collections.abc import Iterator

from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

MIB = 1024 * 1024


def limit_memory(megabytes: int) -> None:
    """Cap this process's data size at megabytes from now on (0: leave it as it is)."""
    if megabytes > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        soft = megabytes * MIB if hard == resource.RLIM_INFINITY else min(megabytes * MIB, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


@contextlib.contextmanager
def memory_limit(megabytes: int) -> Iterator[None]:
    """Cap this process's data size at megabytes while the block runs, then lift the cap again."""
    previous = resource.getrlimit(resource.RLIMIT_DATA)
    limit_memory(megabytes)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, previous)


class JobStopped(JobTimeoutException):
    """The job was stopped on request (its image deleted) while it ran in the worker's own process."""


class StoppableDeathPenalty(UnixSignalDeathPenalty):
    """RQ's SIGALRM timeout, which a stop request (from the worker's pub/sub thread) can also fire at once."""

    _lock = threading.Lock()
    _armed: "StoppableDeathPenalty | None" = None

    def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
        super().__init__(timeout, exception, **kwargs)
        self.job_id: str | None = kwargs.get("job_id")
        self._stopping = False

    def setup_death_penalty(self) -> None:
        """Arm the alarm, and let stop() find it."""
        with self._lock:
            super().setup_death_penalty()
            StoppableDeathPenalty._armed = self

    def cancel_death_penalty(self) -> None:
        """Disarm the alarm; from here on stop() does nothing (SIGALRM would kill the worker)."""
        with self._lock:
            StoppableDeathPenalty._armed = None
            super().cancel_death_penalty()

    def handle_death_penalty(self, signum, frame) -> None:
        """Raise in the job: JobStopped if a stop fired the alarm, else RQ's timeout."""
        if self._stopping:
            self._stopping = False
            raise JobStopped("Job stopped on request")
        super().handle_death_penalty(signum, frame)

    @classmethod
    def stop(cls, job_id: str | None) -> bool:
        """Fire the alarm of the job with this id now, if it is armed; False if that job is not running here."""
        with cls._lock:
            armed = cls._armed
            if armed is None or job_id is None or armed.job_id != job_id:
                return False
            armed._stopping = True
            signal.setitimer(signal.ITIMER_REAL, 0.001)
            return True
