"""Fixtures: a unit-test app on fakeredis, and real Redis + real worker processes for integration tests."""

import os
import subprocess
import sys
from pathlib import Path

import fakeredis
import pytest
import redis
from flask_migrate import upgrade

from app import create_app
from app.stack import start_redis, stop_all
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
# The owner of the key the test clients send unless a test says otherwise.
TEST_OWNER = "tests"


def database_url(tmp_path: Path) -> str:
    """TEST_DATABASE_URL (e.g. PostgreSQL in CI's second pass), else a fresh SQLite file."""
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'pixline.db'}"


def reset_database(app) -> None:
    """Bring the schema up with the real migrations, emptying a shared server database first."""
    from app.extensions import db

    with app.app_context():
        if not app.config["DATABASE_URL"].startswith("sqlite"):
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()


def dispose_app(app) -> None:
    """Close a test app's database session and pool (SQLite files and PostgreSQL connections are released)."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def make_key(app, owner: str = TEST_OWNER, scopes: frozenset[str] | None = None, **options) -> str:
    """A real API key of owner (default scopes unless given), made as `flask keys create` makes one."""
    from app.pipeline import keys
    from app.pipeline.access import DEFAULT_SCOPES

    with app.app_context():
        return keys.create_key(options.pop("name", "tests"), owner, scopes or DEFAULT_SCOPES, **options).token


def authorize(client, token: str | None):
    """Send token as Bearer on every request of this test client (None: send none)."""
    if token is None:
        client.environ_base.pop("HTTP_AUTHORIZATION", None)
    else:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def send_key_by_default(app, owner: str = TEST_OWNER) -> str:
    """Make a key of owner and have every app.test_client() send it; returns the key."""
    from flask.testing import FlaskClient

    token = make_key(app, owner)

    class KeyedClient(FlaskClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            authorize(self, token)

    app.test_client_class = KeyedClient
    return token


def base_config(tmp_path: Path) -> dict:
    """Settings every test app shares: its own database, storage root and secrets."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url(tmp_path),
        "STORAGE_ROOT": str(tmp_path / "media"),
        "DASHBOARD_USERNAME": "admin",
        "DASHBOARD_PASSWORD": "s3cret",
        "WTF_CSRF_ENABLED": True,
    }


@pytest.fixture
def fake_redis():
    """An in-process Redis stand-in for fast unit tests."""
    return fakeredis.FakeRedis()


@pytest.fixture
def app(tmp_path, fake_redis, monkeypatch):
    """An app on fakeredis and a fresh database."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({**base_config(tmp_path), "REDIS_CLIENT": fake_redis})
    reset_database(app)
    yield app
    dispose_app(app)


@pytest.fixture
def api_key(app) -> str:
    """A real API key of TEST_OWNER with the default scopes."""
    return make_key(app)


@pytest.fixture
def client(app, api_key):
    """A test client of the unit-test app that sends api_key on every request."""
    return authorize(app.test_client(), api_key)


@pytest.fixture
def runner(app):
    """A CLI runner of the unit-test app."""
    return app.test_cli_runner()


# --- integration: real redis-server, real worker processes -------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free port for the whole session; yields its URL."""
    process, url = start_redis(tmp_path_factory.mktemp("redis"), persistent=False)
    yield url
    stop_all([process])


@pytest.fixture
def redis_url(redis_server):
    """The real Redis, emptied before each test."""
    redis.Redis.from_url(redis_server).flushall()
    return redis_server


class Stack:
    """A live app on real Redis plus real worker processes sharing its environment."""

    def __init__(self, tmp_path: Path, redis_url: str, overrides: dict[str, str]):
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": database_url(tmp_path),
            "STORAGE_ROOT": str(tmp_path / "media"),
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret",
            "DASHBOARD_PASSWORD": "s3cret",
            "RETRY_BASE_SECONDS": "1",
            "RETRY_MAX": "3",
            "LOG_LEVEL": "INFO",
            **overrides,
        }
        self.workers: list[subprocess.Popen] = []
        self.app = self._build_app()
        reset_database(self.app)
        self.api_key = make_key(self.app)
        self.client = authorize(self.app.test_client(), self.api_key)
        self.redis = redis.Redis.from_url(redis_url)

    def _build_app(self):
        """An in-process app configured exactly like the worker processes."""
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def start_worker(self, name: str | None = None) -> subprocess.Popen:
        """Start one real `python worker.py` process (its own process group) and wait until it registers."""
        log = open(self.tmp_path / f"worker-{len(self.workers)}.log", "ab")  # noqa: SIM115 - closed with the process
        command = [sys.executable, "worker.py"] + (["--name", name] if name else [])
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.workers.append(process)
        from rq import Worker

        wait_until(lambda: len(Worker.all(connection=self.redis)) >= self.live_worker_count(), 20, what="worker start")
        return process

    def live_worker_count(self) -> int:
        """How many of our worker processes are still running."""
        return sum(1 for process in self.workers if process.poll() is None)

    def upload(self, data, filename: str = "photo.jpg"):
        """POST an image to the API; returns the response."""
        import io

        stream = data.open("rb") if isinstance(data, Path) else io.BytesIO(data)
        with stream:
            form = {"file": (stream, filename)}
            return self.client.post("/api/images", data=form, content_type="multipart/form-data")

    def worker_logs(self) -> str:
        """Everything the workers printed (for failure messages)."""
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.tmp_path.glob("worker-*.log")))

    def stop(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after the grace period)."""
        stop_all(self.workers)


@pytest.fixture
def make_stack(tmp_path, redis_url):
    """Build a Stack with optional environment overrides; stops its workers afterwards."""
    stacks = []

    def build(**overrides: str) -> Stack:
        stack = Stack(tmp_path, redis_url, overrides)
        stacks.append(stack)
        return stack

    yield build
    for stack in stacks:
        stack.stop()
        dispose_app(stack.app)


@pytest.fixture
def stack(make_stack):
    """A live app with two real workers."""
    stack = make_stack()
    stack.start_worker()
    stack.start_worker()
    return stack
