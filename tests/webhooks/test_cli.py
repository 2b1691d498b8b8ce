"""`flask webhooks list|deliveries|redeliver` on fakeredis."""

from app.pipeline.access import ADMIN, Principal
from app.pipeline.webhooks import endpoints


def make_endpoint(app, owner: str = "alice") -> tuple[str, int]:
    """An endpoint of owner and one ping delivery to it."""
    with app.app_context():
        endpoint = endpoints.register(Principal(owner, frozenset({ADMIN})), "https://93.184.216.34/in", ["image.done"])
        delivery = endpoints.ping(endpoint)
        return endpoint.id, delivery.id


def test_list_shows_every_owners_endpoints(app, runner):
    alice, _ = make_endpoint(app, "alice")
    bob, _ = make_endpoint(app, "bob")
    result = runner.invoke(args=["webhooks", "list"])
    assert result.exit_code == 0, result.output
    assert f"{alice} alice enabled" in result.output and f"{bob} bob enabled" in result.output


def test_deliveries_and_redeliver(app, runner, fake_redis):
    endpoint_id, delivery_id = make_endpoint(app)
    listed = runner.invoke(args=["webhooks", "deliveries", endpoint_id])
    assert listed.exit_code == 0 and f"{delivery_id} msg_" in listed.output and " ping pending" in listed.output
    again = runner.invoke(args=["webhooks", "redeliver", str(delivery_id)])
    assert again.exit_code == 0, again.output
    assert f"{delivery_id}: queued attempt 1" in again.output


def test_unknown_ids_fail_with_a_message(runner):
    assert "No webhook endpoint" in runner.invoke(args=["webhooks", "deliveries", "whe_nope"]).output
    result = runner.invoke(args=["webhooks", "redeliver", "999"])
    assert result.exit_code == 1 and "No webhook delivery" in result.output
