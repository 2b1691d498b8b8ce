"""Pixline's settings: one declared table (app.settings.table), read from the environment and checked once.

    values = settings.read()            # every setting, parsed; ConfigError lists each bad one, a line apiece
    with settings.exit_on_config_error("pixline worker"):
        values = settings.read()        # the same, as a process says it: one line per bad setting, exit status 2

The app reads its settings as `app.config[NAME]` (configure() puts them there); a process without an app (make run,
gunicorn's config, the health check) reads `settings.read()[NAME]`. Nothing else reads a setting from os.environ.
"""

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import click

from app.settings.table import BY_NAME, DEFAULT_OUTPUT_FORMATS, GROUPS, MIB, TABLE, WEBHOOK_RETRY_SCHEDULE, Setting

__all__ = [
    "BY_NAME",
    "CONFIG_ERROR_STATUS",
    "DEFAULT_OUTPUT_FORMATS",
    "GROUPS",
    "MIB",
    "TABLE",
    "WEBHOOK_RETRY_SCHEDULE",
    "ConfigError",
    "Setting",
    "check_overrides",
    "check_relations",
    "exit_on_config_error",
    "read",
]

# The exit status of a process refused to start by a bad setting (as a usage error: the command line was wrong).
CONFIG_ERROR_STATUS = 2
# Parsed tables by the raw values they came from: a process reads its environment once, however many callers ask.
_cache: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}


class ConfigError(click.ClickException, ValueError):
    """Settings that break their rules: one line per bad setting, naming it and the rule (the flask CLI prints it)."""

    exit_code = CONFIG_ERROR_STATUS

    def __init__(self, problems: str | Iterable[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def show(self, file=None) -> None:
        """One `Error: …` line per bad setting on stderr (click's own form, which prints only the first line so)."""
        for problem in self.problems:
            click.echo(f"Error: {problem}", file=file, err=True)


@contextlib.contextmanager
def exit_on_config_error(program: str) -> Iterator[None]:
    """Turn a ConfigError into one line per bad setting on stderr and exit status 2, instead of a traceback."""
    try:
        yield
    except ConfigError as error:
        for problem in error.problems:
            print(f"{program}: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(CONFIG_ERROR_STATUS) from None


def read(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting from environ (default: this process's environment), parsed and checked; unset or empty: default."""
    env = os.environ if environ is None else environ
    given = tuple((setting.name, env[setting.name]) for setting in TABLE if env.get(setting.name, "") != "")
    if given not in _cache:
        values, problems = {}, []
        for setting in TABLE:
            text = env.get(setting.name, "")
            values[setting.name], problem = _parse(setting, text) if text != "" else (setting.default, None)
            problems += [problem] if problem else []
        if problems:
            raise ConfigError(problems)
        check_relations(values)
        if len(_cache) > 32:
            _cache.clear()
        _cache[given] = values
    return dict(_cache[given])


def check_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Settings given in code (a test's config) held to the table's rules; text is parsed, None and '' mean unset."""
    checked, problems = {}, []
    for name, value in overrides.items():
        setting = BY_NAME.get(name)
        if setting is None or value is None:
            checked[name] = value
        elif value == "":
            checked[name] = setting.default
        else:
            try:
                checked[name] = setting.parser.check(value)
            except ValueError as error:
                problems.append(setting.parser.problem(name, str(value), error))
    if problems:
        raise ConfigError(problems)
    return checked


def _parse(setting: Setting, text: str) -> tuple[Any, str | None]:
    """The setting's value from its text, or (None, the line that says why not)."""
    try:
        return setting.parser.parse(text), None
    except ValueError as error:
        return None, setting.parser.problem(setting.name, text, error)


def check_relations(config: Mapping[str, Any]) -> None:
    """Refuse settings that are each fine but do not go together."""
    if config.get("MEDIA_ACCESS") == "signed" and config.get("MEDIA_BASE_URL"):
        raise ConfigError("MEDIA_ACCESS=signed cannot be used with MEDIA_BASE_URL (plain CDN URLs are not signed)")
