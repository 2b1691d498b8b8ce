"""The CI-sized load run: 200 uploads at concurrency 16 against a whole stack whose workers keep getting killed."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.load


def test_load_with_worker_kills_loses_nothing_and_never_answers_5xx():
    command = [sys.executable, "bench/load.py", "--uploads", "200", "--concurrency", "16", "--kill-every", "5"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    print(run.stdout)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr[-4000:]}"
    assert "lost: 0" in run.stdout and "5xx: 0" in run.stdout
