"""WORKER_CLASS=prefork: jobs run one at a time in a long-lived forked work horse, replaced when it dies or overruns.

RQ's fork-per-job worker pays for a fresh process on every job: the fork itself, new Redis and database
connections, and SQLAlchemy's statement cache, which starts empty in every horse (see README, Benchmarks). Here
the worker forks its horse once and hands it one job id at a time over a pipe (what Celery's prefork pool does),
so the horse keeps its connections and caches from job to job. The worker still watches every job as RQ's does:
it heartbeats while the horse works, SIGKILLs a horse still running past JOB_TIMEOUT plus a grace period, and
settles a job whose horse died (segfault, OOM kill) by RQ's own rules: failure callback, then retry or failed.
The horse runs each job through RQ's `perform_job`, so results, retries, callbacks and registries are RQ's.
A horse that failed a job, or grew past HORSE_MAX_RSS_MB, is replaced before the next job, so what one job
breaks or leaks never reaches the next; while it works, WORKER_MEMORY_LIMIT_MB caps it (job_limits.py).
"""

import contextlib
import logging
import os
import random
import signal
import time
from multiprocessing.connection import Connection, Pipe

from rq.callbacks import execute_failure_callback
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.timeouts import JobTimeoutException
from rq.utils import now
from rq.worker import Worker, WorkerStatus

from app import logs
from app.extensions import db
from app.pipeline.job_limits import limit_memory
from app.pipeline.jobs import image_id_of

log = logging.getLogger(__name__)

# The horse's own alarm stops a job at JOB_TIMEOUT; the worker kills it only if that alarm could not fire (a hang
# in C code that never returns to Python), after this long, which leaves time for the failure callback.
OVERRUN_GRACE_SECONDS = 10
# A horse resident past this after a job is replaced: one huge image must not pin its memory in an idle process.
HORSE_MAX_RSS_MB = 384
# How often an idle horse checks that its worker is still alive (it exits when the worker is gone).
IDLE_CHECK_SECONDS = 1.0
# How long the worker waits for an idle horse to exit when it stops, before it kills it.
RETIRE_SECONDS = 10.0
DONE, REPLACE_ME = "done", "replace me"


class HorseDied(Exception):
    """The work horse exited or was killed before it reported the job done."""


class PreforkWorker(Worker):
    """An RQ worker whose jobs run in one long-lived work horse, forked again only when it dies or is replaced."""

    # The work horse's memory limit, WORKER_MEMORY_LIMIT_MB (0: none).
    memory_limit_mb = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._horse_connection: Connection | None = None

    # --- in the worker ---------------------------------------------------------------------------------

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Hand the job to the work horse (forking one if there is none) and watch it until it reports."""
        execution = self.prepare_execution(job)
        self._reap_idle_death()
        if self._horse_connection is None:
            self._fork_horse()
        # If the horse has died since, the send fails and monitoring finds it dead and settles the job.
        with contextlib.suppress(OSError):
            self._horse_connection.send((job.id, queue.name, execution.id))
        self.monitor_work_horse(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def monitor_work_horse(self, job: Job, queue: Queue, execution: Execution) -> None:
        """Wait for the horse's report, heartbeating; settle the job by RQ's rules if the horse dies or overruns."""
        job.started_at = now()
        report = self._wait_for_report(job, execution)
        # The horse cleaned up its own copy of the execution; drop ours (as RQ's Worker does after a fork).
        self.executions.pop(execution.id, None)
        if report == DONE:
            return
        if report == REPLACE_ME:
            self._retire_horse()
            return
        self._settle_lost_job(job, queue, execution, overran=report == "overran")

    def _wait_for_report(self, job: Job, execution: Execution) -> str:
        """DONE or REPLACE_ME from the horse, "died" if it went away, "overran" if we had to kill it."""
        while True:
            try:
                if self._horse_connection.poll(self.job_monitoring_interval):
                    return self._horse_connection.recv()
            except (EOFError, OSError):
                return "died"
            working_time = (now() - job.started_at).total_seconds()
            if job.timeout and job.timeout > 0 and working_time > job.timeout + OVERRUN_GRACE_SECONDS:
                self.log.warning("Worker %s: job %s overran its timeout; killing the work horse", self.name, job.id)
                self.kill_horse(signal.SIGKILL)
                return "overran"
            self.maintain_heartbeats(job, execution)

    def _settle_lost_job(self, job: Job, queue: Queue, execution: Execution, overran: bool) -> None:
        """Reap the dead horse; unless it settled the job before dying, run the failure callback, retry or fail."""
        retpid, ret_val, rusage = self.wait_for_horse()
        self._forget_horse()
        # The horse deletes the execution in the same transaction that records the result or the retry.
        if not self.connection.exists(execution.key):
            return
        try:
            job.get_status()
        except InvalidJobOperation:
            return  # deleted meanwhile
        if self._stopped_job_id == job.id:
            self._handle_stopped_job(job, queue, execution)
            return
        job.ended_at = now()
        cause = _death_cause(job, ret_val, overran)
        self.log.warning("Worker %s: job %s failed (%s)", self.name, job.id, cause)
        self.handle_work_horse_killed(job, retpid, ret_val, rusage)
        self._run_failure_callback(job, cause)
        exc_string = f"Work-horse terminated unexpectedly; waitpid returned {ret_val}; {cause}"
        self.handle_job_failure(job, queue=queue, exc_string=exc_string, execution=execution)

    def _run_failure_callback(self, job: Job, cause: Exception) -> None:
        """The job's on_failure, as the horse would have run it had it lived (it records the attempt on the row)."""
        try:
            execute_failure_callback(job, self.death_penalty_class, type(cause), cause, None)
        except Exception:  # noqa: BLE001 - logged by RQ; the job must still be retried or failed
            pass
        finally:
            db.session.remove()

    def _reap_idle_death(self) -> None:
        """Forget a horse that died while idle (the OOM killer may pick it), so the job goes to a new one."""
        # An idle horse never writes: a readable pipe means it is closed.
        if self._horse_connection is not None and self._horse_connection.poll(0):
            self.log.warning("Worker %s: idle work horse %s died; forking another", self.name, self._horse_pid)
            self.wait_for_horse()
            self._forget_horse()

    def _fork_horse(self) -> None:
        """Fork the work horse; it serves jobs until the pipe closes, it is replaced, or it dies."""
        ours, theirs = Pipe()
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._serve_jobs(theirs)
        theirs.close()
        # The horse does this too; doing it here as well means kill_horse never finds it in our process group.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        os.environ["RQ_WORKER_ID"] = self.name
        self._horse_pid, self._horse_connection = pid, ours
        self.procline(f"Forked work horse {pid} at {time.time()}")

    def _retire_horse(self) -> None:
        """Tell the horse to exit and reap it; kill it if it does not go within RETIRE_SECONDS."""
        if self._horse_connection is None:
            return
        # Say so rather than only closing: a scheduler process forked meanwhile holds a copy of our end of the pipe.
        with contextlib.suppress(OSError):
            self._horse_connection.send(None)
        self._horse_connection.close()
        deadline = time.monotonic() + RETIRE_SECONDS
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(self._horse_pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    self.kill_horse(signal.SIGKILL)
                    self.wait_for_horse()
                    break
                time.sleep(0.01)
        self._forget_horse()

    def _forget_horse(self) -> None:
        """No horse until the next job forks one."""
        if self._horse_connection is not None:
            self._horse_connection.close()
        self._horse_pid, self._horse_connection = 0, None

    def teardown(self) -> None:
        """Let the idle horse go before the worker deregisters."""
        if not self.is_horse:
            self._retire_horse()
        super().teardown()

    # --- in the work horse -----------------------------------------------------------------------------

    def _serve_jobs(self, connection: Connection) -> None:
        """The horse's life: run each job the worker sends, report, and exit when asked to be replaced."""
        code = 0
        try:
            self._become_horse()
            limit_memory(self.memory_limit_mb)
            worker_pid = os.getppid()
            while (request := _next_request(connection, worker_pid)) is not None:
                succeeded = self._perform(*request)
                is_replaced = not succeeded or _resident_mb() > HORSE_MAX_RSS_MB
                connection.send(REPLACE_ME if is_replaced else DONE)
                if is_replaced:
                    break
        except BaseException:  # noqa: BLE001 - a horse never returns into the worker's code
            log.exception("work horse %s failed", os.getpid())
            code = 1
        os._exit(code)

    def _become_horse(self) -> None:
        """Set up the forked child: own process group, RQ's horse signals, no connections shared with the worker."""
        os.setpgrp()
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        self.log = logging.getLogger("rq.worker")
        # The worker may hold pooled connections (failure callbacks); sharing them across a fork corrupts both.
        db.engine.dispose(close=False)
        self.procline("Work horse idle")

    def _perform(self, job_id: str, queue_name: str, execution_id: str) -> bool:
        """Run one job through RQ's perform_job (result, retry, callbacks); False if it failed."""
        try:
            job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
        except NoSuchJobError:
            return True  # deleted between the dequeue and now: nothing to run
        queue = next(queue for queue in self.queues if queue.name == queue_name)
        execution = Execution.fetch(execution_id, job_id, connection=self.connection)
        execution._job = job
        self.executions = {execution.id: execution}
        os.environ["RQ_JOB_ID"] = job.id
        with logs.bound(job_id=job.id, image_id=image_id_of(job.id)):
            try:
                return self.perform_job(job, queue, execution)
            finally:
                db.session.remove()
                self.executions.clear()
                self.procline("Work horse idle")


def _next_request(connection: Connection, worker_pid: int) -> tuple[str, str, str] | None:
    """The next (job id, queue name, execution id), or None once the worker says stop, closes the pipe or dies."""
    while True:
        try:
            if connection.poll(IDLE_CHECK_SECONDS):
                return connection.recv()
        except (EOFError, OSError):
            return None
        # A copy of the worker's end may live on in its scheduler, so the pipe alone does not tell us it died.
        if os.getppid() != worker_pid:
            return None


def _death_cause(job: Job, ret_val: int | None, overran: bool) -> Exception:
    """What ended the attempt, as the exception the failure callback records."""
    if overran:
        return JobTimeoutException(f"Task exceeded maximum timeout value ({job.timeout} seconds); work horse killed")
    if ret_val is not None and os.WIFSIGNALED(ret_val):
        return HorseDied(f"the work horse died of {signal.Signals(os.WTERMSIG(ret_val)).name}")
    code = os.WEXITSTATUS(ret_val) if ret_val is not None else "unknown"
    return HorseDied(f"the work horse exited with code {code}")


def _resident_mb() -> float:
    """This process's resident memory now, in MB (0 where /proc is missing: no replacing for size there)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
