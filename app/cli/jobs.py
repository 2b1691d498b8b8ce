"""`flask jobs …`: list, requeue and purge failed RQ jobs."""

import re
from datetime import timedelta

import click
from flask.cli import AppGroup

from app.cli.common import Age, check_stack, with_progress
from app.maintenance import failures
from app.pipeline.jobs import job_id_for

# The id the API and the page show for an image (a uuid4 in hex); its job's id is `image-<id>`.
IMAGE_ID = re.compile(r"[0-9a-f]{32}")
NOT_FOUND = ("expired", "not found")

jobs_cli = AppGroup("jobs", help="Inspect and requeue RQ jobs.")


@jobs_cli.command("failed", help="List failed jobs: job id, image id, error, failed at.")
@click.option("--limit", type=int, default=None, help="Show at most this many, newest first.")
def failed_command(limit: int | None) -> None:
    """List failed jobs."""
    check_stack()
    rows = failures.list_failed(limit)
    if not rows:
        click.echo("No failed jobs.")
        return
    for row in rows:
        failed_at = row.failed_at.isoformat(timespec="seconds") if row.failed_at else "-"
        click.echo(f"{row.job_id}\t{row.image_id or '-'}\t{failed_at}\t{row.error}")


@jobs_cli.command(
    "requeue", help="Requeue failed jobs by job id or image id, or all of them with --all (and --older-than)."
)
@click.argument("job_ids", nargs=-1)
@click.option("--all", "requeue_all", is_flag=True, help="Requeue every failed job.")
@click.option("--older-than", type=Age(), default=None, help="With --all: only jobs that failed longer ago (e.g. 12h).")
def requeue_command(job_ids: tuple[str, ...], requeue_all: bool, older_than: timedelta | None) -> None:
    """Requeue failed jobs and set their images back to queued."""
    check_stack()
    if bool(job_ids) == requeue_all:
        raise click.UsageError("Name job ids or pass --all (not both).")
    if older_than is not None and not requeue_all:
        raise click.UsageError("--older-than goes with --all.")
    # A job named twice is requeued once: the second attempt would only report "skipped: queued".
    targets = failures.failed_job_ids(older_than) if requeue_all else list(dict.fromkeys(job_ids))
    if not targets:
        click.echo("No failed jobs.")
        return
    outcomes = with_progress(targets, requeue_one, "Requeueing")
    for target, outcome in outcomes.items():
        click.echo(f"{target}: {outcome}")
    unknown = sum(1 for outcome in outcomes.values() if outcome.startswith(NOT_FOUND))
    if unknown and not requeue_all:
        raise click.ClickException(f"{unknown} of {len(targets)} not found.")


def requeue_one(target: str) -> str:
    """Requeue the failed job of a job id or of an image id; what happened, in words."""
    if not IMAGE_ID.fullmatch(target):
        return failures.requeue(target)
    outcome = failures.requeue(job_id_for(target))
    return "not found: no image has this id" if outcome.startswith("expired") else outcome


@jobs_cli.command("purge-failed", help="Delete the failed jobs that failed longer ago than --older-than.")
@click.option("--older-than", type=Age(), required=True, help="An age such as 90s, 30m, 12h, 7d or 2w.")
def purge_failed_command(older_than: timedelta) -> None:
    """Remove old failed jobs from Redis (their images stay failed, and can still be reprocessed)."""
    targets = failures.failed_job_ids(older_than)
    with_progress(targets, failures.purge, "Purging")
    click.echo(f"Purged {len(targets)} failed jobs.")
