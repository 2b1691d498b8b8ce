"""CSRF: every state-changing HTML form needs the session's token; without it nothing changes."""

import io

import pytest

from app.extensions import db
from app.models import Image
from tests import imagegen
from tests.security.conftest import assert_nothing_stored, csrf_token, image_count, post_file, stored_keys
from tests.support.browsers import as_browser


def failed_image(app, client) -> str:
    """An image uploaded through the API and marked failed, so it can be retried or deleted."""
    image_id = post_file(client, imagegen.solid_jpeg((8, 8))).get_json()["id"]
    with app.app_context():
        image = db.session.get(Image, image_id)
        image.status, image.error_code, image.error_message = "failed", "unavailable", "storage was down"
        db.session.commit()
    return image_id


def status_of(app, image_id: str) -> str | None:
    """The image's status, or None once it is gone."""
    with app.app_context():
        image = db.session.get(Image, image_id)
        return image.status if image else None


BAD_TOKENS = {"missing": None, "wrong": "not-the-token", "empty": ""}


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_upload_form_without_a_valid_token_is_400_and_stores_nothing(app, client, fake_redis, token):
    form = {"file": (io.BytesIO(imagegen.solid_jpeg((8, 8))), "a.jpg")}
    if token is not None:
        form["csrf_token"] = token
    client.get("/")
    response = client.post("/upload", data=form, content_type="multipart/form-data")
    assert response.status_code == 400
    assert_nothing_stored(app, fake_redis)


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_delete_form_without_a_valid_token_deletes_nothing(app, client, token):
    image_id = failed_image(app, client)
    data = {} if token is None else {"csrf_token": token}
    assert client.post(f"/images/{image_id}/delete", data=data).status_code == 400
    assert status_of(app, image_id) == "failed" and stored_keys(app) == [f"originals/{image_id}.jpg"]


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_retry_form_without_a_valid_token_requeues_nothing(app, client, token):
    image_id = failed_image(app, client)
    data = {} if token is None else {"csrf_token": token}
    assert client.post(f"/images/{image_id}/retry", data=data).status_code == 400
    assert status_of(app, image_id) == "failed"


def test_token_of_another_session_is_refused(app, client):
    image_id = failed_image(app, client)
    other_token = csrf_token(app.test_client())
    client.get("/")
    assert client.post(f"/images/{image_id}/delete", data={"csrf_token": other_token}).status_code == 400
    assert status_of(app, image_id) == "failed"


def test_forms_with_the_token_work(app, client):
    # The page acts within the browser's owner: the image is uploaded by the same browser's page token.
    image_id = failed_image(app, as_browser(client))
    token = csrf_token(client)
    assert client.post(f"/images/{image_id}/retry", data={"csrf_token": token}).status_code == 303
    assert status_of(app, image_id) == "queued"
    assert client.post(f"/images/{image_id}/delete", data={"csrf_token": token}).status_code == 303
    assert status_of(app, image_id) is None and image_count(app) == 0


def test_only_the_json_api_and_the_dashboard_are_exempt(app):
    from app.extensions import csrf

    assert csrf._exempt_views == set()
    assert {blueprint.name for blueprint in csrf._exempt_blueprints} == {
        "api",
        "events",  # POST /api/events/token: a bearer credential, no cookie, like the rest of the API
        "direct_uploads",
        "webhooks",
        "rq_dashboard",
    }
