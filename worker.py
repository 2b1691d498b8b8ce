"""Run a Pixline worker: `python worker.py [--burst]` (with the RQ scheduler, so retries fire)."""

import argparse
import logging
import os
import time

# Import Pillow and its allowed decoders before forking, so every job's work horse starts warm.
import PIL.GifImagePlugin  # noqa: F401
import PIL.Image
import PIL.JpegImagePlugin  # noqa: F401
import PIL.PngImagePlugin  # noqa: F401
import PIL.WebPImagePlugin  # noqa: F401
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer
from sqlalchemy.orm import configure_mappers

from app import create_app, imaging, logs, settings
from app.extensions import db, redis_queue
from app.maintenance.storage_check import warn_if_storage_moved
from app.monitoring import metrics
from app.pipeline.job_limits import StoppableDeathPenalty, limit_memory, memory_limit
from app.pipeline.jobs import image_id_of
from app.pipeline.webhooks.queueing import webhooks_queue
from app.pipeline.workhorse import PreforkWorker
from app.settings import ConfigError, exit_on_config_error

log = logging.getLogger("pixline.worker")


class BindingQueue(Queue):
    """RQ's queue, binding a dequeued job's ids at once, so the worker's "taking job …" line carries them too."""

    @classmethod
    def dequeue_any(cls, *args, **kwargs):
        """Dequeue as RQ does, then bind the job's ids until its execution ends."""
        result = super().dequeue_any(*args, **kwargs)
        if result is not None:
            logs.bind(job_id=result[0].id, image_id=image_id_of(result[0].id))
        return result


class JobContext:
    """Worker mix-in: every job's ids on its log lines, and its duration counted for /metrics."""

    def execute_job(self, job, queue):
        """Run the job with its ids on every log line, then count it for /metrics."""
        started = time.monotonic()
        # Bound before the fork, so the work horse's lines carry the ids as well as ours.
        with logs.bound(job_id=job.id, image_id=image_id_of(job.id)):
            try:
                super().execute_job(job, queue)
            finally:
                metrics.record_job(job, time.monotonic() - started)
        logs.clear()  # the ids BindingQueue bound at the dequeue


class PixlineWorker(JobContext, Worker):
    """WORKER_CLASS=fork: each job in a forked work horse with a fresh database pool of its own."""

    memory_limit_mb = 0

    def main_work_horse(self, job, queue):
        """In the forked child: drop pooled connections inherited from the parent, cap its memory, then work."""
        # The parent may hold open connections; sharing them across a fork corrupts both sides.
        db.engine.dispose(close=False)
        limit_memory(self.memory_limit_mb)
        super().main_work_horse(job, queue)


class PixlinePreforkWorker(JobContext, PreforkWorker):
    """WORKER_CLASS=prefork: jobs in one long-lived work horse, forked again only when it dies or is replaced."""


class PixlineSimpleWorker(JobContext, SimpleWorker):
    """WORKER_CLASS=simple: each job in the worker process itself; no fork per job, so no crash isolation."""

    memory_limit_mb = 0
    # Its timeout alarm, which a stop request fires early: there is no work horse to kill.
    death_penalty_class = StoppableDeathPenalty

    def execute_job(self, job, queue):
        """Run the job here under the memory limit, then drop its session, so the next starts as clean as a horse."""
        try:
            with memory_limit(self.memory_limit_mb):
                super().execute_job(job, queue)
        finally:
            db.session.remove()

    def kill_horse(self, sig=None):
        """Stop the job RQ was asked to stop (the stop-job command lands here), if it runs now."""
        StoppableDeathPenalty.stop(self._stopped_job_id)


WORKER_CLASSES: dict[str, type[Worker] | type[SimpleWorker]] = {
    "prefork": PixlinePreforkWorker,
    "fork": PixlineWorker,
    "simple": PixlineSimpleWorker,
}


def worker_class_of(config) -> type[Worker] | type[SimpleWorker]:
    """The worker class WORKER_CLASS names (ConfigError for another word)."""
    kind = config.get("WORKER_CLASS", "prefork")
    if kind not in WORKER_CLASSES:
        raise ConfigError(f"WORKER_CLASS must be one of {', '.join(WORKER_CLASSES)}, not {kind!r}")
    return WORKER_CLASSES[kind]


def build_worker(app, name: str | None = None) -> Worker | SimpleWorker:
    """A worker of the WORKER_CLASS for the app's queue, tuned so dead work horses are noticed within seconds."""
    config = app.config
    worker_class = worker_class_of(config)
    # Periodic maintenance first: its tasks are short and must not wait behind a backlog of images. Then images,
    # and webhook deliveries only when no image waits: a receiver (one owner's) never delays another owner's image
    # by more than the one attempt in hand (WEBHOOK_TIMEOUT), and each endpoint has one attempt in flight at most.
    queues = [redis_queue.maintenance_queue, redis_queue.queue, webhooks_queue()]
    worker = worker_class(
        [BindingQueue(queue.name, connection=queue.connection, serializer=queue.serializer) for queue in queues],
        name=name,
        connection=redis_queue.connection,
        serializer=JSONSerializer,
        job_monitoring_interval=config.get("WORKER_MONITOR_SECONDS", 5),
        maintenance_interval=config.get("WORKER_MAINTENANCE_SECONDS", 30),
        worker_ttl=config.get("WORKER_TTL_SECONDS", 60),
        queue_class=BindingQueue,
    )
    worker.memory_limit_mb = config.get("WORKER_MEMORY_LIMIT_MB", 0)
    return worker


def main() -> None:
    """Parse arguments, build the app once and work until told to stop (SIGTERM: warm shutdown)."""
    with exit_on_config_error("pixline worker"):
        values = settings.read()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="Exit when the queue is empty.")
    parser.add_argument("--name", default=None, help="Worker name (default: RQ's random one).")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=values["WORKER_METRICS_PORT"] or 0,
        help="Serve this machine's job metrics on this port (default: WORKER_METRICS_PORT, off).",
    )
    args = parser.parse_args()
    with exit_on_config_error("pixline worker"):
        app = create_app()
    PIL.Image.init()
    # pillow-heif too, so no HEIC job's work horse imports it (~30 ms).
    imaging.preload()
    # Configure the ORM once here: otherwise every forked work horse does it again (~20 ms per job).
    configure_mappers()
    with app.app_context():
        warn_if_storage_moved()
        if args.metrics_port:
            metrics.serve(args.metrics_port)
        worker = build_worker(app, args.name)
        log.info("worker %s (pid %s) on %s", worker.name, os.getpid(), app.config["QUEUE_NAME"])
        worker.work(burst=args.burst, with_scheduler=True, logging_level=app.config["LOG_LEVEL"])


if __name__ == "__main__":
    main()
