"""Per-owner limits: QUOTA_BYTES (403 quota_exceeded, nothing stored), QUOTA_UPLOADS_PER_DAY (429), GET /api/usage;
reserved before storing and given back on failure; the page's anonymous owners share their client network's."""

import io
import logging
import threading
import time
from datetime import timedelta

import pytest

from app.exceptions import QuotaExceeded, StorageUnavailable
from app.extensions import db
from app.models import Image, QuotaReservation, Variant, VariantFile, utcnow
from app.pipeline import quotas
from app.pipeline.access import DEFAULT_SCOPES, Principal
from app.stack import public_page_uploads_warning
from app.storage import LocalStorage
from tests import imagegen
from tests.conftest import authorize, make_key
from tests.security.conftest import image_count, post_file, stored_keys
from tests.support.browsers import page_token

JPEG = imagegen.solid_jpeg((8, 8))


def owner_client(app, owner: str):
    """A test client sending a fresh key of owner."""
    return authorize(app.test_client(), make_key(app, owner))


def visitor(app, address: str = "203.0.113.7", **environ):
    """A cookie-less visit to the upload page from address: a new anonymous owner, sending its page token."""
    browser = authorize(app.test_client(), None)
    browser.environ_base.update(REMOTE_ADDR=address, **environ)
    return authorize(browser, page_token(browser))


def test_limits_are_off_by_default(app, client):
    assert all(post_file(client, JPEG).status_code == 202 for _ in range(5))
    usage = client.get("/api/usage").get_json()
    assert usage["limits"] == {"quota_bytes": None, "uploads_per_day": None}
    assert usage["images"] == 5 and usage["original_bytes"] == 5 * len(JPEG)


def test_an_upload_past_the_byte_quota_is_403_and_stores_nothing(make_app):
    app = make_app(QUOTA_BYTES=2 * len(JPEG) + 10)
    alice = owner_client(app, "alice")
    assert [post_file(alice, JPEG).status_code for _ in range(2)] == [202, 202]
    files_before = stored_keys(app)
    refused = post_file(alice, JPEG)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "quota_exceeded"
    assert image_count(app) == 2 and stored_keys(app) == files_before


def test_the_byte_quota_is_per_owner_and_freed_by_deleting(make_app):
    app = make_app(QUOTA_BYTES=len(JPEG) + 10)
    alice, bob = owner_client(app, "alice"), owner_client(app, "bob")
    first = post_file(alice, JPEG).get_json()["id"]
    assert post_file(alice, JPEG).status_code == 403
    assert post_file(bob, JPEG).status_code == 202
    assert alice.delete(f"/api/images/{first}").status_code == 204
    assert post_file(alice, JPEG).status_code == 202


def test_variants_count_against_the_byte_quota_in_every_format(make_app):
    app = make_app(QUOTA_BYTES=10_000)
    with app.app_context():
        image = Image(id="a" * 32, content_type="image/jpeg", bytes=100, original_key="originals/a.jpg")
        image.owner_id = image.quota_subject = "alice"
        variant = Variant(name="thumb", key="variants/a/t.avif", width=1, height=1, format="avif", bytes=4_000)
        variant.files = [
            VariantFile(rank=0, format="avif", content_type="image/avif", key="variants/a/t.avif", bytes=4_000),
            VariantFile(rank=1, format="webp", content_type="image/webp", key="variants/a/t.webp", bytes=5_950),
        ]
        image.variants.append(variant)
        db.session.add(image)
        db.session.commit()
        assert quotas.usage("alice").stored_bytes == 10_050
    assert post_file(owner_client(app, "alice"), JPEG).get_json()["error"]["code"] == "quota_exceeded"


def test_uploads_past_the_daily_quota_are_429_with_retry_after(make_app):
    app = make_app(QUOTA_UPLOADS_PER_DAY=2)
    alice, bob = owner_client(app, "alice"), owner_client(app, "bob")
    image_id = post_file(alice, JPEG).get_json()["id"]
    assert post_file(alice, JPEG).status_code == 202
    # Deleting an image gives back its bytes, not the upload.
    assert alice.delete(f"/api/images/{image_id}").status_code == 204
    refused = post_file(alice, JPEG)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 86400
    assert image_count(app) == 1
    assert post_file(bob, JPEG).status_code == 202
    assert alice.get("/api/usage").get_json()["uploads_today"] == 2


def test_the_daily_quota_starts_afresh_the_next_day(app):
    day = 20_000 * 86400
    with app.app_context():
        app.config["QUOTA_UPLOADS_PER_DAY"] = 1
        assert quotas.uploads_today("alice", now=day + 10) == 0
        alice = Principal("alice", DEFAULT_SCOPES, "k")
        quotas.hold_upload(alice, 10, now=day + 10)
        assert quotas.uploads_today("alice", now=day + 86399) == 1
        assert quotas.uploads_today("alice", now=day + 86400) == 0


def test_usage_shows_the_owners_bytes_and_limits_only(make_app):
    app = make_app(QUOTA_BYTES=1_000_000, QUOTA_UPLOADS_PER_DAY=10)
    alice, bob = owner_client(app, "alice"), owner_client(app, "bob")
    post_file(alice, JPEG)
    post_file(bob, JPEG)
    post_file(bob, JPEG)
    usage = alice.get("/api/usage").get_json()
    assert usage == {
        "owner": "alice",
        "images": 1,
        "original_bytes": len(JPEG),
        "variant_bytes": 0,
        "stored_bytes": len(JPEG),
        "uploads_today": 1,
        "limits": {"quota_bytes": 1_000_000, "uploads_per_day": 10},
        "counted_per": "owner",
        "counted_bytes": len(JPEG),
    }


def test_a_key_never_reaches_the_logs(app, caplog):
    caplog.set_level(logging.DEBUG)
    token = make_key(app, "alice")
    secret = token.removeprefix("pxl_").partition("_")[2]
    client = authorize(app.test_client(), token)
    image_id = post_file(client, JPEG).get_json()["id"]
    client.get(f"/api/images/{image_id}")
    client.delete(f"/api/images/{image_id}")
    authorize(app.test_client(), token[:-2] + "xx").get("/api/images")
    authorize(app.test_client(), token).post("/api/images", data={"file": (io.BytesIO(b"not an image"), "x.jpg")})
    runner = app.test_cli_runner()
    runner.invoke(args=["keys", "list"])
    runner.invoke(args=["keys", "revoke", token.removeprefix("pxl_").partition("_")[0]])
    authorize(app.test_client(), token).get("/api/images")
    lines = [record.getMessage() for record in caplog.records] + caplog.text.splitlines()
    assert lines and not [line for line in lines if secret in line or token in line]


def test_cookie_less_visits_from_one_address_share_one_daily_quota(make_app):
    app = make_app(QUOTA_UPLOADS_PER_DAY=4)
    answers = [post_file(visitor(app), JPEG) for _ in range(5) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [202] * 4 + [429] * 6
    assert {answer.get_json()["error"]["code"] for answer in answers[4:]} == {"rate_limited"}
    assert "203.0.113.7" in answers[4].get_json()["error"]["message"]
    assert post_file(visitor(app, "198.51.100.1"), JPEG).status_code == 202
    assert image_count(app) == 5


def test_cookie_less_visits_from_one_address_share_one_byte_quota(make_app):
    app = make_app(QUOTA_BYTES=2 * len(JPEG) + 10)
    assert [post_file(visitor(app), JPEG).status_code for _ in range(3)] == [202, 202, 403]
    usage = visitor(app).get("/api/usage").get_json()
    assert usage["counted_per"] == "address" and usage["counted_bytes"] == 2 * len(JPEG)
    assert usage["images"] == 0  # a new visitor owns nothing, yet its address has used the quota
    assert post_file(visitor(app, "198.51.100.1"), JPEG).status_code == 202


def test_an_ipv6_visitor_is_counted_by_its_64(make_app):
    app = make_app(QUOTA_UPLOADS_PER_DAY=1)
    assert post_file(visitor(app, "2001:db8:1:2::1"), JPEG).status_code == 202
    assert post_file(visitor(app, "2001:db8:1:2:ffff:ffff:ffff:9"), JPEG).status_code == 429
    assert post_file(visitor(app, "2001:db8:1:3::1"), JPEG).status_code == 202


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        (None, "unknown"),
    ],
)
def test_a_client_network_is_its_ipv4_address_or_ipv6_64(address, network):
    assert quotas.client_network(address) == network


@pytest.mark.parametrize(("proxies", "apart"), [(1, True), (0, False)])
def test_forwarded_addresses_count_apart_only_behind_trusted_proxies(make_app, proxies, apart):
    app = make_app(QUOTA_UPLOADS_PER_DAY=1, TRUSTED_PROXIES=proxies)
    first = visitor(app, "10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    second = visitor(app, "10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert post_file(first, JPEG).status_code == 202
    assert post_file(second, JPEG).status_code == (202 if apart else 429)


def test_key_owners_keep_their_own_quota_whatever_their_address(make_app):
    app = make_app(QUOTA_UPLOADS_PER_DAY=1)
    assert post_file(visitor(app), JPEG).status_code == 202
    alice = owner_client(app, "alice")
    alice.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    assert post_file(alice, JPEG).status_code == 202


def test_an_upload_that_fails_gives_back_its_bytes_and_its_upload(make_app, monkeypatch):
    app = make_app(QUOTA_BYTES=len(JPEG) + 10, QUOTA_UPLOADS_PER_DAY=1)
    alice = owner_client(app, "alice")
    real_save = LocalStorage.save

    def failing_save(self, *args, **kwargs):
        monkeypatch.setattr(LocalStorage, "save", real_save)
        raise StorageUnavailable()

    monkeypatch.setattr(LocalStorage, "save", failing_save)
    assert post_file(alice, JPEG).status_code == 503
    assert post_file(alice, b"not an image").status_code == 415
    assert post_file(alice, JPEG).status_code == 202
    with app.app_context():
        assert db.session.query(QuotaReservation).count() == 0


def test_a_reservation_counts_until_it_is_settled_or_expires(make_app):
    app = make_app(QUOTA_BYTES=1000)
    alice = Principal("alice", DEFAULT_SCOPES, "k")
    with app.app_context():
        held = quotas.hold_upload(alice, 600)
        with pytest.raises(QuotaExceeded):
            quotas.hold_upload(alice, 600)
        # A web process that died mid-upload never settles its reservation: it stops counting when it expires.
        db.session.get(QuotaReservation, held.reservation_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert quotas.hold_upload(alice, 600).reservation_id is not None


@pytest.mark.integration
def test_parallel_uploads_never_pass_the_byte_quota_while_others_settle(make_app):
    app = make_app(QUOTA_BYTES=3500)
    alice = Principal("alice", DEFAULT_SCOPES, "k")
    start, outcomes = threading.Barrier(12), []

    def upload(number: int) -> None:
        """An upload as accept_upload makes it: hold, store (a pause), then write the row and settle, together."""
        with app.app_context():
            start.wait()
            try:
                hold = quotas.hold_upload(alice, 1000)
            except QuotaExceeded:
                outcomes.append("refused")
                return
            finally:
                db.session.commit()
            time.sleep(0.05)
            db.session.add(Image(id=f"{number:032d}", content_type="image/jpeg", bytes=1000, original_key=f"o/{number}",
                                 owner_id="alice", quota_subject=hold.subject))  # fmt: skip
            quotas.settle(hold)
            db.session.commit()
            db.session.remove()
            outcomes.append("held")

    threads = [threading.Thread(target=upload, args=(number,)) for number in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["held"] * 3 + ["refused"] * 9
    with app.app_context():
        assert quotas.subject_bytes("alice") == 3000
        assert db.session.query(QuotaReservation).count() == 0


@pytest.mark.parametrize(
    ("host", "settings", "warned"),
    [
        ("0.0.0.0", {}, True),
        ("::", {}, True),
        ("pixline.example.com", {}, True),
        ("0.0.0.0", {"RATE_LIMIT": "60/minute"}, False),
        ("0.0.0.0", {"PAGE_UPLOADS": "off"}, False),
        ("127.0.0.1", {}, False),
        ("::1", {}, False),
        ("localhost", {}, False),
    ],
)
def test_make_run_warns_of_anonymous_uploads_on_a_public_address_without_a_rate_limit(host, settings, warned):
    warning = public_page_uploads_warning(host, settings)
    assert (warning is not None) == warned
    if warning:
        assert "\n" not in warning and "RATE_LIMIT" in warning and host in warning
