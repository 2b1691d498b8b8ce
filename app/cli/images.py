"""`flask images …`: list, reprocess, delete, reconcile and audit images."""

import json

import click
from flask.cli import AppGroup

from app.cli.common import apply_each
from app.maintenance import audit, reconcile
from app.models import ImageStatus
from app.pipeline import images as image_operations

images_cli = AppGroup("images", help="Inspect and repair images.")
STATUSES = [status.value for status in ImageStatus]


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
    images = image_operations.list_images(status, limit)
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
    targets = list(image_ids) or image_operations.image_ids(status)
    apply_each(targets, image_operations.reprocess, "Reprocessing")


@images_cli.command("delete", help="Delete images: their rows and every stored file.")
@click.argument("image_ids", nargs=-1, required=True)
def delete_command(image_ids: tuple[str, ...]) -> None:
    """Delete images; exit status 1 if one does not exist."""
    apply_each(list(image_ids), image_operations.delete_image, "Deleting")


@images_cli.command("stats", help="Images by status and the bytes they take in storage.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
def image_stats_command(as_json: bool) -> None:
    """Print image totals."""
    stats = image_operations.image_stats()
    if as_json:
        click.echo(json.dumps(stats.as_dict()))
        return
    for status, count in stats.by_status.items():
        click.echo(f"{status:<16}{count}")
    click.echo(f"{'total':<16}{stats.total}")
    click.echo(f"{'original bytes':<16}{stats.original_bytes}")
    click.echo(f"{'variant bytes':<16}{stats.variant_bytes}")
