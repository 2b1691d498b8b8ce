"""MEDIA_ACCESS=signed: every media URL the app hands out is signed and expiring; nothing is served without one."""

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from app.pipeline.jobs import process_image
from app.storage import LocalStorage
from app.storage.signing import MediaSigner, parse_signing_keys
from config import ConfigError
from tests import imagegen
from tests.security.conftest import post_file
from tests.support.browsers import as_browser

KEYS = "k2:the-new-secret-0123456789,k1:the-old-secret-0123456789"


@pytest.fixture
def signed_app(make_app):
    """An app with MEDIA_ACCESS=signed and two listed keys (k2 current)."""
    return make_app(MEDIA_ACCESS="signed", MEDIA_SIGNING_KEYS=KEYS)


@pytest.fixture
def browser(signed_app):
    """A browser of the signed app (its page token on the API, so its image pages show its uploads)."""
    return as_browser(signed_app.test_client())


@pytest.fixture
def done_image(signed_app, browser) -> dict:
    """An uploaded image, processed in-process; its API answer."""
    client = browser
    image_id = post_file(client, imagegen.solid_jpeg((640, 480))).get_json()["id"]
    with signed_app.app_context():
        process_image(image_id)
    body = client.get(f"/api/images/{image_id}").get_json()
    assert body["status"] == "done"
    return body


def variant_urls(body: dict) -> list[str]:
    """Every variant URL of an API answer."""
    return [variant["url"] for variant in body["variants"].values()]


def with_query(url: str, **fields: str) -> str:
    """url with some of its query fields replaced."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()} | fields
    return parts.path + "?" + "&".join(f"{name}={value}" for name, value in query.items())


def signer_for(raw_keys: str, ttl: int = 3600) -> MediaSigner:
    """A signer with the keys of a MEDIA_SIGNING_KEYS value."""
    return MediaSigner(parse_signing_keys(raw_keys), ttl)


def test_every_variant_url_in_the_api_answer_is_signed_and_served(signed_app, done_image):
    client = signed_app.test_client()
    assert variant_urls(done_image)
    for url in variant_urls(done_image):
        query = parse_qs(urlsplit(url).query)
        assert int(query["exp"][0]) > time.time()
        assert query["sig"][0].startswith("k2.")
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype.startswith("image/")


def test_nothing_is_served_without_a_signature(signed_app, done_image):
    client = signed_app.test_client()
    for url in variant_urls(done_image):
        response = client.get(urlsplit(url).path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_a_signed_variant_is_cached_privately_until_its_url_expires(signed_app, done_image):
    url = variant_urls(done_image)[0]
    expires = int(parse_qs(urlsplit(url).query)["exp"][0])
    directives = {part.strip() for part in signed_app.test_client().get(url).headers["Cache-Control"].split(",")}
    max_age = int(next(part for part in directives if part.startswith("max-age=")).partition("=")[2])
    assert directives == {"private", f"max-age={max_age}"}
    assert expires - time.time() - 5 <= max_age <= expires - time.time() + 1


def test_the_image_page_shows_only_signed_media_urls(browser, done_image):
    html = browser.get(f"/images/{done_image['id']}").get_data(as_text=True)
    media = re.findall(r'(?:src|href)="(/media/[^"]*)"', html)
    assert media
    assert all("exp=" in url and "sig=" in url for url in media)


def test_a_tampered_path_is_404(signed_app, done_image):
    variants = done_image["variants"]
    thumb, small = variants["thumb"]["url"], variants["small"]["url"]
    forged = urlsplit(small).path + "?" + urlsplit(thumb).query
    assert signed_app.test_client().get(forged).status_code == 404


def test_a_tampered_expiry_is_404(signed_app, done_image):
    url = variant_urls(done_image)[0]
    later = int(parse_qs(urlsplit(url).query)["exp"][0]) + 86400
    assert signed_app.test_client().get(with_query(url, exp=str(later))).status_code == 404


def test_an_expired_url_is_404(signed_app, done_image):
    path = urlsplit(variant_urls(done_image)[0]).path
    expired = signer_for(KEYS).sign(path, now=time.time() - 2 * 3600)
    assert signed_app.test_client().get(expired).status_code == 404


def test_an_unknown_key_id_is_404(signed_app, done_image):
    path = urlsplit(variant_urls(done_image)[0]).path
    foreign = signer_for("k9:the-new-secret-0123456789").sign(path)
    assert signed_app.test_client().get(foreign).status_code == 404


def test_an_old_key_is_accepted_while_listed_and_refused_once_removed(make_app, signed_app, done_image):
    path = urlsplit(variant_urls(done_image)[0]).path
    old_url = signer_for("k1:the-old-secret-0123456789").sign(path)
    assert signed_app.test_client().get(old_url).status_code == 200
    rotated = make_app(
        MEDIA_ACCESS="signed", MEDIA_SIGNING_KEYS="k3:the-newest-secret-012345,k2:the-new-secret-0123456789"
    )
    assert rotated.test_client().get(old_url).status_code == 404
    assert rotated.test_client().get(signer_for(KEYS).sign(path)).status_code == 200


def test_a_signed_original_is_still_404_while_originals_are_private(signed_app, done_image):
    storage = LocalStorage(signed_app.config["STORAGE_ROOT"])
    [original] = list(storage.keys("originals/"))
    url = signer_for(KEYS).sign("/media/" + original)
    assert done_image["original_url"] is None
    assert signed_app.test_client().get(url).status_code == 404


def test_a_served_original_needs_a_signature_even_with_public_media(make_app):
    app = make_app(SERVE_ORIGINALS=True)
    client = as_browser(app.test_client())
    body = post_file(client, imagegen.solid_jpeg((32, 32))).get_json()
    assert "sig=" in body["original_url"]
    assert client.get(body["original_url"]).status_code == 200
    assert client.get(urlsplit(body["original_url"]).path).status_code == 404


def test_public_media_keeps_plain_variant_urls(app, client):
    image_id = post_file(client, imagegen.solid_jpeg((320, 240))).get_json()["id"]
    with app.app_context():
        process_image(image_id)
    urls = variant_urls(client.get(f"/api/images/{image_id}").get_json())
    assert urls and all("?" not in url for url in urls)
    assert all(client.get(url).status_code == 200 for url in urls)


def test_without_signing_keys_a_stable_key_is_kept_in_the_instance_folder(make_app, tmp_path):
    first = make_app(MEDIA_ACCESS="signed")
    url = first.extensions["pixline.storage"].url("variants/abc/thumb.webp")
    again = make_app(MEDIA_ACCESS="signed")
    assert again.extensions["pixline.storage"].url("variants/abc/thumb.webp") == url
    assert (tmp_path / "instance" / "media_signing_key").read_text().strip() not in first.config["SECRET_KEY"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"MEDIA_SIGNING_KEYS": "k1:short"},
        {"MEDIA_SIGNING_KEYS": "no-secret-here"},
        {"MEDIA_ACCESS": "signed", "MEDIA_BASE_URL": "https://cdn.example/"},
        {"MEDIA_URL_TTL": 1},
    ],
)
def test_unusable_media_settings_stop_the_app_at_startup(make_app, overrides):
    with pytest.raises(ConfigError):
        make_app(**overrides)
