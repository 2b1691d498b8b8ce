"""`flask storage …`: bucket notifications, abandoned direct uploads, and moving to another storage."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.exceptions import StorageUnavailable
from app.maintenance import audit, storage_check, storage_move
from app.maintenance.storage_check import describe_storage
from app.pipeline.bucket_events import listen
from app.pipeline.direct import cleanup_expired_uploads
from app.storage import get_storage

storage_cli = AppGroup(
    "storage", help="Object storage: bucket notifications, abandoned direct uploads, checking and moving storage."
)


@storage_cli.command("listen", help="Complete direct uploads announced by MinIO notifications on S3_EVENTS_LIST.")
@click.option("--max-events", type=int, default=None, help="Stop after taking this many notifications.")
@click.option("--once", is_flag=True, help="Take one notification and stop (same as --max-events 1).")
@click.option("--idle-timeout", type=float, default=None, help="Stop after this many seconds without a notification.")
def listen_command(max_events: int | None, once: bool, idle_timeout: float | None) -> None:
    """Consume bucket notifications until stopped."""
    taken = listen(1 if once else max_events, idle_timeout)
    click.echo(f"handled {taken} notification(s)")


@storage_cli.command("cleanup-uploads", help="Remove direct uploads left awaiting_upload past their expiry.")
def cleanup_uploads_command() -> None:
    """Remove expired direct uploads and any object they left."""
    removed = cleanup_expired_uploads()
    click.echo(f"removed {removed} expired upload(s)")


@storage_cli.command("check", help="Say whether the newest done images' files are in the configured storage.")
def check_command() -> None:
    """Exit status 1, with what to do, when the database's images are not in the configured storage."""
    try:
        finding = storage_check.check_storage()
    except (SQLAlchemyError, StorageUnavailable, OSError) as error:
        raise click.ClickException(f"could not compare the database with the storage: {error}") from None
    if finding is not None:
        # Logged as the processes log it (a JSON line with LOG_FORMAT=json): `make run` runs this at start.
        storage_check.log.warning("%s", finding)
        raise SystemExit(1)
    click.echo(f"The newest done images are in the configured storage ({describe_storage(current_app.config)}).")


@storage_cli.command("migrate", help="Copy every file the database records from the former storage to this one.")
@click.option("--from-backend", type=click.Choice(["local", "s3"]), required=True, help="The former STORAGE_BACKEND.")
@click.option("--from-root", default=None, help="local: the former STORAGE_ROOT folder.")
@click.option("--from-bucket", default=None, help="s3: the former S3_BUCKET (same endpoint and credentials).")
def migrate_command(from_backend: str, from_root: str | None, from_bucket: str | None) -> None:
    """Copy originals and variant files the target lacks (run it again to resume), then audit."""
    target = get_storage()
    try:
        source = storage_move.former_storage(from_backend, from_root, from_bucket, target)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    files = storage_move.recorded_file_list()
    try:
        with click.progressbar(files, label="Copying", file=sys.stderr) as bar:
            report = storage_move.copy_files(source, target, bar)
    except (StorageUnavailable, OSError) as error:
        # Nothing is lost: what was copied stays, and the same command resumes where this one stopped.
        raise click.ClickException(f"stopped copying, run it again to resume: {error}") from None
    click.echo(str(report))
    for key in report.missing:
        click.echo(f"missing in the source\t{key}")
    problems = audit_after_copy()
    if report.missing or problems:
        raise SystemExit(1)


def audit_after_copy() -> int:
    """Run the audit and say its verdict in one line; the number of problems (0 when Redis cannot be reached)."""
    try:
        problems = audit.audit()
    except RedisError as error:
        click.echo(f"audit skipped (Redis: {error}); run `flask images audit` once Redis answers")
        return 0
    verdict = f"{len(problems)} problem(s); `flask images audit` lists them" if problems else "clean"
    click.echo(f"audit: {verdict}")
    return len(problems)
