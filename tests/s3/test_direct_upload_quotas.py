"""Direct uploads within the quota: declared bytes held from the start, any excess held at completion, a refused
arrival's bytes given back, and the day's uploads counted once per start."""

from tests.conftest import authorize, make_key
from tests.s3.direct import JPEG, send, start


def alice_of(app):
    """A test client with a key of alice's."""
    return authorize(app.test_client(), make_key(app, "alice"))


def test_bytes_past_the_declared_size_must_fit_the_quota_at_completion(make_s3_app):
    app = make_s3_app(QUOTA_BYTES=len(JPEG) + 100)
    alice = alice_of(app)
    first, second = (start(alice, size=50).get_json() for _ in range(2))
    for body in (first, second):
        assert send(body["upload"], JPEG).status_code == 204
    assert alice.post(f"/api/images/{first['id']}/complete").status_code == 202
    refused = alice.post(f"/api/images/{second['id']}/complete")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "quota_exceeded"
    # The refused upload stores nothing and counts nothing: the room it held is free again.
    assert alice.get(f"/api/images/{second['id']}").get_json()["bytes"] == 0
    assert alice.get("/api/usage").get_json()["counted_bytes"] == len(JPEG)
    assert start(alice, size=100).status_code == 201


def test_a_refused_arrival_gives_back_its_declared_bytes(make_s3_app):
    app = make_s3_app(QUOTA_BYTES=len(JPEG) + 10)
    alice = alice_of(app)
    body = start(alice).get_json()
    assert start(alice).status_code == 403
    send(body["upload"], b"just some text, not an image\n" * 10)
    assert alice.post(f"/api/images/{body['id']}/complete").status_code == 415
    assert start(alice).status_code == 201


def test_each_start_counts_one_upload_of_the_day(make_s3_app):
    app = make_s3_app(QUOTA_UPLOADS_PER_DAY=2)
    alice = alice_of(app)
    assert [start(alice).status_code for _ in range(3)] == [201, 201, 429]
    assert alice.get("/api/usage").get_json()["uploads_today"] == 2
