"""Prometheus metrics: counters kept by each process, gauges read from Redis and the database at scrape time.

Counters and histograms live in the process that counts: web processes count uploads, the worker's main
process counts jobs (it watches every work horse it forks, so no short-lived horse writes metric files). With
PROMETHEUS_MULTIPROC_DIR set (it must be set before prometheus_client is imported, i.e. in the environment),
every process of a machine writes its samples there and /metrics adds them up.
"""

import hmac
import logging

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, start_http_server
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from app import exceptions, settings
from app.exceptions import HTTP_CODES
from app.extensions import db
from app.models import Image, ImageStatus
from app.monitoring.queue_stats import queue_stats

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)

UPLOADS = Counter("pixline_uploads", "Upload requests answered, by outcome and error code.", ["outcome", "code"])
JOB_DURATION = Histogram(
    "pixline_job_duration_seconds",
    "Wall time of one job execution (fork to exit), by queue and outcome.",
    ["queue", "outcome"],
    buckets=DURATION_BUCKETS,
)
JOB_RETRIES = Counter("pixline_job_retries", "Failed attempts RQ scheduled another try of, by queue.", ["queue"])
WEBHOOK_DELIVERIES = Counter(
    "pixline_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retrying, gave_up, refused, skipped).",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "pixline_webhook_delivery_seconds",
    "Time one webhook attempt took, by outcome.",
    ["outcome"],
    buckets=DURATION_BUCKETS,
)
PROCESSING_FAILURES = Counter(
    "pixline_processing_failures", "Jobs that failed for good (no retry left), by error code.", ["code"]
)

OUTCOMES = {
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.SCHEDULED: "retried",
    JobStatus.QUEUED: "retried",
}


def multiprocess_dir() -> str | None:
    """The folder processes share samples through, if multiprocess mode is on."""
    return settings.read()["PROMETHEUS_MULTIPROC_DIR"]


# --- recording -------------------------------------------------------------------------------------------


def record_upload(status: int, error_code: str | None) -> None:
    """Count one answered upload request."""
    if status < 400:
        UPLOADS.labels("accepted", "none").inc()
    else:
        UPLOADS.labels("refused", error_code or HTTP_CODES.get(status, "http_error")).inc()


def record_job(job: Job, seconds: float) -> None:
    """Count one finished execution, as the worker's main process sees it after the work horse exits."""
    try:
        status = job.get_status(refresh=True)
        outcome = OUTCOMES.get(status, "other")
        JOB_DURATION.labels(job.origin, outcome).observe(seconds)
        if outcome == "retried":
            JOB_RETRIES.labels(job.origin).inc()
        elif outcome == "failed":
            PROCESSING_FAILURES.labels(failure_code(job)).inc()
        if outcome == "finished" and job.origin == current_app.config["WEBHOOK_QUEUE"]:
            record_webhook_attempt(job.return_value())
    except Exception:  # noqa: BLE001 - counting must never take the worker down (Redis may be what failed)
        log.warning("could not record metrics of job %s", job.id, exc_info=True)


def record_webhook_attempt(result) -> None:
    """Count a webhook attempt by the outcome its job returned (other jobs return something else)."""
    if isinstance(result, dict) and "webhook_outcome" in result:
        WEBHOOK_DELIVERIES.labels(result["webhook_outcome"]).inc()
        WEBHOOK_LATENCY.labels(result["webhook_outcome"]).observe(result.get("seconds") or 0)


def failure_code(job: Job) -> str:
    """The error code of the exception that failed the job, read from its last traceback line."""
    result = job.latest_result()
    lines = [line for line in ((result.exc_string if result else None) or "").splitlines() if line.strip()]
    name = lines[-1].split(":", 1)[0].rsplit(".", 1)[-1] if lines else ""
    error_class = getattr(exceptions, name, None)
    if isinstance(error_class, type) and issubclass(error_class, exceptions.PixlineError):
        return error_class.code
    return "processing_error"


# --- scrape-time state -------------------------------------------------------------------------------------


class StateCollector:
    """Gauges read at scrape time: images by status, jobs per queue and registry, workers, oldest job age."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        """Yield the gauges; a source that does not answer is reported through pixline_scrape_error."""
        errors = GaugeMetricFamily("pixline_scrape_error", "1 when a source could not be read.", labels=["source"])
        for source, collect in (("database", self._images), ("redis", self._queues)):
            try:
                yield from collect()
                errors.add_metric([source], 0)
            except Exception as error:  # noqa: BLE001 - a scrape must answer even when a source is down
                log.warning("metrics: could not read %s: %s", source, error)
                errors.add_metric([source], 1)
        yield errors

    def _images(self):
        images = GaugeMetricFamily("pixline_images", "Images by status.", labels=["status"])
        rows = dict(db.session.execute(select(Image.status, func.count()).group_by(Image.status)).all())
        for status in ImageStatus:
            images.add_metric([status.value], rows.get(status.value, 0))
        yield images

    def _queues(self):
        jobs = GaugeMetricFamily("pixline_queue_jobs", "Jobs per queue and registry.", labels=["queue", "registry"])
        oldest = GaugeMetricFamily(
            "pixline_queue_oldest_job_age_seconds", "Age of the oldest queued job.", labels=["queue"]
        )
        workers = GaugeMetricFamily("pixline_workers", "RQ workers alive.")
        stats = queue_stats()
        for queue in stats.queues:
            for registry, count in queue.registries.items():
                jobs.add_metric([queue.name, registry], count)
            oldest.add_metric([queue.name], queue.oldest_job_age or 0)
        workers.add_metric([], stats.workers)
        yield from (jobs, oldest, workers)


def scrape_registry(app: Flask) -> CollectorRegistry:
    """The registry one scrape reads: this machine's counters plus the state gauges."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(StateCollector(app))
    return registry


class _ProcessMetrics:
    """This process's own metrics, when there is no multiprocess folder to read."""

    def collect(self):
        return REGISTRY.collect()


@bp.get("/metrics")
def metrics():
    """Prometheus text exposition (behind METRICS_TOKEN, when it is set)."""
    if not is_authorized(request.headers.get("Authorization", "")):
        body = {"error": {"code": "unauthorized", "message": "Send the metrics token as 'Authorization: Bearer …'."}}
        return jsonify(body), 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
    registry = scrape_registry(current_app._get_current_object())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def is_authorized(authorization: str) -> bool:
    """Whether an Authorization header carries METRICS_TOKEN as Bearer (always, when no token is set)."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        return True
    scheme, _, given = authorization.partition(" ")
    # Constant time: how long a refusal takes says nothing about how much of the token was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def serve(port: int, addr: str = "0.0.0.0") -> None:
    """Serve this machine's counters on their own port (a worker machine runs no web server)."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    start_http_server(port, addr=addr, registry=registry)
    log.info("serving worker metrics on %s:%s/metrics", addr, port)


def init_app(app: Flask) -> None:
    """Mount /metrics."""
    app.register_blueprint(bp)
