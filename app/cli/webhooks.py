"""`flask webhooks …`: every owner's endpoints, their delivery logs, and sending a delivery again."""

import json

import click
from flask.cli import AppGroup

from app.exceptions import PixlineError
from app.pipeline.webhooks import endpoints
from app.pipeline.webhooks.resources import delivery_resource, endpoint_resource

webhooks_cli = AppGroup("webhooks", help="Webhook endpoints and their delivery logs.")


@webhooks_cli.command("list", help="Every owner's endpoints: id, owner, state, events, URL.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for scripts.")
def list_command(as_json: bool) -> None:
    """Print every endpoint."""
    for endpoint in endpoints.endpoints_of():
        if as_json:
            click.echo(json.dumps({**endpoint_resource(endpoint), "owner_id": endpoint.owner_id}))
            continue
        state = "enabled" if endpoint.disabled_at is None else f"DISABLED ({endpoint.disabled_reason})"
        failing = f" failing since {endpoint.failing_since:%Y-%m-%d %H:%M}Z" if endpoint.failing_since else ""
        click.echo(f"{endpoint.id} {endpoint.owner_id} {state}{failing} [{','.join(endpoint.events)}] {endpoint.url}")


@webhooks_cli.command("deliveries", help="An endpoint's deliveries, newest first, with every attempt.")
@click.argument("endpoint_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many deliveries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for scripts.")
def deliveries_command(endpoint_id: str, limit: int, as_json: bool) -> None:
    """Print an endpoint's delivery log."""
    endpoint = _or_fail(lambda: endpoints.find_endpoint(endpoint_id))
    for delivery in endpoints.deliveries_of(endpoint, limit=limit):
        resource = delivery_resource(delivery)
        if as_json:
            click.echo(json.dumps(resource))
            continue
        due = f" next attempt {resource['next_attempt_at']}" if resource["next_attempt_at"] else ""
        click.echo(f"{delivery.id} {delivery.event_id} {delivery.event.type} {delivery.status}{due}")
        for attempt in resource["attempts"]:
            answer = attempt["status_code"] or "-"
            click.echo(
                f"  #{attempt['number']} {attempt['at']} {answer} {attempt['duration_ms']} ms {attempt['error'] or ''}"
            )


@webhooks_cli.command("redeliver", help="Send deliveries again now (by delivery id).")
@click.argument("delivery_ids", nargs=-1, required=True)
def redeliver_command(delivery_ids: tuple[str, ...]) -> None:
    """Queue one more attempt of each delivery."""
    for delivery_id in delivery_ids:
        delivery = _or_fail(lambda delivery_id=delivery_id: endpoints.redeliver(endpoints.find_delivery(delivery_id)))
        click.echo(f"{delivery.id}: queued attempt {delivery.attempts + 1}")


def _or_fail(action):
    """Run action; a Pixline error (not found, disabled) becomes the command's error message."""
    try:
        return action()
    except PixlineError as error:
        raise click.ClickException(error.message) from None
