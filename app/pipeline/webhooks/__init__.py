"""Completion webhooks: an outbox of events, signed deliveries with retries, and the SSRF guard.

outbox.record() writes an event (and one delivery per subscribed endpoint, within the owner's backlog cap) in the
caller's transaction, so an event exists exactly when the status change does; after the commit it enqueues the
deliveries on the webhooks queue, which workers take only when no image waits. delivery.deliver() is the RQ job:
a turn of the delivery's endpoint, which has one attempt in flight at most (turns); delivery.resend_overdue() is
the periodic step that gives a turn to endpoints whose deliveries no job holds (Redis flushed, worker killed):
at-least-once, deduplicated by webhook-id.
"""

IMAGE_DONE = "image.done"
IMAGE_FAILED = "image.failed"
IMAGE_DELETED = "image.deleted"
PING = "ping"
EVENT_TYPES = (IMAGE_DONE, IMAGE_FAILED, IMAGE_DELETED, PING)

# What became of a delivery: pending until a 2xx, or failed once its retries are spent (or it was never sent).
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
