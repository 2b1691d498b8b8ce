"""Bucket notifications come from outside: every odd shape is ignored, and no record stops the listener."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.pipeline import bucket_events
from app.pipeline.bucket_events import created_keys
from tests.s3.direct import JPEG, queued_job_ids, send, start
from tests.s3.test_bucket_events import access_notification, push, s3_record

MALFORMED = [
    {"Records": 5},
    {"Records": "x"},
    {"Records": {"s3": {}}},
    {"Event": 5},
    [{"Event": "x"}],
    [5, "x", None],
    {"Records": [{"eventName": "s3:ObjectCreated:Post", "s3": "x"}]},
    {"Records": [{"eventName": "s3:ObjectCreated:Post", "s3": {"bucket": "x", "object": {"key": "a"}}}]},
    {"Records": [{"eventName": "s3:ObjectCreated:Post", "s3": {"bucket": {"name": "photos"}, "object": "a"}}]},
    {"Records": [{"eventName": "s3:ObjectCreated:Post", "s3": {"bucket": {"name": "photos"}, "object": {"key": 5}}}]},
    {"Records": [{"eventName": 5, "s3": {"bucket": {"name": "photos"}, "object": {"key": "a"}}}]},
    {"Records": [{"eventName": ["s3:ObjectCreated:Post"], "s3": {}}]},
    5,
    "x",
    None,
]


@pytest.mark.parametrize("document", MALFORMED, ids=[json.dumps(document)[:40] for document in MALFORMED])
def test_malformed_notifications_announce_no_key(document):
    assert created_keys(json.dumps(document), "photos") == []


def test_bytes_that_are_not_text_announce_no_key():
    assert created_keys(b"\xff\xfe\x00", "photos") == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
# Documents shaped like notifications, so the fuzzing reaches the record fields, not only the outer checks.
RECORD = st.fixed_dictionaries(
    {"eventName": st.sampled_from(["s3:ObjectCreated:Post", "s3:ObjectRemoved:Delete"]) | JSON, "s3": JSON}
)
NOTIFICATION = (
    JSON
    | st.fixed_dictionaries({"Records": st.lists(RECORD | JSON, max_size=3) | JSON})
    | st.lists(st.fixed_dictionaries({"Event": st.lists(RECORD | JSON, max_size=3) | JSON}), max_size=3)
)


@settings(max_examples=400, deadline=None)
@given(NOTIFICATION)
def test_created_keys_never_raises_and_returns_strings(document):
    keys = created_keys(json.dumps(document), "photos")
    assert all(isinstance(key, str) for key in keys)


@pytest.mark.parametrize("document", MALFORMED[:8], ids=[json.dumps(document)[:40] for document in MALFORMED[:8]])
def test_the_listener_survives_a_malformed_notification_and_completes_the_next(s3_app, s3_client, bucket, document):
    body = start(s3_client).get_json()
    send(body["upload"], JPEG)
    push(s3_app, json.dumps(document))
    push(s3_app, access_notification(s3_record(bucket, body["upload"]["fields"]["key"])))
    result = s3_app.test_cli_runner().invoke(args=["storage", "listen", "--max-events", "2", "--idle-timeout", "10"])
    assert result.exit_code == 0, result.output
    assert "handled 2 notification(s)" in result.output
    assert queued_job_ids(s3_app) == [f"image-{body['id']}"]


def test_the_listener_survives_an_error_nobody_foresaw(s3_app, s3_client, bucket, monkeypatch):
    body = start(s3_client).get_json()
    send(body["upload"], JPEG)
    real_created_keys = bucket_events.created_keys
    calls = []

    def fails_once(notification, bucket_name):
        calls.append(notification)
        if len(calls) == 1:
            raise AttributeError("'str' object has no attribute 'get'")
        return real_created_keys(notification, bucket_name)

    monkeypatch.setattr(bucket_events, "created_keys", fails_once)
    push(s3_app, "{}")
    push(s3_app, access_notification(s3_record(bucket, body["upload"]["fields"]["key"])))
    result = s3_app.test_cli_runner().invoke(args=["storage", "listen", "--max-events", "2", "--idle-timeout", "10"])
    assert result.exit_code == 0, result.output
    assert queued_job_ids(s3_app) == [f"image-{body['id']}"]
