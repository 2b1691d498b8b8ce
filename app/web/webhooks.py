"""The webhooks API: an owner's endpoints, their secrets, their delivery logs (scope webhooks:manage)."""

from flask import Blueprint, jsonify, request

from app.exceptions import BadRequest
from app.pipeline.access import WEBHOOKS, Principal
from app.pipeline.webhooks import endpoints
from app.pipeline.webhooks.resources import delivery_resource, endpoint_resource
from app.web.auth import require
from app.web.ratelimit import limit_webhook_sends

bp = Blueprint("webhooks", __name__, url_prefix="/api")

MAX_DELIVERIES = 100


def acting() -> Principal:
    """The principal the request acts as, which must hold webhooks:manage (403 forbidden otherwise)."""
    return require(WEBHOOKS)


@bp.before_request
def check_scope() -> None:
    """Every route here needs webhooks:manage."""
    acting()


@bp.post("/webhooks")
def create_endpoint():
    """Register {url, events}; the answer holds the signing secret, shown only this once."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest('Send a JSON object: {"url": "https://…", "events": ["image.done"]}.')
    endpoint = endpoints.register(acting(), body.get("url"), body.get("events"))
    return jsonify(endpoint_resource(endpoint, with_secret=True)), 201


@bp.get("/webhooks")
def list_endpoints():
    """The owner's endpoints (an admin's: every owner's), without secrets."""
    return jsonify({"items": [endpoint_resource(endpoint) for endpoint in endpoints.endpoints_of(acting())]})


@bp.get("/webhooks/<endpoint_id>")
def get_endpoint(endpoint_id: str):
    """One endpoint, without its secret."""
    return jsonify(endpoint_resource(endpoints.find_endpoint(endpoint_id, acting())))


@bp.delete("/webhooks/<endpoint_id>")
def delete_endpoint(endpoint_id: str):
    """Remove an endpoint and its delivery log."""
    endpoints.remove(endpoints.find_endpoint(endpoint_id, acting()))
    return "", 204


@bp.post("/webhooks/<endpoint_id>/rotate")
def rotate_secret(endpoint_id: str):
    """A new secret, shown once; calls carry both signatures for 24 hours."""
    endpoint = endpoints.rotate(endpoints.find_endpoint(endpoint_id, acting()))
    return jsonify(endpoint_resource(endpoint, with_secret=True))


@bp.post("/webhooks/<endpoint_id>/test")
def send_ping(endpoint_id: str):
    """Send a ping event to the endpoint; 202 with its delivery (follow it in the delivery log)."""
    endpoint = endpoints.find_endpoint(endpoint_id, acting())
    limit_webhook_sends(acting().owner_id)
    delivery = endpoints.ping(endpoint)
    return jsonify(delivery_resource(delivery)), 202


@bp.get("/webhooks/<endpoint_id>/deliveries")
def list_deliveries(endpoint_id: str):
    """The endpoint's deliveries, newest first, each with its attempts."""
    endpoint = endpoints.find_endpoint(endpoint_id, acting())
    limit = request.args.get("limit", type=int) or 50
    deliveries = endpoints.deliveries_of(endpoint, limit=max(1, min(MAX_DELIVERIES, limit)))
    return jsonify({"items": [delivery_resource(delivery) for delivery in deliveries]})


@bp.post("/deliveries/<delivery_id>/redeliver")
def redeliver(delivery_id: str):
    """Send a delivery again now; 202 with the delivery."""
    found = endpoints.find_delivery(delivery_id, acting())
    limit_webhook_sends(acting().owner_id)
    delivery = endpoints.redeliver(found)
    return jsonify(delivery_resource(delivery)), 202
