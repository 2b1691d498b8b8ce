"""Fail when a pinned dependency has a known vulnerability, from PyPI's own advisory data (stdlib only).

    python tools/audit_pins.py requirements.txt [more.txt ...]

For each `name==version` pin it asks PyPI's JSON API, which carries the OSV/PyPA advisories: first
/pypi/<name>/<version>/json (what `pip-audit --vulnerability-service pypi` uses); where only the project
endpoint /pypi/<name>/json is reachable (some mirrors), its advisories are those of the latest release, so
they answer only for a pin that is the latest. A pin that cannot be checked fails the run rather than pass
silently. Exit status: 0 all clear, 1 vulnerable or unauditable pins, 2 bad input.
"""

import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

INDEX = "https://pypi.org/pypi"
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def read_pins(path: Path) -> list[tuple[str, str]]:
    """The name==version pins of a requirements file, following -r includes."""
    pins = []
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            pins += read_pins(path.parent / line.split(maxsplit=1)[1])
        elif match := PIN.match(line):
            pins.append((match[1], match[2]))
    return pins


def fetch_json(url: str) -> dict | None:
    """GET a JSON document; None on 404."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def advisories(name: str, version: str, fetch=fetch_json) -> list[dict] | None:
    """The advisories affecting name==version, or None if PyPI cannot tell."""
    release = fetch(f"{INDEX}/{name}/{version}/json")
    if release is not None:
        return release.get("vulnerabilities", [])
    project = fetch(f"{INDEX}/{name}/json")
    if project is not None and project["info"]["version"] == version:
        return project.get("vulnerabilities", [])
    return None


def audit(pins: list[tuple[str, str]], fetch=fetch_json) -> list[str]:
    """One line per problem: a known vulnerability or a pin that could not be checked."""
    problems = []
    for name, version in sorted(set(pins)):
        found = advisories(name, version, fetch)
        if found is None:
            problems.append(f"{name}=={version}: cannot be audited (no advisory data for this version)")
            continue
        for advisory in found:
            if not advisory.get("withdrawn"):
                fixed = ", ".join(advisory.get("fixed_in") or []) or "no fix yet"
                problems.append(
                    f"{name}=={version}: {advisory['id']} (fixed in {fixed}) {advisory.get('summary') or ''}"
                )
    return problems


def main(argv: list[str]) -> int:
    """Audit the pins of every file named on the command line."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    pins = [pin for path in argv for pin in read_pins(Path(path))]
    problems = audit(pins)
    for problem in problems:
        print(problem)
    print(f"{len(set(pins))} pins audited, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
