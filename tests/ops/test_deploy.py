"""The container stack without Docker: the compose file names only commands the image has, and the image's entry
commands (web, worker, cron, migrate) run and serve here, against a test Redis."""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app import create_app
from app.stack import free_port, stop_all
from tests.support.images import encoded
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OUR_SERVICES = {name: service for name, service in COMPOSE["services"].items() if "build" in service}


def entrypoint_roles() -> set[str]:
    """The roles docker/entrypoint.sh knows (its case labels)."""
    return set(re.findall(r"^\s+([a-z-]+)\)\s*$", ENTRYPOINT.read_text(), re.MULTILINE))


def copied_paths() -> set[str]:
    """What the Dockerfile copies into the image (first argument of each COPY without --from)."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ") and "--from" not in line]
    return {path.rstrip("/") for args in copies for path in args if not path.startswith("--")}


def in_image(path: str) -> bool:
    """Whether a repository path reaches the image through one of the Dockerfile's COPY lines."""
    copied = copied_paths()
    return path in copied or any(path.startswith(folder + "/") for folder in copied)


def test_compose_runs_our_image_only_with_known_roles_or_flask_commands():
    assert {"web", "worker", "cron", "migrate"} <= set(OUR_SERVICES)
    for name, service in OUR_SERVICES.items():
        command = service["command"]
        if command[0] == "flask":
            args = command[command.index("app") + 1 :] if "--app" in command else command[1:]
            result = CliRunner().invoke(create_app({"TESTING": True}).cli, [*args, "--help"])
            assert result.exit_code == 0, f"{name}: flask {' '.join(args)} does not exist: {result.output}"
        else:
            assert command[0] in entrypoint_roles(), f"{name}: unknown role {command[0]}"


def test_every_role_runs_something_the_image_contains():
    script = ENTRYPOINT.read_text()
    assert in_image("docker/entrypoint.sh") and os.access(ENTRYPOINT, os.X_OK)
    assert in_image("docker/gunicorn.conf.py") and "app:create_app()" in script
    assert in_image("worker.py") and in_image("config.py") and in_image("migrations/env.py")
    assert find_spec("app.maintenance.cron") and in_image("app/maintenance/cron.py")
    assert shutil.which("rq-dashboard", path=str(Path(sys.executable).parent)), "rq-dashboard is not installed"
    for service in OUR_SERVICES.values():
        test = service.get("healthcheck", {}).get("test", [])
        scripts = [part for part in test if part.endswith(".py")]
        assert all(in_image(path) for path in scripts), scripts
    assert in_image("docker/healthcheck.py")


def test_compose_keeps_jobs_safe_and_workers_scalable():
    redis_command = " ".join(COMPOSE["services"]["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--maxmemory-policy noeviction" in redis_command
    worker = OUR_SERVICES["worker"]
    assert "ports" not in worker and "container_name" not in worker, "a fixed port or name stops --scale worker=N"
    web_waits_for = OUR_SERVICES["web"]["depends_on"]
    assert web_waits_for["migrate"]["condition"] == "service_completed_successfully"
    assert "mc mb" in " ".join(COMPOSE["services"]["minio-init"]["command"])


# --- the entry commands, run here -------------------------------------------------------------------------


def http(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """GET (or POST data) url; returns status and body, errors included."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A one-file multipart body and its content type."""
    boundary = "pixline-test-boundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n\r\n'
    return head.encode() + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


MAINTENANCE_QUEUE = "maintenance-deploy-test"
MAINTENANCE_FINISHED = f'pixline_queue_jobs{{queue="{MAINTENANCE_QUEUE}",registry="finished"}}'


def metric(base: str, sample: str) -> float:
    """One sample's value from the web role's /metrics (0 when absent)."""
    for line in http(f"{base}/metrics")[1].decode().splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
def container_env(tmp_path, redis_url):
    """The environment a container would get, pointed at the test Redis and a SQLite file."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{venv_bin}:{os.environ['PATH']}",
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'pixline.db'}",
        "STORAGE_ROOT": str(tmp_path / "media"),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "SECRET_KEY": "test-secret",
        "LOG_FORMAT": "json",
        "PORT": str(free_port()),
        "WEB_PROCESSES": "1",
        "WEB_THREADS": "4",
        "PRUNE_INTERVAL": "1",
        # Its own maintenance queue and cron lease: a cron process of another test cannot stand in for ours.
        "MAINTENANCE_QUEUE": MAINTENANCE_QUEUE,
    }


@pytest.mark.integration
def test_container_entry_commands_serve_ready_web_and_process_an_upload(container_env, tmp_path):
    subprocess.run([str(ENTRYPOINT), "migrate"], cwd=ROOT, env=container_env, check=True, capture_output=True)
    processes = []
    try:
        for role in ("web", "worker", "cron"):
            log = open(tmp_path / f"{role}.log", "wb")  # noqa: SIM115 - closed with the process
            processes.append(subprocess.Popen([str(ENTRYPOINT), role], cwd=ROOT, env=container_env, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
        base = f"http://127.0.0.1:{container_env['PORT']}"
        wait_until(lambda: http(f"{base}/readyz")[0] == 200, 120, interval=0.2, what="web /readyz 200")
        body, content_type = multipart("file", "photo.png", encoded(fmt="PNG"))
        status, answer = http(f"{base}/api/images", body, {"Content-Type": content_type})
        assert status == 202, answer
        image_url = f"{base}/api/images/{json.loads(answer)['id']}"
        wait_until(lambda: json.loads(http(image_url)[1])["status"] == "done", 120, interval=0.2, what="done")

        check = [sys.executable, "docker/healthcheck.py"]
        assert subprocess.run(check, cwd=ROOT, env=container_env).returncode == 0
        assert subprocess.run([*check, "--worker"], cwd=ROOT, env=container_env).returncode == 0
        # The cron process enqueued the prune task on the maintenance queue, and the worker ran it.
        wait_until(lambda: metric(base, MAINTENANCE_FINISHED) >= 1, 60, interval=0.5, what="the prune task to run")
        assert metric(base, 'pixline_uploads_total{code="none",outcome="accepted"}') == 1
    finally:
        stop_all(processes)
        for path in sorted(tmp_path.glob("*.log")):
            print(path.name, path.read_text(errors="replace")[-3000:])
