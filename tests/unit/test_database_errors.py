"""The database locked or down while a request reads or writes: a 503 `unavailable` to retry, never a 500."""

import contextlib
import time

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from app.database import POOL_RETRY_AFTER
from app.extensions import db
from app.models import Image
from tests.support.images import encoded
from tests.unit.test_api import post_file


@contextlib.contextmanager
def database_locked(app):
    """Every statement fails as SQLite does when another process holds the lock for too long."""

    def refuse(conn, cursor, statement, parameters, context, executemany):
        raise OperationalError(statement, parameters, Exception("database is locked"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


@pytest.fixture
def failed_image_id(app, client):
    """An uploaded image whose processing failed (so it can be retried)."""
    image_id = post_file(client, encoded()).get_json()["id"]
    with app.app_context():
        image = db.session.get(Image, image_id)
        image.status, image.error_code = "failed", "invalid_image"
        db.session.commit()
    return image_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/images/{id}"),
        ("GET", "/api/images"),
        ("DELETE", "/api/images/{id}"),
        ("POST", "/api/images/{id}/retry"),
    ],
)
def test_api_answers_503_unavailable_while_the_database_is_locked(app, client, failed_image_id, method, path):
    with database_locked(app):
        response = client.open(path.format(id=failed_image_id), method=method)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "unavailable"
    assert "locked" not in error["message"] and "SELECT" not in error["message"]


def test_detail_page_answers_503_while_the_database_is_locked(app, client, failed_image_id):
    with database_locked(app):
        response = client.get(f"/images/{failed_image_id}", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert b"try again" in response.data


def test_requests_succeed_again_once_the_database_is_back(app, client, failed_image_id):
    with database_locked(app):
        assert client.delete(f"/api/images/{failed_image_id}").status_code == 503
    assert client.get(f"/api/images/{failed_image_id}").get_json()["status"] == "failed"
    assert client.delete(f"/api/images/{failed_image_id}").status_code == 204
    assert client.get(f"/api/images/{failed_image_id}").status_code == 404


def test_a_request_that_finds_no_free_connection_gets_a_fast_503_with_retry_after(app, client):
    config = app.config
    with app.app_context():
        held = [db.engine.connect() for _ in range(config["DATABASE_POOL_SIZE"] + config["DATABASE_POOL_OVERFLOW"])]
    try:
        started = time.monotonic()
        answer = client.get("/api/images")
        waited = time.monotonic() - started
    finally:
        for connection in held:
            connection.close()
    assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "unavailable"
    assert answer.headers["Retry-After"] == str(POOL_RETRY_AFTER)
    assert config["DATABASE_POOL_TIMEOUT"] <= waited < config["DATABASE_POOL_TIMEOUT"] + 5
