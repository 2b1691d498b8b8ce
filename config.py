"""Pixline settings: every one read from an environment variable, with a default."""

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping

import click

MIB = 1024 * 1024
# The exit status of a process refused to start by a bad setting (as a usage error: the command line was wrong).
CONFIG_ERROR_STATUS = 2


class ConfigError(click.ClickException, ValueError):
    """A setting that breaks a rule; the message names the setting and the rule (the flask CLI prints it alone)."""

    exit_code = CONFIG_ERROR_STATUS


@contextlib.contextmanager
def exit_on_config_error(program: str) -> Iterator[None]:
    """Turn a ConfigError into one line on stderr and exit status 2, instead of a traceback."""
    try:
        yield
    except ConfigError as error:
        print(f"{program}: {error.message}", file=sys.stderr, flush=True)
        raise SystemExit(CONFIG_ERROR_STATUS) from None


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    """Read an integer setting, naming the variable when it is not one (or is below minimum)."""
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def int_setting(name: str, default: int, minimum: int | None = None) -> int:
    """An integer setting of this process's environment (for entry points that read one before the app exists)."""
    return _int(os.environ, name, default, minimum)


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """Read a setting that takes one of a few words (case-insensitive)."""
    value = (environ.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """Read a yes/no setting: 1/true/yes/on are yes."""
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


# Seconds before each retry of a webhook delivery (Standard Webhooks' and Svix's schedule, about 2.6 days in all).
WEBHOOK_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def _seconds_list(environ: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Read comma-separated whole seconds (an empty list is allowed: "none" means no retry)."""
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    if raw.strip().lower() == "none":
        return ()
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated whole seconds (or none), not {raw!r}") from None
    if any(value < 0 for value in values):
        raise ConfigError(f"{name} must not hold negative seconds, not {raw!r}")
    return values


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict:
    """Build the Flask config mapping from the environment (no I/O besides reading it)."""
    env = os.environ if environ is None else environ
    return {
        "SECRET_KEY": env.get("SECRET_KEY"),
        "DATABASE_URL": env.get("DATABASE_URL"),
        "REDIS_URL": env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "STORAGE_BACKEND": env.get("STORAGE_BACKEND", "local"),
        "STORAGE_ROOT": env.get("STORAGE_ROOT"),
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL"),
        "S3_PUBLIC_ENDPOINT_URL": env.get("S3_PUBLIC_ENDPOINT_URL"),
        "S3_BUCKET": env.get("S3_BUCKET", "pixline"),
        "S3_ACCESS_KEY": env.get("S3_ACCESS_KEY"),
        "S3_SECRET_KEY": env.get("S3_SECRET_KEY"),
        "S3_REGION": env.get("S3_REGION", "us-east-1"),
        "S3_SECURE": _bool(env, "S3_SECURE", True),
        "S3_CREATE_BUCKET": _bool(env, "S3_CREATE_BUCKET", False),
        "S3_CONNECT_TIMEOUT": _int(env, "S3_CONNECT_TIMEOUT", 3),
        "S3_READ_TIMEOUT": _int(env, "S3_READ_TIMEOUT", 10),
        "S3_MAX_ATTEMPTS": _int(env, "S3_MAX_ATTEMPTS", 3),
        "S3_EVENTS_LIST": env.get("S3_EVENTS_LIST", "pixline:s3-events"),
        "MEDIA_URL_TTL": _int(env, "MEDIA_URL_TTL", 3600),
        "MEDIA_BASE_URL": env.get("MEDIA_BASE_URL"),
        "MEDIA_ACCESS": _choice(env, "MEDIA_ACCESS", "public", ("public", "signed")),
        "MEDIA_SIGNING_KEYS": env.get("MEDIA_SIGNING_KEYS") or None,
        "DIRECT_UPLOADS": _bool(env, "DIRECT_UPLOADS", False),
        "UPLOAD_URL_TTL": _int(env, "UPLOAD_URL_TTL", 900),
        "UPLOAD_GRACE_SECONDS": _int(env, "UPLOAD_GRACE_SECONDS", 3600),
        "UPLOAD_CLEANUP_INTERVAL": _int(env, "UPLOAD_CLEANUP_INTERVAL", 600),
        "MAX_UPLOAD_BYTES": _int(env, "MAX_UPLOAD_BYTES", 25 * MIB, minimum=1),
        "MAX_IMAGE_PIXELS": _int(env, "MAX_IMAGE_PIXELS", 50_000_000, minimum=1),
        "MAX_FRAMES": _int(env, "MAX_FRAMES", 1000, minimum=1),
        "ANIMATION": _bool(env, "ANIMATION", True),
        "MAX_ANIMATION_PIXELS": _int(env, "MAX_ANIMATION_PIXELS", 200_000_000, minimum=1),
        "IMAGE_VARIANTS": env.get("IMAGE_VARIANTS", "thumb:160,small:480,medium:1024,large:2048"),
        # OUTPUT_FORMATS wins; the older OUTPUT_FORMAT is a list of one. The default is filled in at startup.
        "OUTPUT_FORMATS": env.get("OUTPUT_FORMATS") or None,
        "OUTPUT_FORMAT": env.get("OUTPUT_FORMAT") or None,
        "OUTPUT_QUALITY": _int(env, "OUTPUT_QUALITY", 80),
        "AVIF_QUALITY": _int(env, "AVIF_QUALITY", 65, minimum=0),
        "AVIF_SPEED": _int(env, "AVIF_SPEED", 10, minimum=0),
        "CROP_GRAVITY": _choice(env, "CROP_GRAVITY", "smart", ("smart", "center")),
        "QUEUE_NAME": env.get("QUEUE_NAME", "images"),
        "RETRY_MAX": _int(env, "RETRY_MAX", 5),
        "RETRY_BASE_SECONDS": _int(env, "RETRY_BASE_SECONDS", 2),
        "RETRY_CAP_SECONDS": _int(env, "RETRY_CAP_SECONDS", 300),
        "JOB_TIMEOUT": _int(env, "JOB_TIMEOUT", 120, minimum=1),
        "WORKER_CLASS": _choice(env, "WORKER_CLASS", "prefork", ("prefork", "fork", "simple")),
        "RESULT_TTL": _int(env, "RESULT_TTL", 3600),
        "FAILURE_TTL": _int(env, "FAILURE_TTL", 30 * 24 * 3600),
        "LONG_POLL_MAX_SECONDS": _int(env, "LONG_POLL_MAX_SECONDS", 30),
        "CLIENT_TIMEOUT": _int(env, "CLIENT_TIMEOUT", 30, minimum=0),
        "EVENT_STREAM_MAX_SECONDS": _int(env, "EVENT_STREAM_MAX_SECONDS", 300, minimum=1),
        "GALLERY_PAGE_SIZE": _int(env, "GALLERY_PAGE_SIZE", 24),
        "DASHBOARD_USERNAME": env.get("DASHBOARD_USERNAME", "admin"),
        "DASHBOARD_PASSWORD": env.get("DASHBOARD_PASSWORD"),
        "SERVE_ORIGINALS": _bool(env, "SERVE_ORIGINALS", False),
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "PAGE_UPLOADS": _choice(env, "PAGE_UPLOADS", "on", ("on", "off")) == "on",
        "RATE_LIMIT": env.get("RATE_LIMIT", ""),
        "API_AUTH": _choice(env, "API_AUTH", "required", ("required", "off")),
        "QUOTA_BYTES": _int(env, "QUOTA_BYTES", 0, minimum=0),
        "QUOTA_UPLOADS_PER_DAY": _int(env, "QUOTA_UPLOADS_PER_DAY", 0, minimum=0),
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        "MEDIA_MAX_AGE": _int(env, "MEDIA_MAX_AGE", 365 * 24 * 3600),
        "SQLITE_BUSY_TIMEOUT_MS": _int(env, "SQLITE_BUSY_TIMEOUT_MS", 30_000),
        "DATABASE_POOL_SIZE": _int(env, "DATABASE_POOL_SIZE", 5, minimum=1),
        "DATABASE_POOL_OVERFLOW": _int(env, "DATABASE_POOL_OVERFLOW", 5, minimum=0),
        "DATABASE_POOL_TIMEOUT": _int(env, "DATABASE_POOL_TIMEOUT", 3, minimum=1),
        "API_KEY_CACHE_SECONDS": _int(env, "API_KEY_CACHE_SECONDS", 10, minimum=0),
        "MAX_WAITING_PER_OWNER": _int(env, "MAX_WAITING_PER_OWNER", 32, minimum=1),
        "MAX_WAITING_PER_ADDRESS": _int(env, "MAX_WAITING_PER_ADDRESS", 128, minimum=1),
        "MAX_WAITING_PER_PROCESS": _int(env, "MAX_WAITING_PER_PROCESS", 1000, minimum=1),
        "RECONCILE_INTERVAL": _int(env, "RECONCILE_INTERVAL", 60),
        "RECONCILE_GRACE_SECONDS": _int(env, "RECONCILE_GRACE_SECONDS", 30),
        "RECONCILE_MAX_LOST": _int(env, "RECONCILE_MAX_LOST", 5),
        "ABANDONED_AFTER_SECONDS": _int(env, "ABANDONED_AFTER_SECONDS", 20),
        "WORKER_MONITOR_SECONDS": _int(env, "WORKER_MONITOR_SECONDS", 5),
        "WORKER_MAINTENANCE_SECONDS": _int(env, "WORKER_MAINTENANCE_SECONDS", 30),
        "WORKER_TTL_SECONDS": _int(env, "WORKER_TTL_SECONDS", 60),
        "MAINTENANCE_QUEUE": env.get("MAINTENANCE_QUEUE", "maintenance"),
        "PRUNE_INTERVAL": _int(env, "PRUNE_INTERVAL", 3600),
        "WEBHOOK_QUEUE": env.get("WEBHOOK_QUEUE", "webhooks"),
        "WEBHOOK_RETRY_SCHEDULE": _seconds_list(env, "WEBHOOK_RETRY_SCHEDULE", WEBHOOK_RETRY_SCHEDULE),
        "WEBHOOK_DISABLE_AFTER": _int(env, "WEBHOOK_DISABLE_AFTER", 5 * 24 * 3600, minimum=1),
        "WEBHOOK_CONNECT_TIMEOUT": _int(env, "WEBHOOK_CONNECT_TIMEOUT", 5, minimum=1),
        "WEBHOOK_TIMEOUT": _int(env, "WEBHOOK_TIMEOUT", 15, minimum=1),
        "WEBHOOK_ALLOW_HTTP": _bool(env, "WEBHOOK_ALLOW_HTTP", False),
        "WEBHOOK_ALLOW_PRIVATE": _bool(env, "WEBHOOK_ALLOW_PRIVATE", False),
        "WEBHOOK_RECONCILE_INTERVAL": _int(env, "WEBHOOK_RECONCILE_INTERVAL", 60),
        "LOG_FORMAT": _choice(env, "LOG_FORMAT", "text", ("text", "json")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
    }
