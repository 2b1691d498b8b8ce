"""gunicorn settings of the web role; the numbers come from the environment, with defaults for a small machine."""

import os

from prometheus_client import multiprocess

from app import check_settings, web_server
from config import exit_on_config_error

# A bad setting stops gunicorn here with one line and exit status 2, before any worker fails to boot on it.
with exit_on_config_error("pixline web"):
    check_settings()

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Processes for CPU (upload sniffing, JSON); gevent greenlets for waiting: a long-poll, an event stream or a slow
# client costs a greenlet and its sockets, never a thread (WEB_WORKER_CLASS=gthread brings back threads).
workers = int(os.environ.get("WEB_PROCESSES") or 2 * (os.cpu_count() or 1))
with exit_on_config_error("pixline web"):
    worker_class = web_server.worker_class()
    worker_connections = web_server.connections()
threads = int(os.environ.get("WEB_THREADS") or 16)
# Each waiting client is a socket (a long-poll two: the client's and its Redis subscription); workers inherit this.
web_server.raise_open_files_limit()
# How long a worker may go without a heartbeat before gunicorn restarts it (gevent: its loop blocked that long;
# gthread: above the longest long-poll, 30 s, plus a slow 25 MiB upload). Clients are bounded by CLIENT_TIMEOUT.
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
# gunicornc's control socket in this container's instance folder, not ~/.gunicorn (the code's read-only home).
control_socket = os.path.join(os.environ.get("INSTANCE_PATH") or "/var/lib/pixline", "gunicorn.ctl")
# Trust X-Forwarded-* from the reverse proxy in front (set to its address; "*" inside a private network).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    """Let /metrics forget the live gauges of a web process that exited (counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
