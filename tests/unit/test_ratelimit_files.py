"""RATE_LIMIT counts files, not requests: the no-JavaScript form stores at most the client's budget of files."""

import io

import pytest

from app import create_app
from app.extensions import db
from app.models import Image
from tests import imagegen
from tests.conftest import base_config, dispose_app, reset_database
from tests.unit.test_api import stored_files
from tests.unit.test_pages import csrf_token

JPEG = imagegen.solid_jpeg((8, 8))


@pytest.fixture
def limited_client(tmp_path, fake_redis, monkeypatch):
    """A test client of an app allowing 3 uploads a minute per client."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({**base_config(tmp_path), "REDIS_CLIENT": fake_redis, "RATE_LIMIT": "3/minute"})
    reset_database(app)
    yield app.test_client()
    dispose_app(app)


def post_files(client, count: int):
    """Submit the upload form with count chosen files."""
    form = {"csrf_token": csrf_token(client), "file": [(io.BytesIO(JPEG), f"photo-{n}.jpg") for n in range(count)]}
    return client.post("/upload", data=form, content_type="multipart/form-data")


def image_count(client) -> int:
    """Rows in the database."""
    with client.application.app_context():
        return db.session.query(Image).count()


def test_a_form_with_more_files_than_the_budget_stores_only_the_budget(limited_client):
    response = post_files(limited_client, 5)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert image_count(limited_client) == 3
    assert len(stored_files(limited_client.application)) == 3
    assert "photo-3.jpg: More than 3 uploads in 60 s" in page and "photo-4.jpg: More than 3 uploads" in page
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_once_the_budget_is_spent_a_form_is_429_and_stores_nothing(limited_client):
    assert post_files(limited_client, 3).status_code == 303
    refused = post_files(limited_client, 4)
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert image_count(limited_client) == 3
    assert len(stored_files(limited_client.application)) == 3


def test_the_api_and_the_form_share_one_budget(limited_client):
    assert post_files(limited_client, 2).status_code == 303
    api = limited_client.post(
        "/api/images", data={"file": (io.BytesIO(JPEG), "api.jpg")}, content_type="multipart/form-data"
    )
    assert api.status_code == 202
    assert post_files(limited_client, 1).status_code == 429
    assert image_count(limited_client) == 3
