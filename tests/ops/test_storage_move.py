"""Switching storage under an existing database: warned at start, and moved with `flask storage migrate`."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.stack import free_port, stop_all
from tests.conftest import authorize, dispose_app
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WARNING = "newest done images have no original in the configured storage"


@pytest.fixture
def moved(make_stack, tmp_path):
    """A stack whose two done images live under media/, switched (same database) to an empty new-media/."""
    stack = make_stack()
    stack.start_worker()
    image_ids = [stack.upload(encoded(color=color)).get_json()["id"] for color in ("red", "blue")]
    for image_id in image_ids:
        assert wait_for_status(stack.client, image_id, {"done", "failed"})["status"] == "done", stack.worker_logs()
    stack.stop()
    stack.workers.clear()
    stack.env["STORAGE_ROOT"] = str(tmp_path / "new-media")
    dispose_app(stack.app)
    stack.app = stack._build_app()
    stack.client = authorize(stack.app.test_client(), stack.api_key)
    stack.image_ids = image_ids
    return stack


def invoke(stack, *args: str):
    """`flask <args>` in the stack's (switched) app."""
    return stack.app.test_cli_runner().invoke(args=list(args))


def stored(root: Path) -> dict[str, bytes]:
    """Every file under a storage root, by key."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_a_worker_warns_at_start_when_the_images_are_in_another_storage(moved):
    moved.start_worker()
    wait_until(lambda: WARNING in moved.worker_logs(), 30, what="the worker's storage warning")
    line = next(line for line in moved.worker_logs().splitlines() if WARNING in line)
    assert "2 of the 2 newest" in line and "flask storage migrate" in line and "new-media" in line


def test_storage_check_says_what_to_do_and_exits_1(moved, caplog):
    with caplog.at_level(logging.WARNING, logger="pixline.storage"):
        result = invoke(moved, "storage", "check")
    assert result.exit_code == 1, result.output
    assert any(WARNING in record.getMessage() for record in caplog.records)


def test_migrate_copies_every_recorded_file_and_leaves_the_audit_clean(moved, tmp_path):
    assert invoke(moved, "images", "audit").exit_code == 1
    image = moved.client.get(f"/api/images/{moved.image_ids[0]}").get_json()
    assert moved.client.get(image["variants"]["thumb"]["url"]).status_code == 404
    result = invoke(moved, "storage", "migrate", "--from-backend", "local", "--from-root", str(tmp_path / "media"))
    assert result.exit_code == 0, result.output
    assert "missing in the source 0" in result.output and "audit: clean" in result.output
    assert stored(tmp_path / "new-media") == stored(tmp_path / "media")
    assert invoke(moved, "storage", "check").exit_code == 0
    assert moved.client.get(image["variants"]["thumb"]["url"]).status_code == 200


def test_migrate_run_again_copies_only_what_is_missing(moved, tmp_path):
    old = ["storage", "migrate", "--from-backend", "local", "--from-root", str(tmp_path / "media")]
    first = invoke(moved, *old)
    copied = int(first.output.split("copied ")[1].split(",")[0])
    assert copied > 2
    # As after an interruption: one file had not made it yet.
    next((tmp_path / "new-media" / "originals").iterdir()).unlink()
    again = invoke(moved, *old)
    assert again.exit_code == 0, again.output
    assert f"copied 1, already there {copied - 1}, missing in the source 0" in again.output


def test_migrate_refuses_the_configured_root_as_its_source(moved, tmp_path):
    (tmp_path / "new-media").mkdir(exist_ok=True)
    result = invoke(moved, "storage", "migrate", "--from-backend", "local", "--from-root", str(tmp_path / "new-media"))
    assert result.exit_code == 2 and "nothing to copy" in result.output


def test_make_run_warns_at_start_when_the_images_are_in_another_storage(moved, tmp_path):
    from tests.support.stack import RunningStack

    settings = {"INSTANCE_PATH": str(tmp_path / "run"), "DATABASE_URL": moved.env["DATABASE_URL"]}
    stack = RunningStack(tmp_path / "make-run.log", STORAGE_ROOT=str(tmp_path / "new-media"), **settings).start()
    try:
        wait_until(lambda: WARNING in stack.log(), 60, what="make run's storage warning")
    finally:
        stack.stop()


def test_the_image_web_role_warns_once_at_start(moved, tmp_path):
    port = free_port()
    env = {**moved.env, "PORT": str(port), "WEB_PROCESSES": "2", "PATH": f"{Path(sys.executable).parent}{os.pathsep}"}
    env["PATH"] += os.environ.get("PATH", "")
    log_path = tmp_path / "web.log"
    with open(log_path, "wb") as log:
        web = subprocess.Popen(["sh", "docker/entrypoint.sh", "web"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def warned() -> bool:
        assert web.poll() is None, log_path.read_text(errors="replace")
        return WARNING in log_path.read_text(errors="replace")

    try:
        wait_until(warned, 60, what="the web role's storage warning")
        wait_until(lambda: log_path.read_text().count("Booting worker") == 2, 30, what="both web processes")
        assert log_path.read_text(errors="replace").count(WARNING) == 1
    finally:
        stop_all([web])


def test_migrate_stopped_by_unavailable_storage_says_so_in_a_line_and_resumes(moved, tmp_path, monkeypatch):
    from app.exceptions import StorageUnavailable
    from app.maintenance import storage_move

    copy_file = storage_move.copy_file
    calls = []

    def copy_then_fail(source, target, key, content_type):
        calls.append(key)
        if len(calls) == 2:
            raise StorageUnavailable()
        return copy_file(source, target, key, content_type)

    monkeypatch.setattr(storage_move, "copy_file", copy_then_fail)
    old = ["storage", "migrate", "--from-backend", "local", "--from-root", str(tmp_path / "media")]
    stopped = invoke(moved, *old)
    assert stopped.exit_code == 1 and "Traceback" not in stopped.output
    assert "stopped copying, run it again to resume: Storage is unavailable" in stopped.output
    monkeypatch.setattr(storage_move, "copy_file", copy_file)
    again = invoke(moved, *old)
    assert again.exit_code == 0 and "copied " in again.output and ", already there 1," in again.output
