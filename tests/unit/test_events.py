"""GET /api/events in-process (fakeredis): the stream's shape, its bound, heartbeats and its refusals."""

import io
import json
import time

import pytest
import sqlalchemy
from itsdangerous import TimestampSigner

from app.extensions import db
from app.models import Image, ImageStatus
from app.pipeline import notify, records
from app.web import events, page_session
from tests.conftest import authorize, make_key
from tests.support.browsers import as_browser
from tests.support.images import encoded


def upload(client) -> str:
    """One uploaded image's id (queued: no worker runs here)."""
    form = {"file": (io.BytesIO(encoded(64, 48)), "a.jpg")}
    return client.post("/api/images", data=form, content_type="multipart/form-data").get_json()["id"]


def parse(text: str) -> list[dict]:
    """The stream's events as dicts of their fields (comments kept under ':')."""
    parsed = []
    for block in text.split("\n\n"):
        fields = {}
        for line in filter(None, block.split("\n")):
            name, _, value = line.partition(":")
            fields[name or ":"] = value.strip()
        if fields:
            parsed.append(fields)
    return parsed


def test_a_fresh_stream_starts_with_each_images_current_state_and_ends_at_its_bound(app, client):
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    first, second = upload(client), upload(client)
    response = client.get(f"/api/events?ids={first},{second}")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    stream = parse(response.get_data(as_text=True))
    assert stream[0] == {"retry": "1000"}
    states = [json.loads(event["data"]) for event in stream if event.get("event") == "status"]
    assert [(state["image_id"], state["status"]) for state in states] == [(first, "queued"), (second, "queued")]
    assert all(event["id"].isdigit() for event in stream if "data" in event)
    assert states[0]["image"]["status"] == "queued"


def test_a_stream_sends_a_comment_heartbeat_while_nothing_happens(app, client, monkeypatch):
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    image_id = upload(client)
    stream = parse(client.get(f"/api/events?ids={image_id}").get_data(as_text=True))
    assert {":": "heartbeat"} in stream


def test_last_event_id_replays_every_change_after_it(app, client):
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    image_id = upload(client)
    fresh = parse(client.get(f"/api/events?ids={image_id}").get_data(as_text=True))
    seen = fresh[-1]["id"]
    with app.app_context():
        image = db.session.get(Image, image_id)
        records.add_event(image, ImageStatus.PROCESSING, message="test")
        image.status = ImageStatus.PROCESSING.value
        db.session.commit()
    resumed = client.get(f"/api/events?ids={image_id}", headers={"Last-Event-ID": seen}).get_data(as_text=True)
    changes = [event for event in parse(resumed) if event.get("event") == "status" and int(event["id"]) > int(seen)]
    assert [json.loads(event["data"])["status"] for event in changes] == ["processing"]
    # Recent changes up to Last-Event-ID may come again (at least once), each with the image as it is now.
    assert all(
        json.loads(event["data"])["image"]["status"] == "processing" for event in parse(resumed) if "data" in event
    )


def test_the_stream_holds_no_database_connection_while_it_waits(app, client, monkeypatch):
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    image_id = upload(client)
    checked_out = []
    wait = notify.StatusListeners.wait

    def recording_wait(self, seconds):
        checked_out.append(db.engine.pool.checkedout())
        wait(self, seconds)

    monkeypatch.setattr(notify.StatusListeners, "wait", recording_wait)
    with app.app_context():
        client.get(f"/api/events?ids={image_id}").get_data()
    assert checked_out and set(checked_out) == {0}


@pytest.mark.parametrize(
    ("query", "headers"),
    [("", {}), ("?ids=,,", {}), ("?ids=" + ",".join(f"i{n}" for n in range(101)), {}), ("?ids=" + "x" * 65, {}),
     ("?ids=abc", {"Last-Event-ID": "not-a-number"})],
)  # fmt: skip
def test_bad_stream_requests_get_400_bad_request(client, query, headers):
    response = client.get(f"/api/events{query}", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_another_owners_image_is_never_streamed(app, client):
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    mine, theirs = upload(client), upload(authorize(app.test_client(), make_key(app, "bob")))
    stream = parse(client.get(f"/api/events?ids={mine},{theirs}").get_data(as_text=True))
    states = [json.loads(event["data"]) for event in stream if event.get("event") == "status"]
    assert [state["image_id"] for state in states] == [mine]


def stream_token(client) -> str:
    """A stream token minted with client's credential (POST /api/events/token)."""
    answer = client.post("/api/events/token")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["expires_in"] == page_session.STREAM_TOKEN_MAX_AGE
    return answer.get_json()["token"]


def test_a_stream_wants_a_credential_and_takes_only_a_stream_token_from_the_url(app, client):
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    image_id = upload(client)
    anonymous = authorize(app.test_client(), None)
    assert anonymous.get(f"/api/events?ids={image_id}").status_code == 401
    browser = as_browser(app.test_client())
    page_token = browser.environ_base.pop("HTTP_AUTHORIZATION").removeprefix("Bearer ")
    for full_credential in (make_key(app), page_token):
        refused = anonymous.get(f"/api/events?ids={image_id}&access_token={full_credential}")
        assert refused.status_code == 401 and "never in a URL" in refused.get_json()["error"]["message"]
    token = stream_token(authorize(app.test_client(), page_token))
    assert token.startswith("pxe_")
    opened = anonymous.get(f"/api/events?ids={image_id}&access_token={token}")
    assert opened.status_code == 200 and opened.get_data(as_text=True).startswith("retry:")


def test_a_stream_token_opens_event_streams_and_nothing_else(app, client):
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    image_id = upload(client)
    token = stream_token(client)
    as_bearer = authorize(app.test_client(), token)
    opened = as_bearer.get(f"/api/events?ids={image_id}")
    assert opened.status_code == 200 and "event: status" in opened.get_data(as_text=True)
    assert as_bearer.get(f"/api/images/{image_id}").status_code == 401
    assert as_bearer.delete(f"/api/images/{image_id}").status_code == 401
    assert as_bearer.post("/api/events/token").status_code == 401
    assert app.test_client().get(f"/api/images/{image_id}?access_token={token}").status_code == 401


def test_a_stream_token_reads_only_its_owners_images_and_expires(app, client, monkeypatch):
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    mine, theirs = upload(client), upload(authorize(app.test_client(), make_key(app, "bob")))
    token = stream_token(client)
    stream = parse(app.test_client().get(f"/api/events?ids={mine},{theirs}&access_token={token}").get_data(True))
    assert [json.loads(event["data"])["image_id"] for event in stream if event.get("event") == "status"] == [mine]
    later = int(time.time()) + page_session.STREAM_TOKEN_MAX_AGE + 1
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    assert app.test_client().get(f"/api/events?ids={mine}&access_token={token}").status_code == 401


def count_queries(app) -> list[str]:
    """The SQL statements app's engine runs from now on (the list grows as they run)."""
    statements: list[str] = []
    with app.app_context():
        sqlalchemy.event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


@pytest.mark.parametrize("processed", [False, True])
def test_opening_a_stream_costs_one_query_and_a_done_image_two_more_for_its_variants(app, client, monkeypatch,
                                                                                     processed):  # fmt: skip
    app.config["EVENT_STREAM_MAX_SECONDS"] = 1
    image_ids = [upload(client) for _ in range(3)]
    if processed:
        with app.app_context():
            for image_id in image_ids:
                db.session.get(Image, image_id).status = ImageStatus.DONE.value
            db.session.commit()
    client.get("/api/usage")  # the key is checked once and cached: what follows is the stream's own cost
    statements, at_first_wait = count_queries(app), []
    wait = notify.StatusListeners.wait
    monkeypatch.setattr(notify.StatusListeners, "wait", lambda self, seconds: (
        at_first_wait.append(len(statements)) if not at_first_wait else None, wait(self, seconds)))  # fmt: skip
    client.get(f"/api/events?ids={','.join(image_ids)}").get_data()
    assert at_first_wait == [3 if processed else 1], statements
