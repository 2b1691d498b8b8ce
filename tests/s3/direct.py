"""Helpers for direct-upload tests: start an upload, send the file as a browser would, look at the queue."""

import base64
import json

import requests

from app.extensions import redis_queue
from tests.support.images import encoded

JPEG = encoded(120, 80)


def start(client, content_type: str = "image/jpeg", size: int = len(JPEG), filename: str = "photo.jpg"):
    """POST /api/uploads; returns the response."""
    return client.post("/api/uploads", json={"filename": filename, "content_type": content_type, "bytes": size})


def send(upload: dict, content: bytes) -> requests.Response:
    """What a browser does with the presigned POST: the fields, then the file, straight to the bucket."""
    files = {"file": ("photo", content)}
    return requests.post(upload["url"], data=upload["fields"], files=files, timeout=10)


def policy_of(upload: dict) -> dict:
    """The POST policy the app signed, decoded."""
    return json.loads(base64.b64decode(upload["fields"]["policy"]))


def queued_job_ids(app) -> list[str]:
    """Ids of the jobs waiting in the images queue."""
    with app.app_context():
        return redis_queue.queue.job_ids
