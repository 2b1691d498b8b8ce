"""Fail when a pinned dependency has a known vulnerability, from PyPI's own advisory data (stdlib only).

    python .ci/audit_pins.py [--strict] requirements.txt [more.txt ...]

For each `name==version` pin it asks PyPI's JSON API, which carries the OSV/PyPA advisories: first
/pypi/<name>/<version>/json (what `pip-audit --vulnerability-service pypi` uses); where only the project
endpoint /pypi/<name>/json is reachable (some mirrors), its advisories are those of the latest release, so
they answer only for a pin that is the latest. A pin that cannot be checked is listed as unaudited, never
passed silently; it fails the run only with --strict, because otherwise every upstream release of a pinned
package (boto3 releases most days) would turn CI red for no security reason.
Exit status: 0 no known vulnerability, 1 vulnerable pins (or, with --strict, unaudited ones), 2 bad input.
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


def audit(pins: list[tuple[str, str]], fetch=fetch_json) -> tuple[list[str], list[str]]:
    """(known vulnerabilities, pins that could not be checked), one line each."""
    vulnerable, unaudited = [], []
    for name, version in sorted(set(pins)):
        found = advisories(name, version, fetch)
        if found is None:
            unaudited.append(f"{name}=={version}: cannot be audited (no advisory data for this version)")
            continue
        for advisory in found:
            if not advisory.get("withdrawn"):
                fixed = ", ".join(advisory.get("fixed_in") or []) or "no fix yet"
                vulnerable.append(
                    f"{name}=={version}: {advisory['id']} (fixed in {fixed}) {advisory.get('summary') or ''}"
                )
    return vulnerable, unaudited


def main(argv: list[str]) -> int:
    """Audit the pins of every file named on the command line."""
    strict = "--strict" in argv
    paths = [arg for arg in argv if arg != "--strict"]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    pins = [pin for path in paths for pin in read_pins(Path(path))]
    vulnerable, unaudited = audit(pins)
    for line in vulnerable:
        print(f"VULNERABLE {line}")
    for line in unaudited:
        print(f"unaudited  {line}")
    print(f"{len(set(pins))} pins: {len(vulnerable)} vulnerable, {len(unaudited)} unaudited")
    return 1 if vulnerable or (strict and unaudited) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
