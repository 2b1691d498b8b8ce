"""gunicorn settings of the web role; the numbers come from the environment, with defaults for a small machine."""

import os

from prometheus_client import multiprocess

from app import check_settings
from config import exit_on_config_error

# A bad setting stops gunicorn here with one line and exit status 2, before any worker fails to boot on it.
with exit_on_config_error("pixline web"):
    check_settings()

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Processes for CPU (upload sniffing, JSON); threads for waiting (long-polls hold a thread for up to 30 s).
workers = int(os.environ.get("WEB_PROCESSES") or 2 * (os.cpu_count() or 1))
threads = int(os.environ.get("WEB_THREADS") or 16)
worker_class = "gthread"
# Above the longest long-poll (30 s) plus a slow 25 MiB upload; gunicorn restarts a worker silent for longer.
timeout = int(os.environ.get("WEB_TIMEOUT") or 75)
graceful_timeout = 30
keepalive = 5
# Recycle processes now and then, so slow leaks in any library stay bounded.
max_requests = 5000
max_requests_jitter = 500
# Heartbeat files in memory, not on the container's overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
# JSON error and access lines with LOG_FORMAT=json; an access line carries the image id it is about.
logger_class = "app.logs.GunicornLogger"
# Trust X-Forwarded-* from the reverse proxy in front (set to its address; "*" inside a private network).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    """Let /metrics forget the live gauges of a web process that exited (counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
