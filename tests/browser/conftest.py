"""Browser fixtures: headless Chromium through Playwright, against gunicorn serving a real Stack.

Without /usr/bin/chromium the browser tests are skipped, unless PIXLINE_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

import os
import subprocess
from pathlib import Path

import pytest
import requests

from app.models import Image
from app.stack import free_port, stop_all, web_command
from app.storage import LocalStorage
from tests.conftest import ROOT, Stack
from tests.support.polling import wait_until

CHROMIUM = Path(os.environ.get("PIXLINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"


def browser_unavailable(reason: str) -> None:
    """Skip the browser tests, or fail them when PIXLINE_REQUIRE_BROWSER=1 says they must run."""
    if os.environ.get("PIXLINE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and PIXLINE_REQUIRE_BROWSER=1 requires the browser tests", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason} (apt-get install chromium to run them)")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium binary Playwright drives."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        browser_unavailable(f"no Chromium at {CHROMIUM}")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Site:
    """A Stack served over real HTTP by gunicorn, configured exactly like its workers."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.url = f"http://127.0.0.1:{free_port()}"
        log = open(stack.tmp_path / "web.log", "ab")  # noqa: SIM115 - closed with the process
        host, port = self.url.removeprefix("http://").split(":")
        # The production server as make run starts it (gevent), in one process; a short grace period to stop.
        command = [*web_command(host, int(port), {**stack.env, "WEB_PROCESSES": "1"}), "--graceful-timeout", "5"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until(self.is_up, 30, interval=0.2, what="gunicorn to answer /healthz")

    def is_up(self) -> bool:
        """Whether the web server answers (fails at once if it died)."""
        assert self.process.poll() is None, f"gunicorn exited:\n{self.log()}"
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        """What gunicorn printed."""
        return (self.stack.tmp_path / "web.log").read_text(errors="replace")

    def image_count(self) -> int:
        """Rows in the images table."""
        from app.extensions import db

        with self.stack.app.app_context():
            return db.session.query(Image).count()

    def stored_keys(self) -> list[str]:
        """Every file in storage."""
        return sorted(LocalStorage(self.stack.env["STORAGE_ROOT"]).keys())

    def stop(self) -> None:
        """Stop gunicorn."""
        stop_all([self.process])


@pytest.fixture
def make_site(make_stack, chromium_path):
    """Build a served Stack (one real worker) with optional environment overrides."""
    sites = []

    def build(**overrides: str) -> Site:
        stack = make_stack(**overrides)
        stack.start_worker()
        sites.append(Site(stack))
        return sites[-1]

    yield build
    for site in sites:
        site.stop()


@pytest.fixture
def site(make_site) -> Site:
    """The default served Stack."""
    return make_site()


@pytest.fixture
def open_page(browser):
    """Open a page on a site (JavaScript on or off); fails the test if the page broke its own CSP."""
    contexts, violations = [], []

    def open_(site, path: str = "/", javascript: bool = True, width: int = 1280, height: int = 900, scale: float = 1):
        context = browser.new_context(
            base_url=site.url,
            java_script_enabled=javascript,
            viewport={"width": width, "height": height},
            device_scale_factor=scale,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message))
        # Playwright turns file-chooser interception on asynchronously when a first listener appears; one added
        # up front makes sure a chooser opened by a quick key press is intercepted rather than lost.
        page.on("filechooser", lambda chooser: None)
        page.goto(path)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not [message.text for message in violations], "the page violated its Content-Security-Policy"


def page_token(page) -> str:
    """The page token a page hands its scripts (the browser's anonymous owner's)."""
    return page.locator('meta[name="pixline-page-token"]').get_attribute("content")


def upload_as(site: Site, page, data: bytes, filename: str) -> dict:
    """Upload through the API as the browser of page (with its page token), as its scripts would; the answer."""
    response = requests.post(
        f"{site.url}/api/images",
        files={"file": (filename, data)},
        headers={"Authorization": f"Bearer {page_token(page)}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots are saved (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
