"""`flask jobs …` and `flask images …`: thin commands over the functions that do the work."""

import click
from flask import Flask
from flask.cli import AppGroup

from app import failures

jobs_cli = AppGroup("jobs", help="Inspect and requeue RQ jobs.")


@jobs_cli.command("failed", help="List failed jobs: job id, image id, error, failed at.")
@click.option("--limit", type=int, default=None, help="Show at most this many, newest first.")
def failed_command(limit: int | None) -> None:
    """List failed jobs."""
    rows = failures.list_failed(limit)
    if not rows:
        click.echo("No failed jobs.")
        return
    for row in rows:
        failed_at = row.failed_at.isoformat(timespec="seconds") if row.failed_at else "-"
        click.echo(f"{row.job_id}\t{row.image_id or '-'}\t{failed_at}\t{row.error}")


@jobs_cli.command("requeue", help="Requeue failed jobs by id, or all of them with --all.")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "requeue_all", is_flag=True, help="Requeue every failed job.")
def requeue_command(job_ids: tuple[str, ...], requeue_all: bool) -> None:
    """Requeue failed jobs and set their images back to queued."""
    if bool(job_ids) == requeue_all:
        raise click.UsageError("Name job ids or pass --all (not both).")
    outcomes = failures.requeue_all() if requeue_all else {job_id: failures.requeue(job_id) for job_id in job_ids}
    if not outcomes:
        click.echo("No failed jobs.")
    for job_id, outcome in outcomes.items():
        click.echo(f"{job_id}: {outcome}")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(jobs_cli)
