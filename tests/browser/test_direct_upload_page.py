"""The upload page with DIRECT_UPLOADS=1 in headless Chromium: the file goes to the bucket, not through the app."""

import re

import pytest
from playwright.sync_api import expect

from tests.s3 import conftest as s3_fixtures
from tests.s3.conftest import s3_settings
from tests.support.images import encoded

pytestmark = pytest.mark.browser

# The S3 server fixtures live beside the S3 tests; these names make them visible here (the browser's are in scope).
s3_endpoint, bucket = s3_fixtures.s3_endpoint, s3_fixtures.bucket


def test_page_uploads_straight_to_the_bucket_with_progress_then_shows_the_thumbnail(
    make_site,
    open_page,
    s3_endpoint,
    bucket,
):
    site = make_site(**s3_settings(s3_endpoint, bucket), DIRECT_UPLOADS="1")
    page = open_page(site)
    expect(page.locator("#upload-form")).to_have_attribute("data-direct-uploads", "1")
    photo = {"name": "direct.png", "mimeType": "image/png", "buffer": encoded(800, 600, "PNG")}
    with page.expect_request(re.compile(rf"^{s3_endpoint.url}/{bucket}")) as to_bucket:
        page.set_input_files("#file-input", photo)
    assert to_bucket.value.method == "POST"
    upload = page.locator(".upload-row", has=page.locator(".upload-name", has_text="direct.png"))
    expect(upload.locator("progress")).to_have_js_property("value", 100, timeout=60_000)
    expect(upload).to_have_attribute("data-state", "done", timeout=90_000)
    thumbnail = upload.locator("img.thumb")
    expect(thumbnail).to_have_attribute("src", re.compile(rf"^{s3_endpoint.url}/{bucket}/variants/"))
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
