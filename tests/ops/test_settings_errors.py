"""A bad setting stops every process with one line naming the setting and the rule, and exit status 2.

Every setting of the table is walked through every process entry point at once: each process gets every setting's
bad example together and must print exactly one line per setting (the line the in-process check gives), then a few
single bad settings show the one-line case process by process.
"""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app import create_app, settings
from app.settings.parsers import Grammar
from config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Each entry point, and how it begins its lines: the flask CLI speaks as click does.
ENTRY_POINTS = {
    "make run": ([sys.executable, "-m", "app.stack"], "make run: "),
    "worker": ([sys.executable, "worker.py"], "pixline worker: "),
    "cron": ([sys.executable, "-m", "app.maintenance.cron"], "pixline cron: "),
    "flask": ([str(VENV_BIN / "flask"), "--app", "app", "images", "list"], "Error: "),
    "gunicorn": (
        [str(VENV_BIN / "gunicorn"), "--config", "docker/gunicorn.conf.py", "app:create_app()"],
        "pixline web: ",
    ),
    # The image's web role: gunicorn with that config, after the check gunicorn's own reading of the environment needs.
    "image web": (["sh", "docker/entrypoint.sh", "web"], "pixline web: "),
}
CHECKED = [setting for setting in settings.TABLE if setting.parser.bad is not None]


def expected_line(name: str, value: str) -> str:
    """The one line the in-process check gives for name=value."""
    with pytest.raises(ConfigError) as refused:
        settings.read({name: value})
    assert len(refused.value.problems) == 1, refused.value.problems
    return refused.value.problems[0]


def run(entry_point: str, tmp_path: Path, **bad: str) -> tuple[int, list[str]]:
    """Start one process with the bad settings over a plain environment; its exit status and non-empty lines."""
    plain = {name: value for name, value in os.environ.items() if name not in settings.BY_NAME}
    # A dead loopback port: nothing may be reached before the settings are checked.
    env = {**plain, "INSTANCE_PATH": str(tmp_path / entry_point), "REDIS_URL": "redis://127.0.0.1:9/0", **bad}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    command, _ = ENTRY_POINTS[entry_point]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]


@pytest.mark.parametrize("setting", settings.TABLE, ids=lambda setting: setting.name)
def test_each_setting_refuses_its_bad_example_in_one_line_naming_it(setting):
    if setting.parser.bad is None:
        assert setting.parser.any_text_because, f"{setting.name} takes any text: say why"
        return
    line = expected_line(setting.name, setting.parser.bad)
    assert line.startswith(setting.name) and "\n" not in line
    if not isinstance(setting.parser, Grammar):  # a grammar's own parser words the rule
        assert f"must be {setting.parser.rule}, not " in line


@pytest.mark.parametrize("setting", settings.TABLE, ids=lambda setting: setting.name)
def test_each_default_meets_its_own_rule(setting):
    if setting.default is not None:
        setting.parser.check(setting.default)


def test_every_bad_setting_at_once_stops_every_process_with_a_line_apiece(tmp_path):
    every = {setting.name: setting.parser.bad for setting in CHECKED}
    expected = {name: expected_line(name, value) for name, value in every.items()}
    # Plain gunicorn refuses FORWARDED_ALLOW_IPS itself, before its config file runs: the image's web role checks
    # the settings first (entrypoint.sh), so every process but plain gunicorn gets every bad setting.
    bad = {name: every if name != "gunicorn" else without(every, "FORWARDED_ALLOW_IPS") for name in ENTRY_POINTS}
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(
            zip(ENTRY_POINTS, pool.map(lambda name: run(name, tmp_path, **bad[name]), ENTRY_POINTS), strict=True)
        )
    for entry_point, (status, lines) in results.items():
        prefix = ENTRY_POINTS[entry_point][1]
        assert status == 2, (entry_point, lines[-5:])
        assert lines == [prefix + expected[name] for name in bad[entry_point]], (entry_point, lines)


def without(settings_given: dict[str, str], name: str) -> dict[str, str]:
    """The settings but one."""
    return {key: value for key, value in settings_given.items() if key != name}


# One bad setting per run: every process with at least one, the issue's own examples among them, and a relation.
SINGLE = [
    ("make run", {"RATE_LIMIT": "60/minit"}),
    ("make run", {"PORT": "99999"}),
    ("worker", {"STORAGE_BACKEND": "s4"}),
    ("worker", {"MEDIA_ACCESS": "signed", "MEDIA_BASE_URL": "https://cdn.example/"}),
    ("cron", {"REDIS_URL": "http://127.0.0.1:9/0"}),
    ("flask", {"RATE_LIMIT": "60/minit"}),
    ("flask", {"STORAGE_BACKEND": "no.such.module:Backend"}),
    ("gunicorn", {"IMAGE_VARIANTS": "thumb:0"}),
    ("image web", {"FORWARDED_ALLOW_IPS": "10.1.2.3/8"}),
    ("image web", {"MEDIA_ACCESS": "signed", "MEDIA_BASE_URL": "https://cdn.example/"}),
]


def test_one_bad_setting_stops_each_process_with_one_line(tmp_path):
    expected = [ENTRY_POINTS[entry_point][1] + the_line(bad) for entry_point, bad in SINGLE]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda case: run(case[0], tmp_path / str(id(case)), **case[1]), SINGLE))
    for (entry_point, bad), (status, lines), line in zip(SINGLE, results, expected, strict=True):
        assert (status, lines) == (2, [line]), (entry_point, bad)


def the_line(bad: dict[str, str]) -> str:
    """The one line the in-process check gives for these settings together."""
    with pytest.raises(ConfigError) as refused:
        settings.read(bad)
    assert len(refused.value.problems) == 1, refused.value.problems
    return refused.value.problems[0]


def test_a_url_with_a_password_is_never_echoed(tmp_path):
    line = expected_line("REDIS_URL", "http://:hunter2@redis.example:6379/0")
    assert "hunter2" not in line and ":***@" in line
    assert "hunter2" not in expected_line("DATABASE_URL", "nosuch://user:hunter2@db/pixline")


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [
        ("IMAGE_VARIANTS", "thumb:0", "must be a whole number from 1 to"),
        ("MAX_UPLOAD_BYTES", "abc", "must be a whole number ≥ 1, not 'abc'"),
        ("MAX_UPLOAD_BYTES", "0", "≥ 1"),
    ],
)
def test_bad_setting_is_a_config_error(setting, value, rule, tmp_path, monkeypatch, fake_redis):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(setting, value)
    with pytest.raises(ConfigError, match=rule):
        create_app({"TESTING": True, "REDIS_CLIENT": fake_redis})


@pytest.mark.parametrize(("setting", "value"), [("PORT", 0), ("PAGE_UPLOADS", "perhaps"), ("OUTPUT_FORMATS", "gif")])
def test_a_bad_setting_given_in_code_is_refused_too(setting, value, tmp_path, monkeypatch, fake_redis):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=setting):
        create_app({"TESTING": True, "REDIS_CLIENT": fake_redis, setting: value})
