"""A bad setting stops every entry point with one line naming the setting and the rule, and exit status 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ENTRY_POINTS = {
    "make run": [sys.executable, "-m", "app.stack"],
    "worker": [sys.executable, "worker.py"],
    "cron": [sys.executable, "-m", "app.maintenance.cron"],
    "flask": [str(VENV_BIN / "flask"), "--app", "app", "images", "list"],
    "gunicorn": [str(VENV_BIN / "gunicorn"), "--config", "docker/gunicorn.conf.py", "app:create_app()"],
}
BAD_SETTINGS = [
    ("IMAGE_VARIANTS", "thumb:0", "must be a whole number from 1 to"),
    ("MAX_UPLOAD_BYTES", "abc", "must be a whole number, not 'abc'"),
    ("WORKER_CLASS", "threads", "must be one of prefork, fork, simple"),
]


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
@pytest.mark.parametrize(("setting", "value", "rule"), BAD_SETTINGS)
def test_bad_setting_stops_the_entry_point_with_one_line(entry_point, setting, value, rule, tmp_path):
    # A dead loopback port: nothing may be reached before the settings are checked.
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:9/0", setting: value}
    done = subprocess.run(ENTRY_POINTS[entry_point], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert done.returncode == 2, lines
    assert len(lines) == 1 and setting in lines[0] and rule in lines[0], lines


@pytest.mark.parametrize(("setting", "value", "rule"), [*BAD_SETTINGS[:2], ("MAX_UPLOAD_BYTES", "0", "at least 1")])
def test_bad_setting_is_a_config_error(setting, value, rule, tmp_path, monkeypatch, fake_redis):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(setting, value)
    with pytest.raises(ConfigError, match=rule):
        create_app({"TESTING": True, "REDIS_CLIENT": fake_redis})
