"""The README's webhook receiver, exactly as printed: a ping, a retry after a failed handling, a duplicate."""

import json
import types
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from tests.docs.examples import blocks_in
from tests.support.stack import ROOT

SECRET = "whsec_" + "c2VjcmV0LW9mLXRoZS1yZWFkZXItMzItYnl0ZXMhIQ=="


@pytest.fixture
def receiver() -> types.ModuleType:
    """The README's receiver.py, the reader's secret in it, loaded as a module (not started)."""
    snippet = next(block for block in blocks_in(ROOT / "README.md") if block.text.startswith("# receiver.py"))
    module = types.ModuleType("receiver")
    exec(compile(snippet.text.replace("whsec_…", SECRET), "receiver.py", "exec"), module.__dict__)
    return module


def deliver(receiver: types.ModuleType, event_id: str, event: dict) -> int:
    """POST one signed event to the receiver, as Pixline's sender does; its status code."""
    body, now = json.dumps(event), datetime.now(UTC)
    headers = {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp()))}
    headers["webhook-signature"] = Webhook(SECRET).sign(event_id, now, body)
    answer = receiver.app.test_client().post("/pixline", data=body, headers=headers)
    return answer.status_code


def done_event(image_id: str = "0123abcd") -> dict:
    """An image.done event's body."""
    return {"type": "image.done", "timestamp": "2026-01-01T00:00:00Z", "data": {"id": image_id, "status": "done"}}


def test_the_receiver_answers_a_ping_which_carries_no_image(receiver, capsys):
    ping = {"type": "ping", "timestamp": "2026-01-01T00:00:00Z", "data": {"endpoint_id": "whe_1"}}
    assert deliver(receiver, "msg_ping", ping) == 204
    assert capsys.readouterr().out == "ping whe_1\n"


def test_an_event_whose_handling_failed_is_handled_when_it_comes_again(receiver, capsys):
    handled, handle = [], receiver.handle

    def failing_once(event: dict) -> None:
        handled.append(event["type"])
        if len(handled) == 1:
            raise RuntimeError("the receiver's database was down")
        handle(event)

    receiver.handle = failing_once
    assert deliver(receiver, "msg_1", done_event()) == 500
    assert deliver(receiver, "msg_1", done_event()) == 204
    assert handled == ["image.done", "image.done"]
    assert capsys.readouterr().out == "image.done 0123abcd done\n"


def test_an_event_handled_already_is_acknowledged_without_being_handled_again(receiver, capsys):
    assert deliver(receiver, "msg_2", done_event()) == 204
    assert deliver(receiver, "msg_2", done_event()) == 204
    assert capsys.readouterr().out == "image.done 0123abcd done\n"


def test_an_unsigned_call_is_refused(receiver):
    answer = receiver.app.test_client().post("/pixline", data=json.dumps(done_event()), headers={"webhook-id": "x"})
    assert answer.status_code >= 400
