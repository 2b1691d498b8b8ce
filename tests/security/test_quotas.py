"""Per-owner limits: QUOTA_BYTES (403 quota_exceeded, nothing stored), QUOTA_UPLOADS_PER_DAY (429), GET /api/usage."""

import io
import logging

from app.pipeline import quotas
from tests import imagegen
from tests.conftest import authorize, make_key
from tests.security.conftest import image_count, post_file, stored_keys

JPEG = imagegen.solid_jpeg((8, 8))


def owner_client(app, owner: str):
    """A test client sending a fresh key of owner."""
    return authorize(app.test_client(), make_key(app, owner))


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


def test_variants_count_against_the_byte_quota(make_app):
    app = make_app(QUOTA_BYTES=10_000)
    with app.app_context():
        from app.extensions import db
        from app.models import Image, Variant

        image = Image(id="a" * 32, content_type="image/jpeg", bytes=100, original_key="originals/a.jpg")
        image.owner_id = "alice"
        image.variants.append(Variant(name="thumb", key="variants/a/t.webp", width=1, height=1, format="webp",
                                      bytes=9_950))  # fmt: skip
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
        from app.pipeline.access import DEFAULT_SCOPES, Principal

        alice = Principal("alice", DEFAULT_SCOPES, "k")
        quotas.count_upload(alice, now=day + 10)
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
