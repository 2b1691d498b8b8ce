"""The local operator of `make run`: an image uploaded with the key shows on the page opened from the banner's link.

The whole stack runs as its user runs it (tests/support/stack.py: plain environment, API_AUTH=required, the key the
banner printed); Chromium opens the one-time link exactly as printed.
"""

import re

import pytest
from itsdangerous import timed
from playwright.sync_api import expect

from app.web import page_signin
from tests.support.images import corpus_photo
from tests.support.stack import RunningStack

pytestmark = pytest.mark.browser

LINK = re.compile(r"http://\S+/signin#pxs_\S+")


@pytest.fixture
def operator_stack(tmp_path, chromium_path):
    """`make run` (one worker) with one photo uploaded with its key over HTTP, processed."""
    stack = RunningStack(tmp_path / "make-run.log", INSTANCE_PATH=str(tmp_path / "instance"), WORKERS="1")
    try:
        stack.start()
        answer = stack.upload(corpus_photo("storm_1920x1280.jpg"))
        assert answer.status_code == 202, answer.text
        stack.wait_for(answer.json()["id"], "done")
        yield stack
    finally:
        stack.stop()


def test_the_banner_link_shows_the_keys_images_once(operator_stack, open_page, artifacts):
    [link] = LINK.findall(operator_stack.log())
    page = open_page(operator_stack, "/")
    expect(page.locator("#gallery-list .tile")).to_have_count(0)  # an anonymous browser sees none of the key's

    page.goto(link)
    expect(page).to_have_url(f"{operator_stack.url}/#gallery")
    expect(page.locator("#gallery-list .tile-name")).to_have_text(["storm_1920x1280.jpg"])
    expect(page.locator(".signed-in")).to_have_text("Signed in as local")
    page.screenshot(path=str(artifacts / "signed-in-gallery.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), "the signed-in page scrolls sideways"
    page.screenshot(path=str(artifacts / "signed-in-gallery-360px.png"), full_page=True)
    # The code rode in the fragment: no request line, so no access log line, ever held it.
    assert operator_stack.log().count(link.split("#")[1]) == 1, "the token appears beyond the banner line"

    again = open_page(operator_stack, "/")
    again.goto(link)
    expect(again.locator(".alert")).to_have_text(re.compile(r"^This sign-in link has been used already"))
    expect(again.locator("#gallery-list .tile")).to_have_count(0)
    again.get_by_role("link", name="Back to uploads").click()
    expect(again.locator("#gallery-list .tile")).to_have_count(0)


def test_an_expired_link_is_refused_with_a_readable_page(operator_stack, open_page, monkeypatch, artifacts):
    secret = (operator_stack.instance / page_signin.SECRET_FILE).read_text().strip()
    issued = timed.time.time() - page_signin.LINK_MAX_AGE - 5
    monkeypatch.setattr(timed.time, "time", lambda: issued)
    link = page_signin.signin_url(operator_stack.url, secret, "local")
    monkeypatch.undo()

    page = open_page(operator_stack, "/signin")
    page.screenshot(path=str(artifacts / "signin-page.png"))
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Sorry — that did not work")
    page.screenshot(path=str(artifacts / "signin-expired.png"))
    expect(page.locator(".alert")).to_have_text(
        "This sign-in link has expired: links work for 30 minutes. "
        "Stop make run and start it again: its banner prints a new link."
    )
    expect(page.locator("#gallery-list .tile")).to_have_count(0)
