"""Fixtures for the security suite: apps with overrides, uploads, and "nothing was stored" checks."""

import io
import socket
import threading

import pytest
from rq import Queue
from rq.serializers import JSONSerializer
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.models import Image
from app.storage import LocalStorage
from tests.conftest import base_config, dispose_app, reset_database


@pytest.fixture
def make_app(tmp_path, fake_redis, monkeypatch):
    """Build a unit-test app (fakeredis, fresh SQLite) with config overrides."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    apps = []

    def build(**overrides):
        app = create_app({**base_config(tmp_path), "REDIS_CLIENT": fake_redis, **overrides})
        reset_database(app)
        apps.append(app)
        return app

    yield build
    for app in apps:
        dispose_app(app)


def post_file(client, data: bytes, filename: str = "photo.jpg", **kwargs):
    """Upload bytes to the API in the one multipart field 'file'."""
    form = {"file": (io.BytesIO(data), filename)}
    return client.post("/api/images", data=form, content_type="multipart/form-data", **kwargs)


def stored_keys(app) -> list[str]:
    """Every file in the app's storage root."""
    return sorted(LocalStorage(app.config["STORAGE_ROOT"]).keys())


def image_count(app) -> int:
    """Rows in the images table."""
    with app.app_context():
        return db.session.query(Image).count()


def queued_job_ids(fake_redis) -> list[str]:
    """Jobs waiting in the images queue."""
    return Queue("images", connection=fake_redis, serializer=JSONSerializer).job_ids


def assert_nothing_stored(app, fake_redis) -> None:
    """A refusal leaves no row, no file and no job."""
    assert image_count(app) == 0
    assert stored_keys(app) == []
    assert queued_job_ids(fake_redis) == []


def csrf_token(client) -> str:
    """The CSRF token the upload page hands this client's session."""
    html = client.get("/").get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def server(app):
    """The unit app on a real HTTP server in a thread; yields (host, port)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address
    httpd.shutdown()
    thread.join(10)


def read_response(connection: socket.socket) -> tuple[int, dict, bytes]:
    """Read one HTTP response until the server closes or the body is complete."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body
