"""`make run` (app.stack) as a user meets it: a busy port, the settings file the CLI finds, the stack's own lines."""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from app import stack_settings
from app.stack import free_port, stop_all
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]


def stack_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a `make run` of its own: instance folder in tmp_path, no REDIS_URL (a private Redis)."""
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL", "STORAGE_ROOT")}
    return {**env, "INSTANCE_PATH": str(tmp_path / "instance"), "WEB_PROCESSES": "1", "WEB_THREADS": "2", **overrides}


def test_busy_port_stops_make_run_at_once_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = stack_env(tmp_path, PORT=str(port))
        done = subprocess.run([sys.executable, "-m", "app.stack"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode != 0
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "PORT" in lines[0], lines
    assert not (tmp_path / "instance" / "redis").exists()  # stopped before starting anything


def queue_stats(env: dict[str, str]) -> dict:
    """`flask queue stats --json` run as a user would, from the checkout, with env."""
    command = [str(Path(sys.executable).with_name("flask")), "--app", "app", "queue", "stats", "--json"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout) if done.returncode == 0 else {"workers": -1}


def dashboard_answers(port: int, password: str) -> bool:
    """Whether the dashboard on port lets admin in."""
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.integration
def test_cli_dashboard_and_an_extra_worker_reach_the_stack_make_run_started(tmp_path):
    env = stack_env(tmp_path, PORT=str(free_port()), WORKERS="1")
    settings_file = tmp_path / "instance" / "stack.json"
    log = open(tmp_path / "stack.log", "wb")  # noqa: SIM115 - closed with the process
    stack = subprocess.Popen([sys.executable, "-m", "app.stack"], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    others = []
    try:
        wait_until(settings_file.exists, 60, what="make run to write its settings")
        # Nothing but the instance folder in common: no REDIS_URL, as in a second terminal.
        wait_until(lambda: queue_stats(env)["workers"] == 1, 90, interval=0.5, what="the CLI to see the stack's worker")
        others.append(subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, start_new_session=True))
        wait_until(lambda: queue_stats(env)["workers"] == 2, 60, interval=0.5, what="an extra worker to join")
        port = free_port()
        command = [sys.executable, "-m", "app.stack", "dashboard"]
        others.append(subprocess.Popen(command, cwd=ROOT, env={**env, "DASHBOARD_PORT": str(port)},
                                       start_new_session=True))  # fmt: skip
        password = (tmp_path / "instance" / "dashboard_password").read_text().strip()
        wait_until(lambda: dashboard_answers(port, password), 60, interval=0.5, what="the dashboard")
    finally:
        stop_all(others)
        stack.send_signal(signal.SIGTERM)
        stack.wait(90)
        print((tmp_path / "stack.log").read_text(errors="replace")[-3000:])
    assert stack.returncode == 0
    assert not settings_file.exists()  # a clean stop forgets the stack
    # The terminal shows the local key beside the dashboard password; it is kept, private, in the instance folder.
    api_key = (tmp_path / "instance" / "api_key").read_text().strip()
    assert f"api_key: {api_key})" in (tmp_path / "stack.log").read_text()
    assert (tmp_path / "instance" / "api_key").stat().st_mode & 0o777 == 0o600


def test_settings_file_of_a_dead_stack_is_ignored_with_a_warning(tmp_path, capsys):
    stack_settings.write(tmp_path, {"REDIS_URL": "redis://127.0.0.1:9/0", "DATABASE_URL": "sqlite:///elsewhere.db"})
    assert stack_settings.environ_with_stack(tmp_path, {"LOG_LEVEL": "DEBUG"}) == {"LOG_LEVEL": "DEBUG"}
    assert "does not answer" in capsys.readouterr().err


def test_environment_wins_over_the_settings_file(tmp_path, redis_url):
    stack_settings.write(tmp_path, {"REDIS_URL": redis_url, "DATABASE_URL": "sqlite:///stack.db"})
    merged = stack_settings.environ_with_stack(tmp_path, {"DATABASE_URL": "sqlite:///mine.db"})
    assert merged == {"REDIS_URL": redis_url, "DATABASE_URL": "sqlite:///mine.db"}
    assert (tmp_path / "stack.json").stat().st_mode & 0o077 == 0


@pytest.mark.integration
def test_every_line_of_make_run_is_json_and_an_image_is_followed_by_its_id(tmp_path):
    from tests.ops.test_deploy import http, multipart
    from tests.support.images import encoded

    port = free_port()
    env = stack_env(tmp_path, PORT=str(port), WORKERS="1", LOG_FORMAT="json")
    log_path = tmp_path / "stack.log"
    with open(log_path, "wb") as log:
        stack = subprocess.Popen([sys.executable, "-m", "app.stack"], cwd=ROOT, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http(f"{base}/healthz")[0] == 200, 90, interval=0.3, what="the web server")
        key_path = tmp_path / "instance" / "api_key"
        api_key = key_path.read_text().strip()
        key = {"Authorization": f"Bearer {api_key}"}
        body, content_type = multipart("file", "photo.png", encoded(fmt="PNG"))
        assert http(f"{base}/api/images", body, {"Content-Type": content_type})[0] == 401
        status, answer = http(f"{base}/api/images", body, {"Content-Type": content_type, **key})
        assert status == 202, answer
        image_id = json.loads(answer)["id"]
        done = lambda: json.loads(http(f"{base}/api/images/{image_id}", None, key)[1])["status"] == "done"  # noqa: E731
        wait_until(done, 90, interval=0.3, what="the image to be done")
        wait_until(lambda: "Job OK" in log_path.read_text(), 30, what="the job's last line")
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(90)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    assert key_path.stat().st_mode & 0o777 == 0o600
    secret = api_key.removeprefix("pxl_").partition("_")[2]
    assert api_key.startswith("pxl_") and not [line for line in lines if secret in line]
    not_json = [line for line in lines if not line.startswith("{")]
    assert not not_json, not_json
    entries = [json.loads(line) for line in lines]
    about_image = [entry for entry in entries if image_id in entry["message"] or entry.get("image_id") == image_id]
    assert about_image and all(entry.get("image_id") == image_id for entry in about_image), about_image
    messages = " | ".join(entry["message"] for entry in about_image)
    assert "upload accepted" in messages and "POST /api/images" in messages and "Job OK" in messages
