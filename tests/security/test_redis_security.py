"""Redis: jobs are JSON (never pickle), and a password or TLS in REDIS_URL works for the app and the workers."""

import json
import subprocess
import zlib

import pytest
import redis
from redis.connection import SSLConnection

from app.stack import free_port, redis_server_binary, stop_all, wait_for_redis
from tests import imagegen
from tests.conftest import Stack
from tests.security.conftest import post_file
from tests.support.polling import wait_for_status


def test_enqueued_job_payload_is_json_not_pickle(client, fake_redis):
    image_id = post_file(client, imagegen.solid_jpeg((8, 8))).get_json()["id"]
    payload = zlib.decompress(fake_redis.hget(f"rq:job:image-{image_id}", "data"))
    assert not payload.startswith(b"\x80")  # every pickle protocol >= 2 starts with PROTO
    function, instance, args, kwargs = json.loads(payload)
    assert (function, instance, args, kwargs) == ("app.pipeline.jobs.process_image", None, [image_id], {})


def test_rediss_url_with_a_password_makes_a_tls_client(make_app):
    app = make_app(REDIS_CLIENT=None, REDIS_URL="rediss://:pa%40ss@redis.example:6380/2")
    client = app.extensions["pixline.redis"]
    kwargs = client.connection_pool.connection_kwargs
    assert client.connection_pool.connection_class is SSLConnection
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("redis.example", 6380, 2, "pa@ss")


@pytest.fixture
def password_redis(tmp_path):
    """A real redis-server that requires a password; yields the URL with it."""
    port = free_port()
    process = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--requirepass", "pw-!x",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"redis://:pw-%21x@127.0.0.1:{port}/0"
    try:
        wait_for_redis(url, process)
        yield url
    finally:
        stop_all([process])


@pytest.mark.integration
def test_app_and_worker_work_with_a_password_in_redis_url(tmp_path, password_redis):
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(password_redis.replace(":pw-%21x@", "")).set("k", "v")
    stack = Stack(tmp_path, password_redis, {})
    try:
        stack.start_worker()
        created = stack.upload(imagegen.solid_jpeg((64, 48)), "a.jpg")
        assert created.status_code == 202
        assert wait_for_status(stack.client, created.get_json()["id"], {"done", "failed"}, 60)["status"] == "done"
    finally:
        stack.stop()
        from app.extensions import db

        with stack.app.app_context():
            db.session.remove()
            db.engine.dispose()
