"""Fixtures for object storage: a real S3 HTTP endpoint (moto's server mode) and apps configured for it."""

import socket
import uuid

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from app import create_app
from app.storage.s3 import S3Storage
from config import settings_from_env
from tests.conftest import base_config, dispose_app, reset_database

ACCESS_KEY = "pixline-test"
SECRET_KEY = "pixline-test-secret"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Endpoint:
    """moto's S3 server on a fixed port that can be stopped and started again (its buckets live in-process)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> "S3Endpoint":
        """Listen (again) on the port."""
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop answering and close the socket, so connections are refused as with a dead server."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            # ThreadedMotoServer.stop leaves the listening socket open, which would make clients hang, not fail.
            server._server.server_close()

    def client(self):
        """A plain boto3 client for looking into the bucket from the test."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )


@pytest.fixture(scope="session")
def s3_endpoint():
    """One S3 server for the whole session."""
    endpoint = S3Endpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def bucket() -> str:
    """A fresh bucket name for each test, so tests never see each other's objects."""
    return f"pixline-{uuid.uuid4().hex[:12]}"


def s3_settings(endpoint: S3Endpoint, bucket: str) -> dict[str, str]:
    """The environment that points Pixline at the test S3 server."""
    return {
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": endpoint.url,
        "S3_BUCKET": bucket,
        "S3_ACCESS_KEY": ACCESS_KEY,
        "S3_SECRET_KEY": SECRET_KEY,
        "S3_REGION": "us-east-1",
        "S3_CREATE_BUCKET": "1",
        "S3_CONNECT_TIMEOUT": "2",
        "S3_MAX_ATTEMPTS": "2",
    }


def s3_config(endpoint: S3Endpoint, bucket: str, **overrides) -> dict:
    """Flask config for an s3 app: the same settings, typed as settings_from_env makes them."""
    settings = s3_settings(endpoint, bucket)
    typed = settings_from_env(settings)
    return {**{name: typed[name] for name in settings}, **overrides}


@pytest.fixture
def make_s3_app(tmp_path, fake_redis, monkeypatch, s3_endpoint, bucket):
    """Build a unit-test app (fakeredis, fresh SQLite) on the S3 server, with config overrides."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    apps = []

    def build(**overrides):
        config = {**base_config(tmp_path), "REDIS_CLIENT": fake_redis, **s3_config(s3_endpoint, bucket, **overrides)}
        app = create_app(config)
        if not apps:
            reset_database(app)
        apps.append(app)
        return app

    yield build
    for app in apps:
        dispose_app(app)


@pytest.fixture
def s3_app(make_s3_app):
    """An app whose storage is a fresh bucket on the S3 server."""
    return make_s3_app()


@pytest.fixture
def s3_client(s3_app):
    """A test client of the s3 app."""
    return s3_app.test_client()


@pytest.fixture
def bucket_client(s3_endpoint):
    """boto3, for looking into buckets directly."""
    return s3_endpoint.client()


@pytest.fixture
def s3_storage(s3_endpoint, bucket) -> S3Storage:
    """An S3Storage on a fresh bucket, built from settings as the app builds it."""
    return S3Storage.from_config(settings_from_env(s3_settings(s3_endpoint, bucket)))
