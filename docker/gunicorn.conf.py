"""gunicorn settings of the web role; the numbers come from Pixline's settings, with defaults for a small machine."""

import os

from prometheus_client import multiprocess

from app import settings, web_server

# A bad setting stops gunicorn here with one line per bad setting and exit status 2, before any worker boots on it.
with settings.exit_on_config_error("pixline web"):
    values = settings.read()

bind = f"0.0.0.0:{values['PORT']}"
# Processes for CPU (upload sniffing, JSON); gevent greenlets for waiting: a long-poll, an event stream or a slow
# client costs a greenlet and its sockets, never a thread (WEB_WORKER_CLASS=gthread brings back threads).
workers = values["WEB_PROCESSES"] or 2 * (os.cpu_count() or 1)
worker_class = values["WEB_WORKER_CLASS"]
worker_connections = values["WEB_CONNECTIONS"]
threads = values["WEB_THREADS"]
# Each waiting client is a socket (a long-poll two: the client's and its Redis subscription); workers inherit this.
web_server.raise_open_files_limit()
# How long a worker may go without a heartbeat before gunicorn restarts it (gevent: its loop blocked that long;
# gthread: above the longest long-poll, 30 s, plus a slow 25 MiB upload). Clients are bounded by CLIENT_TIMEOUT.
timeout = values["WEB_TIMEOUT"]
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
control_socket = os.path.join(settings.read()["INSTANCE_PATH"] or "/var/lib/pixline", "gunicorn.ctl")
# Trust X-Forwarded-* from the reverse proxy in front (set to its address; "*" inside a private network).
forwarded_allow_ips = values["FORWARDED_ALLOW_IPS"]


def post_worker_init(worker):
    """In the first web process only: warn when the database's images are not in the configured storage."""
    if worker.age == 1:
        web_server.warn_if_storage_moved(worker.wsgi)


def child_exit(server, worker):
    """Let /metrics forget the live gauges of a web process that exited (counters stay summed)."""
    if values["PROMETHEUS_MULTIPROC_DIR"]:
        multiprocess.mark_process_dead(worker.pid)
