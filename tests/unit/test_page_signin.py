"""The local operator's one-time sign-in link: the browser then acts as the key's owner; a link works once, briefly."""

import re
from pathlib import Path

import pytest
from itsdangerous import timed

from app.web import page_signin
from app.web.page_session import OWNER_COOKIE, principal_from_page_token
from tests.conftest import authorize, make_key
from tests.support.browsers import TOKEN_META, page_token
from tests.support.images import encoded
from tests.unit.test_api import post_file
from tests.unit.test_pages import csrf_token

SECRET = "test-secret"  # tests.conftest.base_config's SECRET_KEY


@pytest.fixture
def operator_image(app) -> str:
    """An image uploaded with a key of the owner `local`, as `make run`'s key uploads it with curl."""
    return post_file(authorize(app.test_client(), make_key(app, "local")), encoded(), "from-curl.jpg").get_json()["id"]


@pytest.fixture
def browser(app):
    """A browser that has visited the page once (it has its anonymous owner and a session for CSRF)."""
    client = app.test_client()
    client.get("/")
    return client


def sign_in(browser, token: str):
    """Post the sign-in page's form with token, as signin.js does."""
    return browser.post("/signin", data={"token": token, "csrf_token": csrf_token(browser, "/signin")})


def gallery_names(browser) -> list[str]:
    """The file names in the browser's gallery."""
    return re.findall(r'class="tile-name">([^<]+)<', browser.get("/").get_data(as_text=True))


def test_a_signin_link_makes_the_browser_show_the_keys_images(app, browser, operator_image):
    assert gallery_names(browser) == []
    response = sign_in(browser, page_signin.signin_token(SECRET, "local"))
    assert response.status_code == 303 and response.headers["Location"] == "/#gallery"
    assert gallery_names(browser) == ["from-curl.jpg"]
    page = browser.get("/").get_data(as_text=True)
    assert "Signed in as <strong>local</strong>" in page
    # The page's scripts act for the same owner: the API lists and opens the key's image with the page token.
    with app.app_context():
        principal = principal_from_page_token(TOKEN_META.search(page).group(1))
    assert principal.owner_id == "local" and not principal.is_admin
    assert browser.get(f"/images/{operator_image}").status_code == 200


def test_a_link_works_once(browser, operator_image):
    token = page_signin.signin_token(SECRET, "local")
    assert sign_in(browser, token).status_code == 303
    again = sign_in(browser, token)
    assert again.status_code == 403
    assert "has been used already: each link works once" in again.get_data(as_text=True)


def test_another_browser_cannot_reuse_a_used_link(app, browser, operator_image):
    token = page_signin.signin_token(SECRET, "local")
    sign_in(browser, token)
    other = app.test_client()
    other.get("/")
    assert sign_in(other, token).status_code == 403
    assert gallery_names(other) == []


def test_an_expired_link_is_refused_with_a_readable_page(browser, operator_image, monkeypatch):
    issued = timed.time.time() - page_signin.LINK_MAX_AGE - 1
    monkeypatch.setattr(timed.time, "time", lambda: issued)
    token = page_signin.signin_token(SECRET, "local")
    monkeypatch.undo()
    response = sign_in(browser, token)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert (
        "This sign-in link has expired" in page
        and "Stop make run and start it again: its banner prints a new link." in page
    )
    assert gallery_names(browser) == []


@pytest.mark.parametrize("token", ["", "pxs_nonsense", "pxp_abc", "whatever"])
def test_a_link_this_server_did_not_make_is_refused(browser, operator_image, token):
    forged = page_signin.signin_token("another-secret", "local")
    for candidate in (token, forged):
        response = sign_in(browser, candidate)
        assert response.status_code == 403
        assert "not a sign-in link this server made" in response.get_data(as_text=True)
    assert gallery_names(browser) == []


def test_pasting_the_whole_link_works_as_well(browser, operator_image):
    link = page_signin.signin_url("http://127.0.0.1:5000", SECRET, "local")
    assert sign_in(browser, link).status_code == 303
    assert gallery_names(browser) == ["from-curl.jpg"]


def test_signing_in_needs_the_forms_csrf_token(browser, operator_image):
    response = browser.post("/signin", data={"token": page_signin.signin_token(SECRET, "local")})
    assert response.status_code == 400
    assert gallery_names(browser) == []


def test_signing_out_brings_back_the_browsers_own_images(browser, operator_image):
    own = post_file(authorize(browser, page_token(browser)), encoded(), "own.jpg")
    assert own.status_code == 202
    authorize(browser, None)
    anonymous = browser.get_cookie(OWNER_COOKIE).value
    sign_in(browser, page_signin.signin_token(SECRET, "local"))
    assert gallery_names(browser) == ["from-curl.jpg"]
    assert browser.get_cookie(OWNER_COOKIE).value == anonymous, "the anonymous owner is kept for later"
    response = browser.post("/signout", data={"csrf_token": csrf_token(browser)})
    assert response.status_code == 303
    assert gallery_names(browser) == ["own.jpg"]


def test_the_session_cookie_is_signed_http_only_and_same_site_lax(browser):
    response = sign_in(browser, page_signin.signin_token(SECRET, "local"))
    header = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith(page_signin.SESSION_COOKIE))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Max-Age=2592000" in header
    assert "=local" not in header  # signed, not the bare owner
    browser.set_cookie(page_signin.SESSION_COOKIE, "local")
    assert "Signed in as" not in browser.get("/").get_data(as_text=True)


def test_the_banner_shows_a_link_on_a_terminal_and_none_in_a_json_line(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert page_signin.banner_lines("http://127.0.0.1:5000", tmp_path, is_json=False) == []  # no secret yet
    (tmp_path / "secret_key").write_text("instance-secret\n")
    [line] = page_signin.banner_lines("http://127.0.0.1:5000", tmp_path, is_json=False)
    link, note = line.removeprefix("  your images  ").split("  ")
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/signin#pxs_\S+", link)
    assert note == "(a sign-in link for your browser: it opens once, within 30 min)"
    assert page_signin.banner_lines("http://127.0.0.1:5000", tmp_path, is_json=True) == []
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    token = page_signin.banner_lines("http://h:1", Path("/nowhere"), is_json=False)[0].split("#")[1].split()[0]
    assert token.startswith(page_signin.LINK_PREFIX)
