"""First contact: a fresh copy, `make run` on a runtime-only virtualenv, and the Markdown examples as written.

The copy has no .venv: `make run` builds one from requirements.txt alone (what the Docker image installs too), so
a runtime dependency that only the development virtualenv brings makes these tests fail. `.ci/run` runs them
first, alone (`-m docs`), and again within `make test`.
"""

import re
import subprocess
from pathlib import Path

import pytest

from tests.docs.examples import ExampleRunner, wait_for_line
from tests.support.images import corpus_photo
from tests.support.polling import wait_until
from tests.support.stack import ROOT

pytestmark = [pytest.mark.docs, pytest.mark.integration]

MARKDOWN_FILES = [ROOT / "README.md", *sorted(ROOT.glob("docs/**/*.md"))]
PHOTO = "storm_1920x1280.jpg"
# What a program a file starts must print while its examples run (the README's webhook receiver).
PROGRAM_LINES = {"receiver.py": [r"^ping whe_\w+$", r"^image\.done \w+ done$"]}
# Packages only requirements-dev.txt brings: none of them may be in the runtime virtualenv `make run` builds.
DEV_ONLY = ("pytest", "hypothesis", "ruff", "moto", "playwright", "fakeredis")


def test_a_fresh_copy_serves_a_done_upload_with_the_key_make_run_printed(stacks):
    stack = stacks.running()
    assert stack.key == (stack.instance / "api_key").read_text().strip()
    answer = stack.upload(corpus_photo(PHOTO))
    assert answer.status_code == 202, answer.text
    image = stack.wait_for(answer.json()["id"], "done")
    assert set(image["variants"]) == {"thumb", "small", "medium", "large"}


def test_every_module_imports_in_the_runtime_only_virtualenv(stacks):
    python = stacks.running().python
    assert python.is_relative_to(stacks.checkout), python
    script = (
        "import importlib, pkgutil, app; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(app.__path__, 'app.')]; "
        "import worker, config, gunicorn.workers.ggevent, gunicorn.workers.gthread, rq_dashboard"
    )
    done = subprocess.run([str(python), "-c", script], cwd=stacks.checkout, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in DEV_ONLY:
        found = subprocess.run([str(python), "-c", f"import {name}"], capture_output=True)
        assert found.returncode != 0, f"{name} is in the runtime virtualenv: it is not runtime-only"


def test_the_image_installs_exactly_what_make_run_installs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs == ["RUN /opt/venv/bin/pip install -r /tmp/requirements.txt"], installs
    assert "COPY requirements.txt /tmp/requirements.txt" in dockerfile
    runtime_recipe = (ROOT / "Makefile").read_text().partition("$(VENV)/.runtime:")[2].partition("\n\n")[0]
    installed = re.findall(r"install .*", runtime_recipe)
    assert installed == ["install --quiet --upgrade pip", "install --quiet -r requirements.txt"], installed


def done_image(runner: ExampleRunner) -> str:
    """An image of the key's owner, done: what a reader has after following an upload."""
    stack = runner.stack
    answer = stack.upload(corpus_photo(PHOTO))
    assert answer.status_code == 202, answer.text
    return stack.wait_for(answer.json()["id"], "done")["id"]


def failed_job(runner: ExampleRunner) -> str:
    """The id of a failed job (a truncated photo's), as `flask jobs failed` lists it."""
    stack = runner.stack
    truncated = runner.log_folder / "truncated.jpg"
    photo = corpus_photo(PHOTO).read_bytes()
    truncated.write_bytes(photo[: len(photo) // 4])
    answer = stack.upload(truncated)
    assert answer.status_code == 202, answer.text
    image_id = stack.wait_for(answer.json()["id"], "failed")["id"]
    listed = stack.flask("jobs", "failed").stdout.splitlines()
    return next(line.split("\t")[0] for line in listed if f"\t{image_id}\t" in line)


def spare_key(runner: ExampleRunner) -> str:
    """The id of a key of the local owner made for the occasion (the README's examples roll and revoke it)."""
    done = runner.stack.flask("keys", "create", "--name", "spare", "--owner", "local")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].removeprefix("pxl_").partition("_")[0]


def latest_delivery(runner: ExampleRunner) -> str:
    """A delivery of the endpoint the examples registered, as its deliveries list shows it."""
    endpoint = runner.last_seen(r"\bwhe_[0-9a-f]{24}\b")
    items = lambda: runner.stack.request("GET", f"/api/webhooks/{endpoint}/deliveries").json()["items"]  # noqa: E731
    return wait_until(items, 60, interval=0.5, what="a delivery to list")[0]["id"]


PLACEHOLDERS = {
    "<id>": done_image,
    "<image id>": done_image,
    "<job id>": failed_job,
    "<key id>": spare_key,
    "<endpoint id>": lambda runner: runner.last_seen(r"\bwhe_[0-9a-f]{24}\b"),
    "<delivery id>": latest_delivery,
    "whsec_…": lambda runner: runner.last_seen(r"\bwhsec_[A-Za-z0-9+/=]+"),
}


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_shell_example_runs_as_written(path: Path, stacks, tmp_path):
    runner = ExampleRunner(stacks, PLACEHOLDERS, tmp_path)
    try:
        report = runner.run_file(stacks.checkout / path.relative_to(ROOT))
        for log_path in report.programs.values():
            for pattern in PROGRAM_LINES.get(log_path.stem, []):
                wait_for_line(log_path, pattern)
    finally:
        runner.stop()
    print(report.summary())
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / f"examples-{path.stem}.txt").write_text(report.summary() + "\n")
    assert report.ran, f"{path.name}: no example ran"
