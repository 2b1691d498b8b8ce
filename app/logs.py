"""Logging: text or JSON lines (LOG_FORMAT), each carrying the image id and job id of the work in hand."""

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Flask
from gunicorn.glogging import Logger as GunicornBaseLogger

from app import settings

# The ids of the work in hand; a work horse sets them once, a web request or a CLI command may bind them too.
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("pixline_log_context", default={})  # noqa: B039
CONTEXT_FIELDS = ("image_id", "job_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"
HANDLER_NAME = "pixline"
# A token in a URL's query (?access_token=…, the event stream's) is a credential: no log line keeps its value.
ACCESS_TOKEN_VALUE = re.compile(r"(access_token=)[^&\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """text with the value of every access_token= in it replaced."""
    return ACCESS_TOKEN_VALUE.sub(rf"\g<1>{REDACTED}", text) if "access_token" in text.lower() else text


def bind(**ids: str | None) -> None:
    """Attach ids (image_id, job_id) to every log line from here on in this context."""
    _context.set({**_context.get(), **{key: value for key, value in ids.items() if value}})


@contextlib.contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Attach ids to every log line inside the with block."""
    token = _context.set({**_context.get(), **{key: value for key, value in ids.items() if value}})
    try:
        yield
    finally:
        _context.reset(token)


def clear() -> None:
    """Forget every bound id (a worker, between two jobs)."""
    _context.set({})


def current_context() -> dict[str, str]:
    """The ids bound right now."""
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Copy the bound ids onto each record (as attributes, and as a ' [k=v]' suffix for the text format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _context.get()
        for field in CONTEXT_FIELDS:
            setattr(record, field, ids.get(field))
        record.context = "".join(f" [{key}={value}]" for key, value in ids.items()) if ids else ""
        return True


class RedactFilter(logging.Filter):
    """Replace the value of any access_token= in a record's message (a URL logged by Pixline, RQ or gunicorn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def build_handler(log_format: str) -> logging.Handler:
    """A stderr handler in the given format ('json' or 'text') that adds the bound ids."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(JSONFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure(log_format: str = "text", level: str = "INFO") -> None:
    """Send every logger (RQ's and gunicorn's error log included) through one handler on the root logger."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    root.addHandler(build_handler(log_format))
    root.setLevel(level)
    # RQ installs its own handlers on these unless an ancestor has one; ours is the one to use.
    for name in ("rq.worker", "rq.job", "rq.scheduler", "rq.cron", "gunicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Alembic narrates every plugin it loads at INFO; only its warnings matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)


# An image id (uuid4 hex) in a request path or Location header: /api/images/<id>, /images/<id>, /media/…/<id>…
IMAGE_ID_IN_PATH = re.compile(r"/(?:images|originals|variants)/([0-9a-f]{32})\b")


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's error and access logs, as JSON lines when LOG_FORMAT=json; access lines name their image."""

    def setup(self, cfg) -> None:
        """gunicorn's own setup, then our handler on both logs for JSON."""
        super().setup(cfg)
        if settings.read()["LOG_FORMAT"] != "json":
            return
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.addHandler(build_handler("json"))

    def access(self, resp, req, environ, request_time) -> None:
        """The access line, with the image id of its path (or of the Location an upload answered with), no tokens."""
        location = dict(resp.headers).get("Location", "") if resp.headers else ""
        found = IMAGE_ID_IN_PATH.search(environ.get("PATH_INFO", "")) or IMAGE_ID_IN_PATH.search(location)
        with bound(image_id=found.group(1) if found else None):
            super().access(resp, req, without_tokens(environ), request_time)


def without_tokens(environ: dict) -> dict:
    """The WSGI environ as the access line reads it, with access_token values redacted from the URL and referrer."""
    names = ("RAW_URI", "QUERY_STRING", "HTTP_REFERER")
    if not any("access_token" in str(environ.get(name, "")).lower() for name in names):
        return environ
    return {**environ, **{name: redact(environ[name]) for name in names if name in environ}}


def init_app(app: Flask) -> None:
    """Configure logging for a server process; tests keep pytest's capture instead."""
    if app.testing:
        return
    configure(app.config.get("LOG_FORMAT", "text"), app.config.get("LOG_LEVEL", "INFO"))
