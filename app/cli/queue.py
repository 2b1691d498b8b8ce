"""`flask queue …`: queue health, for people, scripts and cron."""

import json

import click
from flask.cli import AppGroup

from app.cli.common import check_stack
from app.monitoring.queue_stats import queue_stats

queue_cli = AppGroup("queue", help="Queue health, for people, scripts and cron.")


@queue_cli.command("stats", help="Jobs per queue and registry, oldest queued job's age, and workers.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts and cron.")
def queue_stats_command(as_json: bool) -> None:
    """Print the state of the queues."""
    check_stack()
    stats = queue_stats()
    if as_json:
        click.echo(json.dumps(stats.as_dict()))
        return
    click.echo(f"workers: {stats.workers} ({stats.busy_workers} busy)")
    for queue in stats.queues:
        age = f"{queue.oldest_job_age:.0f}s" if queue.oldest_job_age is not None else "-"
        counts = " ".join(f"{name}={count}" for name, count in queue.registries.items())
        click.echo(f"{queue.name}: {counts} oldest={age}")
