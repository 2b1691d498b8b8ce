"""Media keys are validated before they are judged public: no spelling of '..' reaches a private original."""

import json
import socket

import pytest

from app.storage import LocalStorage, check_key
from app.storage.s3 import S3Storage
from tests import imagegen
from tests.security.conftest import post_file, read_response

# Ways to step from variants/ up into originals/, as a client would write them in the URL ({id} is the image's).
TRAVERSALS = [
    "variants/../originals/{id}.jpg",
    "variants/%2e%2e/originals/{id}.jpg",
    "variants/%2E./originals/{id}.jpg",
    "variants/.%2e/originals/{id}.jpg",
    "variants/%2E%2E/originals/{id}.jpg",
    "variants/..%2foriginals/{id}.jpg",
    "variants%2f..%2foriginals/{id}.jpg",
    "variants/x/..%2f..%2foriginals/{id}.jpg",
    "variants/%252e%252e/originals/{id}.jpg",
    "variants/%252e%252e%252foriginals/{id}.jpg",
    "variants/..\\originals\\{id}.jpg",
    "variants/..%5coriginals%5c{id}.jpg",
    "variants/%5c..%5coriginals/{id}.jpg",
    "variants/%00/../originals/{id}.jpg",
    "variants/../originals/{id}.jpg%00",
    "variants/./../originals/{id}.jpg",
    "variants//../originals/{id}.jpg",
    "variants/%2e/%2e%2e/originals/{id}.jpg",
]


@pytest.fixture
def private_original(app, client) -> tuple[str, bytes]:
    """An uploaded JPEG (with GPS metadata) whose original is private (SERVE_ORIGINALS off): its id and bytes."""
    assert not app.config["SERVE_ORIGINALS"]
    data = imagegen.jpeg_with_metadata()
    image_id = post_file(client, data).get_json()["id"]
    assert client.get(f"/media/originals/{image_id}.jpg").status_code == 404
    return image_id, data


def assert_not_found_json(status: int, content_type: str, body: bytes, original: bytes) -> None:
    """A 404 JSON not_found that carries nothing of the original."""
    assert status == 404
    assert content_type == "application/json"
    assert json.loads(body)["error"]["code"] == "not_found"
    assert original[:64] not in body


@pytest.mark.parametrize("spelling", TRAVERSALS)
def test_traversal_through_the_test_client_is_404(client, private_original, spelling):
    image_id, original = private_original
    response = client.get("/media/" + spelling.format(id=image_id))
    assert_not_found_json(response.status_code, response.mimetype, response.data, original)


@pytest.mark.parametrize("spelling", TRAVERSALS)
def test_traversal_sent_raw_to_a_real_server_is_404(server, private_original, spelling):
    image_id, original = private_original
    target = ("/media/" + spelling.format(id=image_id)).encode("latin-1")
    with socket.create_connection(server, timeout=10) as connection:
        connection.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        status, headers, body = read_response(connection)
    assert_not_found_json(status, headers.get("content-type", ""), body, original)


def test_a_plain_variant_is_still_served_over_the_real_server(app, server):
    LocalStorage(app.config["STORAGE_ROOT"]).save("variants/abc/thumb.webp", b"webp bytes", "image/webp")
    with socket.create_connection(server, timeout=10) as connection:
        connection.sendall(b"GET /media/variants/abc/thumb.webp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, body = read_response(connection)
    assert (status, body) == (200, b"webp bytes")


BAD_KEYS = [
    "",
    "/originals/a.jpg",
    "variants/../originals/a.jpg",
    "variants/./a.jpg",
    "variants//a.jpg",
    "variants/a/",
    "..",
    ".",
    "variants\\a.jpg",
    "variants/a.jpg\x00",
    "variants/a\nb.jpg",
    "variants/%2e%2e/a.jpg",
    "variants/\u2024\u2024/a.jpg",
    "variants/.hidden",
    "x" * 600,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_check_key_refuses_anything_but_plain_names(key):
    with pytest.raises(KeyError):
        check_key(key)


@pytest.mark.parametrize("key", ["originals/a.jpg", "variants/abc/thumb.webp", "uploads/abc/0f3a-1_b.jpg"])
def test_check_key_passes_the_keys_pixline_makes(key):
    assert check_key(key) == key


CALLS = {
    "save": lambda storage, key: storage.save(key, b"x", "image/jpeg"),
    "open": lambda storage, key: storage.open(key),
    "exists": lambda storage, key: storage.exists(key),
    "delete": lambda storage, key: storage.delete(key),
    "url": lambda storage, key: storage.url(key),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("key", BAD_KEYS)
def test_every_backend_refuses_a_bad_key_before_touching_storage(tmp_path, key, call):
    local = LocalStorage(tmp_path / "media")
    # Port 9 answers nothing: the test passes only because the key is refused before any request.
    remote = S3Storage("bucket", {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"})
    for storage in (local, remote):
        with pytest.raises(KeyError):
            call(storage, key)
    assert not (tmp_path / "media").exists() or list((tmp_path / "media").rglob("*")) == []
