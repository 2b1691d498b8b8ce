"""`flask storage …`: bucket notifications and abandoned direct uploads."""

import click
from flask.cli import AppGroup

from app.pipeline.bucket_events import listen
from app.pipeline.direct import cleanup_expired_uploads

storage_cli = AppGroup("storage", help="Object storage: bucket notifications and abandoned direct uploads.")


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
