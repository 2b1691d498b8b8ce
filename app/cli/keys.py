"""`flask keys …`: create, list, revoke and roll API keys."""

from datetime import datetime

import click
from flask.cli import AppGroup

from app.cli.common import Age
from app.pipeline import keys, quotas
from app.pipeline.access import SCOPES

keys_cli = AppGroup("keys", help="Manage API keys.")


class Scopes(click.ParamType):
    """A comma-separated list of scope names."""

    name = "scopes"

    def convert(self, value, param, ctx) -> frozenset[str]:
        """The scopes as a set, or a usage error naming the valid ones."""
        if isinstance(value, frozenset):
            return value
        try:
            return keys.parse_scopes(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def moment(value: datetime | None) -> str:
    """A timestamp for the table, or '-'."""
    return value.isoformat(timespec="seconds") + "Z" if value else "-"


def show_new_key(new: keys.NewKey, what: str) -> None:
    """Describe a new key, then print it alone on the last line (the only time it is shown)."""
    row = new.row
    click.echo(
        f"{what} key {row.id} ({row.name!r}) for owner {row.owner_id}: {row.scopes}; expires {moment(row.expires_at)}"
    )
    click.echo("Keep the key now: it is not stored and cannot be shown again.")
    click.echo(new.token)


@keys_cli.command("create", help="Create a key and print it once, alone on the last line.")
@click.option("--name", required=True, help="What the key is for (shown in the list).")
@click.option("--owner", default="default", show_default=True, help="The owner whose images the key acts on.")
@click.option(
    "--scopes",
    type=Scopes(),
    default="",
    help=f"Comma-separated, from {', '.join(SCOPES)} (default: images:read,images:write,images:delete).",
)
@click.option("--expires-in", type=Age(), default=None, help="Expire after this long (90d, 12h…); default never.")
def create_command(name: str, owner: str, scopes: frozenset[str], expires_in) -> None:
    """Create a key."""
    if not owner.strip() or len(owner) > 64:
        raise click.BadParameter("an owner is 1 to 64 characters", param_hint="--owner")
    show_new_key(keys.create_key(name, owner.strip(), scopes, expires_in), "Created")


@keys_cli.command("list", help="List keys (never their secrets), then each owner's usage.")
def list_command() -> None:
    """Print every key and every owner's usage."""
    rows = keys.list_keys()
    click.echo("id\tname\towner\tscopes\tlast4\tcreated\tlast used\texpires\trevoked")
    for row in rows:
        fields = [row.id, row.name, row.owner_id, ",".join(sorted(row.scope_set)), row.last4]
        fields += [moment(row.created_at), moment(row.last_used_at), moment(row.expires_at), moment(row.revoked_at)]
        click.echo("\t".join(fields))
    click.echo("")
    click.echo("owner\timages\tstored bytes\tuploads today")
    for usage in quotas.usage_by_owner({row.owner_id for row in rows}):
        today = usage.uploads_today if usage.quota_uploads_per_day else "-"
        click.echo(f"{usage.owner_id}\t{usage.images}\t{usage.stored_bytes}\t{today}")


@keys_cli.command("revoke", help="Revoke a key: the next request with it gets 401.")
@click.argument("key_id")
def revoke_command(key_id: str) -> None:
    """Revoke a key at once."""
    row = keys.revoke_key(key_id)
    if row is None:
        raise click.ClickException(f"No key {key_id!r}.")
    click.echo(f"Revoked key {row.id} ({row.name!r}) of owner {row.owner_id}.")


@keys_cli.command("roll", help="Make a new key like this one and print it; the old one keeps working for 24 h.")
@click.argument("key_id")
def roll_command(key_id: str) -> None:
    """Roll a key."""
    new = keys.roll_key(key_id)
    if new is None:
        raise click.ClickException(f"No usable key {key_id!r} (unknown, revoked or expired).")
    click.echo(f"Key {key_id} now expires in 24 h (or sooner, if it was to expire before).")
    show_new_key(new, "Rolled into")
