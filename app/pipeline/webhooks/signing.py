"""Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`."""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, as Standard Webhooks writes them: whsec_ + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign_headers(event_id: str, body: str, secrets_in_force: list[str], now: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt, one signature per secret in force (space-separated)."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    signatures = [Webhook(secret).sign(event_id, moment, body) for secret in secrets_in_force]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
