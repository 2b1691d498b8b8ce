"""Slow uploads that carry a valid key hold no database connection while their bodies trickle in.

Before, the key lookup's transaction stayed open while the body streamed: 31 slow keyed uploads (2 processes × a
pool of 5 + 10) and every other request that touched the database waited 30 s for a connection and got a 500. Now
the lookup gives its connection back before the body is read, so a hundred of them cost the pool nothing; they are
dropped with 408 `client_timeout` once they stall for CLIENT_TIMEOUT.
"""

from tests.isolation.conftest import create_key
from tests.isolation.slow_uploads import SlowUploads

SLOW_UPLOADS = 100  # more than 2 web processes' pools and overflows, however connections spread between them


def test_a_hundred_slow_keyed_uploads_leave_the_victim_unharmed_and_end_in_408(start_stack, victim_of):
    stack = start_stack()
    victim = victim_of(stack)
    attack = SlowUploads(stack.url, create_key(stack, "slowpoke"), SLOW_UPLOADS)
    try:
        attack.start()
        victim.assert_unharmed()
        listing = stack.request("GET", "/api/images", victim.key, timeout=30)
        assert listing.status_code == 200, listing.text
        answers = attack.stall()
    finally:
        attack.stop()
    assert {answer.label for answer in answers} == {"408 client_timeout"}
