"""tools/audit_pins.py on canned PyPI answers: vulnerable pins fail, unknown ones fail, clean ones pass."""

from tools.audit_pins import audit, read_pins

ADVISORY = {"id": "PYSEC-0000-1", "fixed_in": ["2.0.1"], "summary": "bad", "withdrawn": None}


def fake_pypi(releases: dict[str, dict | None], projects: dict[str, dict | None]):
    """A fetch function answering from dicts of URL tail -> JSON (None: 404)."""

    def fetch(url: str):
        tail = url.removeprefix("https://pypi.org/pypi/")
        return releases.get(tail, projects.get(tail))

    return fetch


def test_vulnerable_pin_is_reported():
    fetch = fake_pypi({"lib/2.0.0/json": {"vulnerabilities": [ADVISORY]}}, {})
    assert audit([("lib", "2.0.0")], fetch) == ["lib==2.0.0: PYSEC-0000-1 (fixed in 2.0.1) bad"]


def test_withdrawn_advisory_is_ignored():
    fetch = fake_pypi({"lib/2.0.0/json": {"vulnerabilities": [{**ADVISORY, "withdrawn": "2024-01-01"}]}}, {})
    assert audit([("lib", "2.0.0")], fetch) == []


def test_latest_pin_is_audited_from_the_project_endpoint_when_releases_are_unreachable():
    project = {"info": {"version": "2.0.0"}, "vulnerabilities": [ADVISORY]}
    assert len(audit([("lib", "2.0.0")], fake_pypi({}, {"lib/json": project}))) == 1
    clean = {"info": {"version": "2.0.0"}, "vulnerabilities": []}
    assert audit([("lib", "2.0.0")], fake_pypi({}, {"lib/json": clean})) == []


def test_older_pin_without_release_data_fails_as_unauditable():
    project = {"info": {"version": "3.0.0"}, "vulnerabilities": []}
    [problem] = audit([("lib", "2.0.0")], fake_pypi({}, {"lib/json": project}))
    assert "cannot be audited" in problem


def test_read_pins_follows_includes_and_ignores_comments(tmp_path):
    (tmp_path / "base.txt").write_text("# runtime\nFlask==3.1.3\nfakeredis[lua]==2.40.0  # tests\n")
    (tmp_path / "dev.txt").write_text("-r base.txt\npytest==9.2.0\nunpinned\n")
    assert read_pins(tmp_path / "dev.txt") == [("Flask", "3.1.3"), ("fakeredis", "2.40.0"), ("pytest", "9.2.0")]
