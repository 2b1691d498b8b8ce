"""Thousands of event streams and long-polls from one page token, or from one address, take only their share.

Before waiting clients were counted, one free page token opened any number of `/api/events` streams, and ~3,000 of
them kept `/healthz` and keyed calls from answering for minutes. Now each owner and each client address holds at
most MAX_WAITING_PER_OWNER and MAX_WAITING_PER_ADDRESS of them (429 `rate_limited` with Retry-After past that), and
the victim, another owner on another address, uploads and follows its photo as if nothing happened.
"""

from config import settings_from_env
from tests.isolation.stream_flood import StreamFlood, done_image, event_stream, long_poll, page_token

DEFAULTS = settings_from_env({})
ATTEMPTS = 3000


def assert_refused_past(flood: StreamFlood, cap: int) -> None:
    """At most cap requests held; every other one refused at once with 429 rate_limited and a Retry-After."""
    tally = flood.tally()
    assert tally["429 rate_limited"] >= ATTEMPTS - cap, f"the attacker was not refused: {dict(tally)}"
    assert flood.held_count() <= cap, dict(tally)
    assert all(answer.label == "429 rate_limited" for answer in flood.refusals()), dict(tally)
    assert all(int(answer.headers["retry-after"]) >= 1 for answer in flood.refusals())


def test_thousands_of_event_streams_on_one_page_token_leave_the_victim_unharmed(start_stack, victim_of):
    stack = start_stack()
    victim = victim_of(stack)
    flood = StreamFlood(stack.url, [(page_token(stack.url), event_stream())], ATTEMPTS)
    try:
        flood.start()
        victim.assert_unharmed()
    finally:
        flood.stop()
    assert_refused_past(flood, DEFAULTS["MAX_WAITING_PER_OWNER"])


def test_thousands_of_streams_and_long_polls_from_one_address_leave_the_victim_unharmed(start_stack, victim_of):
    stack = start_stack()
    victim = victim_of(stack)
    # Many anonymous owners (a visit without a cookie each), all behind one address: each stays under its own cap.
    tokens = [page_token(stack.url) for _ in range(100)]
    streams = [(token, event_stream()) for token in tokens]
    polls = [(token, long_poll(done_image(stack, token), "done")) for token in tokens[:10]]
    flood = StreamFlood(stack.url, streams + polls, ATTEMPTS, answer_seconds=5)
    try:
        flood.start()
        victim.assert_unharmed()
    finally:
        flood.stop()
    assert_refused_past(flood, DEFAULTS["MAX_WAITING_PER_ADDRESS"])
