"""The benchmark suite's quick mode runs end to end and produces every table (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
TABLES = ("processing", "memory", "upload", "stack", "formats", "outputs", "waiting", "isolation")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """Run `python -m bench.run --quick` once; its printed output and results folder."""
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS}")
    results = tmp_path_factory.mktemp("bench-results")
    command = [sys.executable, "-m", "bench.run", "--quick", "--results", str(results)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout, results


@pytest.mark.parametrize("name", TABLES)
def test_quick_run_writes_every_table_as_json_with_rows_and_targets(quick_run, name):
    _, results = quick_run
    payload = json.loads((results / f"{name}.json").read_text())
    assert payload["table"]["rows"]
    assert payload["table"]["targets"]
    assert payload["context"]["machine"]["cpus"] >= 1


def test_quick_run_prints_eight_tables_with_their_references(quick_run):
    output, _ = quick_run
    titles = [line[3:5] for line in output.splitlines() if line.startswith("== ")]
    assert titles == ["1.", "2.", "3.", "4.", "5.", "6.", "7.", "8."]
    for reference in ("plain-pillow", "pyvips", "decode-full", "bare write", "reference images/s", "gthread"):
        assert reference in output


def test_quick_run_takes_every_image_through_the_stack_with_each_worker_class(quick_run):
    _, results = quick_run
    rows = json.loads((results / "stack.json").read_text())["table"]["rows"]
    assert {row["worker class"] for row in rows} == {"prefork", "fork", "simple"}
    assert all(row["failed"] == 0 for row in rows)


def test_quick_run_holds_waiting_clients_with_each_web_worker_class(quick_run):
    _, results = quick_run
    rows = json.loads((results / "waiting.json").read_text())["table"]["rows"]
    assert [row["worker class"] for row in rows] == ["gthread", "gevent"]
    gevent = rows[1]
    assert gevent["upload errors"] == 0 and gevent["polls answered"] > 0


def test_quick_run_measures_a_victim_alone_and_beside_an_attack(quick_run):
    _, results = quick_run
    rows = json.loads((results / "isolation.json").read_text())["table"]["rows"]
    assert [row["attack"] for row in rows] == ["alone", "hostile growing GIFs"]
    assert all(row["victim done max s"] > 0 for row in rows)
    assert "422 too_many_pixels" in rows[1]["attacker got"]
