"""The API key `make run` gives its user: owner `local`, kept in `<instance>/api_key`, made with `flask keys`.

The key is made once and kept. It is made again when the database no longer knows it (a fresh database) and
replaced when it lacks a scope the local key has today (a key made before `webhooks:manage` was added to it): the
old key is then revoked, and the stack says so in one line.
"""

import os
import subprocess
import sys
from pathlib import Path

from app.supervisor import say

ROOT = Path(__file__).resolve().parent.parent
OWNER = "local"
# Everything an owner does with its own things; not admin (an everyday key should not see other owners).
SCOPES = frozenset({"images:read", "images:write", "images:delete", "webhooks:manage"})


def flask_command(*args: str) -> subprocess.CompletedProcess:
    """Run `flask --app app …` here, in this stack's environment, capturing its output."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, capture_output=True,
                          text=True)  # fmt: skip


def local_api_key(instance: Path) -> str:
    """The local key from instance/api_key, made (or replaced by one with every local scope) when needed."""
    path = instance / "api_key"
    token = path.read_text().strip() if path.exists() else ""
    scopes = live_key_scopes(token) if token else None
    if scopes is not None and scopes >= SCOPES:
        return token
    new_token = create_key()
    write_private(path, new_token)
    if scopes is None:
        say(f"created the local API key ({path})")
    else:
        revoke_key(key_id_of(token))
        missing = ", ".join(sorted(SCOPES - scopes))
        say(f"replaced the local API key in {path}: the old one lacked {missing} and is revoked")
    return new_token


def key_id_of(token: str) -> str:
    """The key id inside a `pxl_<id>_<secret>` token."""
    return token.removeprefix("pxl_").partition("_")[0]


def live_key_scopes(token: str) -> frozenset[str] | None:
    """The scopes of this key if the database has it unrevoked, else None (a fresh database forgets the file's key)."""
    done = flask_command("keys", "list")
    for row in (line.split("\t") for line in done.stdout.splitlines()):
        if len(row) == 9 and row[0] == key_id_of(token) and row[8] == "-":
            return frozenset(row[3].split(","))
    return None


def create_key() -> str:
    """A new key of the local owner with the local scopes (`flask keys create`)."""
    done = flask_command("keys", "create", "--name", "make run", "--owner", OWNER, "--scopes", ",".join(sorted(SCOPES)))
    if done.returncode != 0:
        for line in (done.stdout + done.stderr).splitlines():
            say(line, "error")
        raise SystemExit(f"make run: could not create the local API key (exit status {done.returncode}).")
    return done.stdout.strip().splitlines()[-1]


def revoke_key(key_id: str) -> None:
    """Revoke a replaced local key (`flask keys revoke`); a failure is said, not fatal (the new key works)."""
    done = flask_command("keys", "revoke", key_id)
    if done.returncode != 0:
        say(f"could not revoke the old local API key {key_id}: {(done.stdout + done.stderr).strip()}", "warning")


def write_private(path: Path, token: str) -> None:
    """Write the key readable by this user only, from the start: never readable by another, even for a moment."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
