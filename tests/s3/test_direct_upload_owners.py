"""Direct uploads within owners: another owner cannot complete one, a bucket event completes it for its owner."""

from app.extensions import db
from app.models import Image
from app.pipeline.direct import complete_by_key
from tests.conftest import authorize, make_key
from tests.s3.direct import JPEG, send, start


def test_another_owner_cannot_complete_an_upload_and_its_owner_can(s3_app):
    alice = authorize(s3_app.test_client(), make_key(s3_app, "alice"))
    bob = authorize(s3_app.test_client(), make_key(s3_app, "bob"))
    body = start(alice).get_json()
    assert send(body["upload"], JPEG).status_code == 204
    refused = bob.post(f"/api/images/{body['id']}/complete")
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "not_found"
    assert bob.get(f"/api/images/{body['id']}").status_code == 404
    assert alice.post(f"/api/images/{body['id']}/complete").get_json()["status"] == "queued"


def test_a_bucket_event_completes_the_upload_of_whichever_owner_started_it(s3_app):
    alice = authorize(s3_app.test_client(), make_key(s3_app, "alice"))
    body = start(alice).get_json()
    assert send(body["upload"], JPEG).status_code == 204
    with s3_app.app_context():
        image = db.session.get(Image, body["id"])
        complete_by_key("uploads/" + image.original_key.removeprefix("originals/"))
        assert db.session.get(Image, body["id"]).owner_id == "alice"
    assert alice.get(f"/api/images/{body['id']}").get_json()["status"] == "queued"


def test_a_direct_upload_past_the_byte_quota_is_refused_before_any_url_is_issued(make_s3_app):
    app = make_s3_app(QUOTA_BYTES=len(JPEG) + 10)
    alice = authorize(app.test_client(), make_key(app, "alice"))
    assert start(alice).status_code == 201
    refused = start(alice)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "quota_exceeded"
    with app.app_context():
        assert db.session.query(Image).count() == 1
