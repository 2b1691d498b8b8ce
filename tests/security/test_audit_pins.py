""".ci/audit_pins.py on canned PyPI answers: vulnerable pins fail, unknown ones are listed, clean ones pass."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "audit_pins.py"
_spec = importlib.util.spec_from_file_location("audit_pins", SCRIPT)
audit_pins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit_pins)
audit, read_pins = audit_pins.audit, audit_pins.read_pins

ADVISORY = {"id": "PYSEC-0000-1", "fixed_in": ["2.0.1"], "summary": "bad", "withdrawn": None}


def fake_pypi(releases: dict[str, dict | None], projects: dict[str, dict | None]):
    """A fetch function answering from dicts of URL tail -> JSON (None: 404)."""

    def fetch(url: str):
        tail = url.removeprefix("https://pypi.org/pypi/")
        return releases.get(tail, projects.get(tail))

    return fetch


def test_vulnerable_pin_is_reported():
    fetch = fake_pypi({"lib/2.0.0/json": {"vulnerabilities": [ADVISORY]}}, {})
    assert audit([("lib", "2.0.0")], fetch) == (["lib==2.0.0: PYSEC-0000-1 (fixed in 2.0.1) bad"], [])


def test_withdrawn_advisory_is_ignored():
    fetch = fake_pypi({"lib/2.0.0/json": {"vulnerabilities": [{**ADVISORY, "withdrawn": "2024-01-01"}]}}, {})
    assert audit([("lib", "2.0.0")], fetch) == ([], [])


def test_latest_pin_is_audited_from_the_project_endpoint_when_releases_are_unreachable():
    project = {"info": {"version": "2.0.0"}, "vulnerabilities": [ADVISORY]}
    assert len(audit([("lib", "2.0.0")], fake_pypi({}, {"lib/json": project}))[0]) == 1
    clean = {"info": {"version": "2.0.0"}, "vulnerabilities": []}
    assert audit([("lib", "2.0.0")], fake_pypi({}, {"lib/json": clean})) == ([], [])


def test_older_pin_without_release_data_is_listed_as_unaudited():
    project = {"info": {"version": "3.0.0"}, "vulnerabilities": []}
    vulnerable, [unaudited] = audit([("lib", "2.0.0")], fake_pypi({}, {"lib/json": project}))
    assert vulnerable == [] and "cannot be audited" in unaudited


def test_unaudited_pins_fail_only_in_strict_mode(tmp_path, monkeypatch):
    (tmp_path / "req.txt").write_text("lib==2.0.0\n")
    monkeypatch.setattr(audit_pins, "fetch_json", fake_pypi({}, {"lib/json": {"info": {"version": "3.0.0"}}}))
    monkeypatch.setattr(audit_pins.audit, "__defaults__", (audit_pins.fetch_json,))
    assert audit_pins.main([str(tmp_path / "req.txt")]) == 0
    assert audit_pins.main(["--strict", str(tmp_path / "req.txt")]) == 1


def test_read_pins_follows_includes_and_ignores_comments(tmp_path):
    (tmp_path / "base.txt").write_text("# runtime\nFlask==3.1.3\nfakeredis[lua]==2.40.0  # tests\n")
    (tmp_path / "dev.txt").write_text("-r base.txt\npytest==9.2.0\nunpinned\n")
    assert read_pins(tmp_path / "dev.txt") == [("Flask", "3.1.3"), ("fakeredis", "2.40.0"), ("pytest", "9.2.0")]
