"""The `flask` command groups, one module each: thin commands over the functions that do the work."""

from flask import Flask

from app.cli.images import images_cli
from app.cli.jobs import jobs_cli
from app.cli.queue import queue_cli
from app.cli.storage import storage_cli
from app.cli.webhooks import webhooks_cli


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(jobs_cli)
    app.cli.add_command(queue_cli)
    app.cli.add_command(images_cli)
    app.cli.add_command(storage_cli)
    app.cli.add_command(webhooks_cli)
