"""Completion webhooks: an outbox of events, signed deliveries with retries, and the SSRF guard.

outbox.record() writes an event (and one delivery per subscribed endpoint) in the caller's transaction, so an
event exists exactly when the status change does; after the commit it enqueues the deliveries on the webhooks
queue. delivery.deliver() is the RQ job that sends one attempt; delivery.resend_overdue() is the periodic step
that re-enqueues deliveries no job holds (Redis flushed, worker killed): at-least-once, deduplicated by webhook-id.
"""

IMAGE_DONE = "image.done"
IMAGE_FAILED = "image.failed"
IMAGE_DELETED = "image.deleted"
PING = "ping"
EVENT_TYPES = (IMAGE_DONE, IMAGE_FAILED, IMAGE_DELETED, PING)
