"""`make run` (app.stack) as a user meets it: a busy port, the settings file the CLI finds, the stack's own lines,
a banner that tells the truth, children that keep crashing, the local key and gunicorn's control socket."""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import stack_settings
from app.stack import announce, free_port, stop_all
from app.stack_key import key_id_of, local_api_key
from app.supervisor import CRASHES_BEFORE_GIVING_UP, CrashLoop, Supervised, telling_line
from tests.support.polling import wait_until
from tests.support.stack import plain_environment

ROOT = Path(__file__).resolve().parents[2]


def stack_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a `make run` of its own: instance folder and HOME in tmp_path, a private Redis."""
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL", "STORAGE_ROOT")}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), HOME=str(tmp_path / "home"), WEB_PROCESSES="1")
    return {**env, "WEB_THREADS": "2", **overrides}


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
        # gunicorn's control socket is this stack's, in its instance folder; nothing in the shared ~/.gunicorn.
        assert (tmp_path / "instance" / "gunicorn.ctl").is_socket()
        assert not (tmp_path / "home" / ".gunicorn").exists()
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


def run_make_run(tmp_path: Path, **settings: str) -> tuple[int, str]:
    """`make run` (python -m app.stack) with a plain environment until it exits by itself; its status and output."""
    env = plain_environment(INSTANCE_PATH=str(tmp_path / "instance"), PORT=str(free_port()), **settings)
    done = subprocess.run([sys.executable, "-m", "app.stack"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=400)  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def restart_waits(output: str, name: str) -> list[str]:
    """The waits make run announced before each restart of the child called name."""
    return re.findall(rf"^{name} exited with code \d+; restarting it in (\d+) s\.$", output, re.M)


@pytest.mark.integration
def test_a_web_server_that_cannot_start_stops_make_run_with_its_error_and_no_banner(tmp_path):
    # The first contact's failure: gunicorn's gevent worker cannot import `packaging` (here hidden from it alone).
    shim = tmp_path / "shim" / "packaging"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError(\"No module named 'packaging' (hidden by the test)\")\n")
    status, output = run_make_run(tmp_path, WORKERS="1", PYTHONPATH=str(tmp_path / "shim"))
    lines = [line for line in output.splitlines() if line.strip()]
    assert status == 1, output[-3000:]
    assert "Pixline is running" not in output
    assert restart_waits(output, "web") == ["1", "2", "4", "8"]
    assert lines[-1] == (
        f"make run: web exited {CRASHES_BEFORE_GIVING_UP} times in a row within 60 s of starting; stopping Pixline. "
        "Its last error: ImportError: No module named 'packaging' (hidden by the test)"
    )


@pytest.mark.integration
def test_a_worker_that_keeps_crashing_stops_make_run_with_its_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        # A worker serves its metrics on WORKER_METRICS_PORT: a port another program holds makes it crash at start.
        status, output = run_make_run(tmp_path, WORKERS="1", WORKER_METRICS_PORT=str(taken.getsockname()[1]))
    lines = [line for line in output.splitlines() if line.strip()]
    assert status == 1, output[-3000:]
    assert restart_waits(output, "worker 1") == ["1", "2", "4", "8"]
    assert lines[-1].startswith("make run: worker 1 exited 5 times in a row"), lines[-1]
    assert lines[-1].endswith("Its last error: OSError: [Errno 98] Address already in use"), lines[-1]


def test_a_child_that_keeps_crashing_backs_off_then_is_given_up_with_its_last_line():
    command = [
        sys.executable,
        "-c",
        "import sys; print('boom: the bad thing', file=sys.stderr); print(']', file=sys.stderr); sys.exit(3)",
    ]
    child, waits = Supervised("boom", lambda generation: command, ROOT), []
    with pytest.raises(CrashLoop) as crash:
        while True:
            wait_until(lambda: child.process.poll() is not None, 30, what="the child to exit")
            child.check()
            waits.append(round(child.restart_at - time.monotonic()))
            child.restart_at = time.monotonic()  # the test does not sit the waits out
            child.check()
    assert waits == [1, 2, 4, 8]
    assert crash.value.exits == CRASHES_BEFORE_GIVING_UP and crash.value.last_line == "boom: the bad thing"


def test_a_child_killed_from_outside_is_restarted_however_often():
    child = Supervised("sleeper", lambda generation: [sys.executable, "-c", "import time; time.sleep(60)"], ROOT)
    try:
        for _ in range(CRASHES_BEFORE_GIVING_UP + 1):
            killed = child.process
            killed.kill()  # the OOM killer, an operator's kill -9, the load test
            killed.wait()
            wait_until(lambda killed=killed: child.check() or child.process is not killed, 10, what="a restart")
        assert child.crashes == 0 and child.generation == CRASHES_BEFORE_GIVING_UP + 2
    finally:
        stop_all([child.process])


@pytest.mark.parametrize(
    ("line", "telling"),
    [
        ("]\n", ""),
        ("   \n", ""),
        ("ModuleNotFoundError: No module named 'packaging'\n", "ModuleNotFoundError: No module named 'packaging'"),
        (
            '{"level": "error", "message": "boom", "exception": "Traceback…\\nOSError: port taken"}',
            "OSError: port taken",
        ),
        ('{"level": "error", "message": "worker lost"}', "worker lost"),
    ],
)
def test_the_last_error_line_is_one_that_says_something(line, telling):
    assert telling_line(line) == telling


def banner(monkeypatch, capsys, **settings: str) -> str:
    """The banner announce() prints with these settings (and a dashboard's)."""
    for name in ("DATABASE_URL", "STORAGE_BACKEND", "STORAGE_ROOT", "INSTANCE_PATH", "S3_BUCKET", "S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DASHBOARD_USERNAME", "admin")
    monkeypatch.setenv("DASHBOARD_PASSWORD", "dash")
    monkeypatch.setenv("REDIS_URL", settings.pop("REDIS_URL", "redis://127.0.0.1:6390/0"))
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    announce("127.0.0.1", 5000, 2, "pxl_0123_secret", ROOT / "instance" / "api_key")
    return capsys.readouterr().out


def test_the_banner_names_the_embedded_storage_and_database(monkeypatch, capsys):
    out = banner(monkeypatch, capsys)
    assert "  storage      local (instance/media)\n" in out
    assert "  database     sqlite:///instance/pixline.db\n" in out
    assert 'Try: curl -H "Authorization: Bearer $(cat instance/api_key)" http://127.0.0.1:5000/api/images' in out


def test_the_banner_never_shows_a_password_of_the_database_or_redis(monkeypatch, capsys):
    out = banner(monkeypatch, capsys, DATABASE_URL="postgresql://pixline:hunter2@db:5432/pixline",
                 REDIS_URL="redis://:s3cret@127.0.0.1:6390/0", STORAGE_BACKEND="s3", S3_BUCKET="photos",
                 S3_ENDPOINT_URL="http://minio:9000")  # fmt: skip
    assert "  storage      s3 (bucket photos at http://minio:9000)\n" in out
    assert "  database     postgresql://pixline:***@db:5432/pixline\n" in out
    assert "Redis at redis://:***@127.0.0.1:6390/0" in out
    assert "hunter2" not in out and "s3cret" not in out


def flask_here(env: dict[str, str], *args: str) -> str:
    """`flask --app app …` with env; its output (it must succeed)."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def key_row(env: dict[str, str], token: str) -> list[str]:
    """The `flask keys list` row of this key."""
    rows = [line.split("\t") for line in flask_here(env, "keys", "list").splitlines()]
    return next(row for row in rows if row[0] == key_id_of(token))


def test_a_local_key_without_webhooks_manage_is_replaced_and_revoked_once(tmp_path, redis_url, monkeypatch, capsys):
    env = plain_environment(INSTANCE_PATH=str(tmp_path / "instance"), REDIS_URL=redis_url)
    flask_here(env, "db", "upgrade")
    # What an older `make run` made: read, write and delete only.
    old = flask_here(env, "keys", "create", "--name", "make run", "--owner", "local").strip().splitlines()[-1]
    (tmp_path / "instance" / "api_key").write_text(old + "\n")
    for name in set(os.environ) - set(env):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    new = local_api_key(tmp_path / "instance")
    assert new != old and (tmp_path / "instance" / "api_key").read_text() == new + "\n"
    assert key_row(env, old)[8] != "-", "the replaced key must be revoked"
    assert key_row(env, new)[2:4] == ["local", "images:delete,images:read,images:write,webhooks:manage"]
    said = [line for line in capsys.readouterr().err.splitlines() if line]
    assert said == [f"replaced the local API key in {tmp_path / 'instance' / 'api_key'}: "
                    "the old one lacked webhooks:manage and is revoked"]  # fmt: skip
    assert local_api_key(tmp_path / "instance") == new and not capsys.readouterr().err


def test_the_images_gunicorn_keeps_its_control_socket_in_the_instance_folder(tmp_path):
    script = "import runpy; print(runpy.run_path('docker/gunicorn.conf.py')['control_socket'])"
    env = {**plain_environment(INSTANCE_PATH=str(tmp_path)), "WEB_PROCESSES": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == str(tmp_path / "gunicorn.ctl"), done.stderr
