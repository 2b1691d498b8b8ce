"""Owners through real workers: a key's upload is processed, and only its owner (or an admin) ever sees it."""

import io

from app.extensions import db
from app.maintenance import audit
from app.models import Image
from app.pipeline.access import ADMIN
from tests import imagegen
from tests.conftest import authorize, make_key
from tests.support.polling import wait_for_status


def test_an_owners_upload_is_processed_and_seen_by_that_owner_only(stack):
    alice_key = make_key(stack.app, "alice")
    alice = authorize(stack.app.test_client(), alice_key)
    bob = authorize(stack.app.test_client(), make_key(stack.app, "bob"))
    admin = authorize(stack.app.test_client(), make_key(stack.app, "ops", frozenset({ADMIN})))
    form = {"file": (io.BytesIO(imagegen.solid_jpeg((640, 480))), "mine.jpg")}
    image_id = alice.post("/api/images", data=form, content_type="multipart/form-data").get_json()["id"]

    done = wait_for_status(alice, image_id, "done")
    assert done["variants"]
    assert bob.get(f"/api/images/{image_id}").status_code == 404
    assert bob.get(f"/api/images/{image_id}?wait=1&status=queued").status_code == 404
    assert image_id not in {item["id"] for item in bob.get("/api/images").get_json()["items"]}
    assert bob.delete(f"/api/images/{image_id}").status_code == 404
    assert admin.get(f"/api/images/{image_id}").get_json()["status"] == "done"
    with stack.app.app_context():
        image = db.session.get(Image, image_id)
        assert image.owner_id == "alice"
        assert image.events[0].key_id == alice_key.removeprefix("pxl_").partition("_")[0]
        assert audit.audit() == []
    assert alice.delete(f"/api/images/{image_id}").status_code == 204
    assert admin.get(f"/api/images/{image_id}").status_code == 404
