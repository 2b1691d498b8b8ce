"""`flask keys …` as an operator uses it: create shows the key once, list hides secrets, revoke and roll take effect."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey
from app.pipeline import keys
from tests import imagegen
from tests.conftest import authorize

JPEG = imagegen.solid_jpeg((8, 8))


def create(runner, *args: str) -> str:
    """Run `flask keys create` and return the key from its last line."""
    result = runner.invoke(args=["keys", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def status_with(app, token: str, path: str = "/api/images") -> int:
    """The status of a GET with token as Bearer."""
    return authorize(app.test_client(), token).get(path).status_code


@pytest.fixture
def clock(monkeypatch):
    """The keys' clock, movable: clock.move(hours=25)."""

    class Clock:
        offset = timedelta()

        def move(self, **delta) -> None:
            self.offset += timedelta(**delta)

    moving = Clock()
    real_now = keys.now
    monkeypatch.setattr(keys, "now", lambda: real_now() + moving.offset)
    return moving


def test_create_prints_a_working_key_alone_on_the_last_line_and_stores_only_its_hash(app, runner):
    token = create(runner, "--name", "ci", "--owner", "acme")
    assert token.startswith("pxl_") and " " not in token
    assert status_with(app, token) == 200
    secret = token.removeprefix("pxl_").partition("_")[2]
    assert len(secret) >= 22  # at least 128 bits, URL-safe base64
    with app.app_context():
        row = db.session.scalars(select(ApiKey).where(ApiKey.name == "ci")).one()
        stored = [str(getattr(row, column.name)) for column in ApiKey.__table__.columns]
        assert row.owner_id == "acme" and row.last4 == token[-4:]
        assert not any(secret in value for value in stored)
        assert row.scope_set == {"images:read", "images:write", "images:delete"}


def test_create_takes_scopes_and_an_expiry(app, runner):
    token = create(runner, "--name", "reader", "--scopes", "images:read", "--expires-in", "90d")
    with app.app_context():
        row = db.session.get(ApiKey, token.removeprefix("pxl_").partition("_")[0])
        assert row.scope_set == {"images:read"}
        assert timedelta(days=89) < row.expires_at - row.created_at <= timedelta(days=90)


def test_create_refuses_an_unknown_scope(runner):
    result = runner.invoke(args=["keys", "create", "--name", "x", "--scopes", "images:everything"])
    assert result.exit_code == 2 and "images:everything" in result.output


def test_list_shows_each_key_without_its_secret_and_each_owners_usage(app, runner):
    token = create(runner, "--name", "uploader", "--owner", "acme")
    client = authorize(app.test_client(), token)
    assert client.post("/api/images", data={"file": (io.BytesIO(JPEG), "a.jpg")}).status_code == 202
    result = runner.invoke(args=["keys", "list"])
    assert result.exit_code == 0
    secret = token.removeprefix("pxl_").partition("_")[2]
    assert secret not in result.output
    key_line = next(line for line in result.output.splitlines() if line.startswith(token[4:20]))
    fields = key_line.split("\t")
    assert fields[1:5] == ["uploader", "acme", "images:delete,images:read,images:write", token[-4:]]
    assert fields[6] != "-" and fields[8] == "-"  # used just now; not revoked
    usage_line = next(line for line in result.output.splitlines() if line.startswith("acme\t"))
    assert usage_line.split("\t")[1:3] == ["1", str(len(JPEG))]


def test_revoke_takes_effect_at_once(app, runner):
    token = create(runner, "--name", "leaked")
    assert status_with(app, token) == 200
    key_id = token.removeprefix("pxl_").partition("_")[0]
    assert runner.invoke(args=["keys", "revoke", key_id]).exit_code == 0
    assert status_with(app, token) == 401


def test_revoke_of_an_unknown_key_exits_1(runner):
    result = runner.invoke(args=["keys", "revoke", "nosuchkey"])
    assert result.exit_code == 1 and "nosuchkey" in result.output


def test_roll_prints_a_new_key_and_the_old_one_works_for_24_hours(app, runner, clock):
    old = create(runner, "--name", "rolled", "--owner", "acme")
    result = runner.invoke(args=["keys", "roll", old.removeprefix("pxl_").partition("_")[0]])
    assert result.exit_code == 0, result.output
    new = result.output.strip().splitlines()[-1]
    assert new.startswith("pxl_") and new != old
    assert status_with(app, old) == 200 and status_with(app, new) == 200
    clock.move(hours=23, minutes=59)
    assert status_with(app, old) == 200
    clock.move(minutes=2)
    assert status_with(app, old) == 401 and status_with(app, new) == 200


def test_last_used_is_written_at_most_once_a_minute(app, runner, clock):
    token = create(runner, "--name", "busy")
    key_id = token.removeprefix("pxl_").partition("_")[0]

    def last_used():
        with app.app_context():
            return db.session.get(ApiKey, key_id).last_used_at

    status_with(app, token)
    first = last_used()
    clock.move(seconds=30)
    status_with(app, token)
    assert last_used() == first
    clock.move(seconds=31)
    status_with(app, token)
    assert last_used() > first
