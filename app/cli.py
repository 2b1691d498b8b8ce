"""`flask jobs …`, `flask images …` and `flask queue …`: thin commands over the functions that do the work."""

import json
import sys
from datetime import timedelta
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError
from rq import Worker

from app import audit, failures, operations, queue_stats, reconcile
from app.extensions import redis_queue
from app.models import ImageStatus
from app.storage_cli import storage_cli

jobs_cli = AppGroup("jobs", help="Inspect and requeue RQ jobs.")
queue_cli = AppGroup("queue", help="Queue health, for people, scripts and cron.")
STATUSES = [status.value for status in ImageStatus]


class Age(click.ParamType):
    """A command-line age such as 90s, 30m, 12h, 7d or 2w."""

    name = "age"

    def convert(self, value, param, ctx) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return operations.parse_age(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


images_cli = AppGroup("images", help="Inspect and repair images.")


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


@jobs_cli.command("requeue", help="Requeue failed jobs by id, or all of them with --all (and --older-than).")
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
    outcomes = _with_progress(targets, failures.requeue, "Requeueing")
    for job_id, outcome in outcomes.items():
        click.echo(f"{job_id}: {outcome}")
    unknown = sum(1 for outcome in outcomes.values() if outcome.startswith("expired"))
    if unknown and not requeue_all:
        raise click.ClickException(f"{unknown} of {len(targets)} not found.")


@jobs_cli.command("purge-failed", help="Delete the failed jobs that failed longer ago than --older-than.")
@click.option("--older-than", type=Age(), required=True, help="An age such as 90s, 30m, 12h, 7d or 2w.")
def purge_failed_command(older_than: timedelta) -> None:
    """Remove old failed jobs from Redis (their images stay failed, and can still be reprocessed)."""
    targets = failures.failed_job_ids(older_than)
    _with_progress(targets, failures.purge, "Purging")
    click.echo(f"Purged {len(targets)} failed jobs.")


@images_cli.command("reconcile", help="Give every queued or processing image without a live job a new one.")
@click.option("--wait", type=float, default=30, show_default=True, help="Seconds to wait for a running pass.")
def reconcile_command(wait: float) -> None:
    """Run the reconciler once and say what it did."""
    outcomes = reconcile.reconcile(wait_seconds=wait)
    if outcomes is None:
        raise click.ClickException("Another reconciler held the lock throughout; try again.")
    for outcome in outcomes:
        click.echo(f"{outcome.image_id}\t{outcome.finding}\t{outcome.action}")
    click.echo(f"{len(outcomes)} images reconciled.")


@images_cli.command("audit", help="Check the delivery invariant; exit status 1 if anything is wrong.")
def audit_command() -> None:
    """List every broken invariant: unfinished rows without a live job, missing variants, orphan files."""
    problems = audit.audit()
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise click.ClickException(f"{len(problems)} problems found.")
    click.echo("OK: every image is finished or has a live job, and every file has its row.")


@images_cli.command("list", help="List images, newest first: id, status, created at, bytes, file name.")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only images with this status.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most this many.")
def list_images_command(status: str | None, limit: int | None) -> None:
    """List images."""
    images = operations.list_images(status, limit)
    if not images:
        click.echo("No images.")
    for image in images:
        created_at = image.created_at.isoformat(timespec="seconds")
        click.echo(f"{image.id}\t{image.status}\t{created_at}\t{image.bytes}\t{image.filename}")


@images_cli.command(
    "reprocess",
    help="Render variants again under the current settings (e.g. after IMAGE_VARIANTS changes): "
    "the images named, those of --status, or --all. Images already queued or processing are left alone.",
)
@click.argument("image_ids", nargs=-1)
@click.option("--status", type=click.Choice(["done", "failed"]), default=None, help="Every image with this status.")
@click.option("--all", "every", is_flag=True, help="Every done or failed image.")
def reprocess_command(image_ids: tuple[str, ...], status: str | None, every: bool) -> None:
    """Set images back to queued and enqueue them; exit status 1 if a named image does not exist."""
    if sum((bool(image_ids), bool(status), every)) != 1:
        raise click.UsageError("Name image ids, or pass --status or --all (exactly one).")
    targets = list(image_ids) or operations.image_ids(status)
    _apply_each(targets, operations.reprocess, "Reprocessing")


@images_cli.command("delete", help="Delete images: their rows and every stored file.")
@click.argument("image_ids", nargs=-1, required=True)
def delete_command(image_ids: tuple[str, ...]) -> None:
    """Delete images; exit status 1 if one does not exist."""
    _apply_each(list(image_ids), operations.delete_image, "Deleting")


@images_cli.command("stats", help="Images by status and the bytes they take in storage.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
def image_stats_command(as_json: bool) -> None:
    """Print image totals."""
    stats = operations.image_stats()
    if as_json:
        click.echo(json.dumps(stats.as_dict()))
        return
    for status, count in stats.by_status.items():
        click.echo(f"{status:<16}{count}")
    click.echo(f"{'total':<16}{stats.total}")
    click.echo(f"{'original bytes':<16}{stats.original_bytes}")
    click.echo(f"{'variant bytes':<16}{stats.variant_bytes}")


@queue_cli.command("stats", help="Jobs per queue and registry, oldest queued job's age, and workers.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts and cron.")
def queue_stats_command(as_json: bool) -> None:
    """Print the state of the queues."""
    check_stack()
    stats = queue_stats.queue_stats()
    if as_json:
        click.echo(json.dumps(stats.as_dict()))
        return
    click.echo(f"workers: {stats.workers} ({stats.busy_workers} busy)")
    for queue in stats.queues:
        age = f"{queue.oldest_job_age:.0f}s" if queue.oldest_job_age is not None else "-"
        counts = " ".join(f"{name}={count}" for name, count in queue.registries.items())
        click.echo(f"{queue.name}: {counts} oldest={age}")


def check_stack() -> None:
    """Fail when Redis is out of reach, warn loudly when no worker is registered: the answer may be another stack's."""
    where = redacted(current_app.config["REDIS_URL"])
    try:
        workers = Worker.count(connection=redis_queue.connection)
    except (RedisError, OSError) as error:
        raise click.ClickException(
            f"cannot reach Redis at {where} ({error}); start `make run` here, or set REDIS_URL to the stack's."
        ) from None
    if workers == 0:
        message = f"WARNING: no worker is registered in Redis at {where}: no job will run. Is `make run` running here?"
        click.secho(message, err=True, fg="red", bold=True)


def redacted(url: str) -> str:
    """A Redis URL without its password, for messages."""
    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@", 1) if password else url


def _apply_each(targets: list[str], action, label: str) -> None:
    """Run action on each id, report each outcome, exit status 1 if any id was missing."""
    if not targets:
        click.echo("Nothing to do.")
        return
    outcomes = _with_progress(targets, action, label)
    for target, outcome in outcomes.items():
        click.echo(f"{target}: {outcome}")
    missing = sum(1 for outcome in outcomes.values() if outcome == "missing")
    if missing:
        raise click.ClickException(f"{missing} of {len(targets)} not found.")


def _with_progress(targets: list[str], action, label: str) -> dict:
    """Run action on each target behind a progress bar on stderr; returns target → outcome."""
    outcomes = {}
    with click.progressbar(targets, label=label, file=sys.stderr) as bar:
        for target in bar:
            outcomes[target] = action(target)
    return outcomes


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(jobs_cli)
    app.cli.add_command(queue_cli)
    app.cli.add_command(images_cli)
    app.cli.add_command(storage_cli)
