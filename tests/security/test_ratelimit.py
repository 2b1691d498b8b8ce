"""The optional per-client upload rate limit: off by default, 429 with Retry-After when on, counted in Redis."""

import io

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.web.ratelimit import Rate, hit, parse_rate
from tests import imagegen
from tests.conftest import authorize, make_key
from tests.security.conftest import csrf_token, image_count, post_file, stored_keys
from tests.support.browsers import as_browser

JPEG = imagegen.solid_jpeg((8, 8))


def upload_from(client, address: str, **kwargs):
    """An API upload that appears to come from address."""
    return post_file(client, JPEG, environ_base={"REMOTE_ADDR": address}, **kwargs)


def test_no_limit_by_default(app, client):
    assert app.extensions["pixline.rate_limit"] is None
    assert all(upload_from(client, "10.0.0.1").status_code == 202 for _ in range(30))


def test_upload_over_the_limit_is_429_with_retry_after_and_stores_nothing(make_app):
    app = make_app(RATE_LIMIT="2/minute")
    client = app.test_client()
    assert [upload_from(client, "10.0.0.1").status_code for _ in range(2)] == [202, 202]
    refused = upload_from(client, "10.0.0.1")
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert image_count(app) == 2 and len(stored_keys(app)) == 2


def test_without_keys_client_addresses_are_counted_apart(make_app):
    client = as_browser(make_app(RATE_LIMIT="1/hour").test_client())  # a page token: no key, counted per address
    assert upload_from(client, "10.0.0.1").status_code == 202
    assert upload_from(client, "10.0.0.2").status_code == 202
    assert upload_from(client, "10.0.0.1").status_code == 429


def test_with_keys_owners_are_counted_apart_whatever_their_address(make_app):
    app = make_app(RATE_LIMIT="1/hour")
    alice, bob = (authorize(app.test_client(), make_key(app, owner)) for owner in ("alice", "bob"))
    alices_other_key = authorize(app.test_client(), make_key(app, "alice"))
    assert upload_from(alice, "10.0.0.1").status_code == 202
    assert upload_from(bob, "10.0.0.1").status_code == 202
    refused = upload_from(alices_other_key, "10.0.0.2")
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_html_upload_form_is_limited_too(make_app):
    client = make_app(RATE_LIMIT="1/minute").test_client()
    token = csrf_token(client)
    statuses = [
        client.post(
            "/upload",
            data={"csrf_token": token, "file": (io.BytesIO(JPEG), "a.jpg")},
            content_type="multipart/form-data",
        ).status_code
        for _ in range(2)
    ]
    assert statuses == [303, 429]


def test_reads_are_not_limited(make_app):
    client = make_app(RATE_LIMIT="1/minute").test_client()
    image_id = upload_from(client, "10.0.0.1").get_json()["id"]
    assert all(client.get(f"/api/images/{image_id}").status_code == 200 for _ in range(5))


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    client = as_browser(make_app(RATE_LIMIT="1/minute").test_client())
    assert upload_from(client, "10.0.0.1", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 202
    assert upload_from(client, "10.0.0.1", headers={"X-Forwarded-For": "2.2.2.2"}).status_code == 429


def test_behind_trusted_proxies_the_forwarded_client_is_counted(make_app):
    client = as_browser(make_app(RATE_LIMIT="1/minute", TRUSTED_PROXIES=1).test_client())
    assert upload_from(client, "10.0.0.9", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 202
    assert upload_from(client, "10.0.0.9", headers={"X-Forwarded-For": "2.2.2.2"}).status_code == 202
    assert upload_from(client, "10.0.0.9", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 429


def test_limit_fails_open_when_redis_is_down(make_app, fake_redis, monkeypatch):
    client = make_app(RATE_LIMIT="1/minute").test_client()

    def refuse(*args, **kwargs):
        raise RedisConnectionError("down")

    monkeypatch.setattr(type(fake_redis), "pipeline", refuse)
    assert upload_from(client, "10.0.0.1").status_code == 202
    assert upload_from(client, "10.0.0.1").status_code == 202


def test_count_lives_in_redis_with_an_expiry(make_app, fake_redis):
    client = make_app(RATE_LIMIT="5/minute").test_client()
    upload_from(client, "10.0.0.1")
    [key] = fake_redis.keys("pixline:ratelimit:*")
    assert fake_redis.get(key) == b"1" and 0 < fake_redis.ttl(key) <= 61


def test_a_new_window_starts_afresh(app):
    rate = Rate(1, 60)
    with app.app_context():
        assert hit(rate, "c", now=120.0) == 0
        assert hit(rate, "c", now=150.0) == 30
        assert hit(rate, "c", now=180.0) == 0


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("60/minute", Rate(60, 60)),
        ("10/second", Rate(10, 1)),
        (" 500 / hours ", Rate(500, 3600)),
        ("1/day", Rate(1, 86400)),
    ],
)
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "0", "off", None])
def test_parse_rate_off(text):
    assert parse_rate(text) is None


@pytest.mark.parametrize("text", ["60", "60/fortnight", "x/minute", "0/minute", "-1/minute", "/minute"])
def test_parse_rate_refuses_nonsense(text):
    with pytest.raises(ValueError, match="must look like 60/minute"):
        parse_rate(text)


def test_without_keys_an_ipv6_client_is_counted_by_its_64(make_app):
    client = make_app(RATE_LIMIT="1/hour", API_AUTH="off").test_client()
    assert upload_from(client, "2001:db8:1:2::1").status_code == 202
    assert upload_from(client, "2001:db8:1:2:aaaa:bbbb:cccc:dddd").status_code == 429
    assert upload_from(client, "2001:db8:1:3::1").status_code == 202
