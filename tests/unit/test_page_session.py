"""The page's anonymous owners and page tokens: what resolves to a principal, and what does not."""

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer

from app.pipeline.access import DELETE, READ, WRITE
from app.web import page_session
from app.web.page_session import (
    COOKIE_SALT,
    OWNER_COOKIE,
    TOKEN_MAX_AGE,
    TOKEN_SALT,
    page_principal,
    page_token_for,
    principal_from_page_token,
)

OWNER = "anon_" + "a" * 32


def resolve(app, token: str):
    """principal_from_page_token inside a request of app."""
    with app.test_request_context("/api/images"):
        return principal_from_page_token(token)


def token_of(app, owner_id: str = OWNER) -> str:
    """A page token of owner_id made by app."""
    with app.test_request_context("/"):
        return page_token_for(owner_id)


def test_a_page_token_resolves_to_its_owner_with_the_page_scopes(app):
    token = token_of(app)
    assert token.startswith("pxp_")
    principal = resolve(app, token)
    assert principal.owner_id == OWNER
    assert principal.scopes == {READ, WRITE, DELETE}
    assert not principal.is_admin
    assert principal.key_id is None


def test_without_page_uploads_a_token_holds_no_write_scope(app):
    token = token_of(app)
    app.config["PAGE_UPLOADS"] = False
    assert resolve(app, token).scopes == {READ, DELETE}


def test_a_tampered_token_is_refused(app):
    token = token_of(app)
    assert resolve(app, token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert resolve(app, token.replace("pxp_", "pxp_x", 1)) is None


def test_a_token_signed_with_another_secret_is_refused(app):
    forged = "pxp_" + URLSafeTimedSerializer("not-the-secret", salt=TOKEN_SALT).dumps(OWNER)
    assert resolve(app, forged) is None


def test_an_expired_token_is_refused(app, monkeypatch):
    made_at = int(time.time()) - TOKEN_MAX_AGE - 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
    token = token_of(app)
    monkeypatch.undo()
    assert resolve(app, token) is None


def test_a_token_a_little_under_a_day_old_still_resolves(app, monkeypatch):
    made_at = int(time.time()) - TOKEN_MAX_AGE + 600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
    token = token_of(app)
    monkeypatch.undo()
    assert resolve(app, token).owner_id == OWNER


def test_the_owner_cookie_is_not_a_page_token(app):
    cookie = URLSafeSerializer(app.config["SECRET_KEY"], salt=COOKIE_SALT).dumps(OWNER)
    assert resolve(app, "pxp_" + cookie) is None


@pytest.mark.parametrize("owner_id", ["legacy", "tests", "anon_" + "x" * 80, "", 42])
def test_a_genuine_token_of_an_owner_that_is_not_anonymous_is_refused(app, owner_id):
    forged = "pxp_" + URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=TOKEN_SALT).dumps(owner_id)
    assert resolve(app, forged) is None


@pytest.mark.parametrize("token", ["", "pxp_", "pxl_abc_def", "garbage", "pxp_..."])
def test_a_token_that_is_not_one_is_refused(app, token):
    assert resolve(app, token) is None


def test_a_new_browser_gets_a_fresh_anonymous_owner(app):
    with app.test_request_context("/"):
        first = page_principal()
    with app.test_request_context("/"):
        second = page_principal()
    assert first.owner_id.startswith("anon_") and second.owner_id.startswith("anon_")
    assert first.owner_id != second.owner_id
    assert len(first.owner_id) == len("anon_") + 32


def test_a_genuine_cookie_names_the_browser_owner(app):
    cookie = URLSafeSerializer(app.config["SECRET_KEY"], salt=COOKIE_SALT).dumps(OWNER)
    with app.test_request_context("/", headers={"Cookie": f"{OWNER_COOKIE}={cookie}"}):
        assert page_principal().owner_id == OWNER
        assert page_principal().scopes == {READ, WRITE, DELETE}


@pytest.mark.parametrize("secret", ["not-the-secret", None])
def test_a_forged_cookie_names_no_owner(app, secret):
    cookie = "legacy" if secret is None else URLSafeSerializer(secret, salt=COOKIE_SALT).dumps(OWNER)
    with app.test_request_context("/", headers={"Cookie": f"{OWNER_COOKIE}={cookie}"}):
        assert page_session.owner_from_cookie() is None
        assert page_principal().owner_id != OWNER


def test_a_cookie_of_a_page_token_names_no_owner(app):
    token = token_of(app).removeprefix("pxp_")
    with app.test_request_context("/", headers={"Cookie": f"{OWNER_COOKIE}={token}"}):
        assert page_session.owner_from_cookie() is None
