"""What the command groups share: the age option type, the stack check, and per-id outcome reporting."""

import sys
from datetime import timedelta
from urllib.parse import urlsplit

import click
from flask import current_app
from redis.exceptions import RedisError
from rq import Worker

from app.extensions import redis_queue
from app.pipeline.images import parse_age


class Age(click.ParamType):
    """A command-line age such as 90s, 30m, 12h, 7d or 2w."""

    name = "age"

    def convert(self, value, param, ctx) -> timedelta:
        """The age as a timedelta, or a usage error naming the forms accepted."""
        if isinstance(value, timedelta):
            return value
        try:
            return parse_age(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


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


def apply_each(targets: list[str], action, label: str) -> None:
    """Run action on each id, report each outcome, exit status 1 if any id was missing or left unfinished."""
    if not targets:
        click.echo("Nothing to do.")
        return
    outcomes = with_progress(targets, action, label)
    for target, outcome in outcomes.items():
        click.echo(f"{target}: {outcome}")
    missing = sum(1 for outcome in outcomes.values() if outcome == "missing")
    unfinished = sum(1 for outcome in outcomes.values() if outcome.startswith("left "))
    if missing or unfinished:
        counts = [f"{missing} not found" if missing else "", f"{unfinished} left unfinished" if unfinished else ""]
        raise click.ClickException(f"Of {len(targets)}: {', '.join(filter(None, counts))}.")


def with_progress(targets: list[str], action, label: str) -> dict:
    """Run action on each target behind a progress bar on stderr; returns target → outcome."""
    outcomes = {}
    with click.progressbar(targets, label=label, file=sys.stderr) as bar:
        for target in bar:
            outcomes[target] = action(target)
    return outcomes
