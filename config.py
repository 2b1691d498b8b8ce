"""Pixline's settings, where the fixed layout names them: a thin front over app.settings, the declared table.

The table and its checks live in the package (app/settings/), where import-linter sees who reads them and the docs
are generated from them; this module keeps the names scripts and tests have always imported.
"""

from collections.abc import Mapping
from typing import Any

from app.settings import (
    CONFIG_ERROR_STATUS,
    MIB,
    WEBHOOK_RETRY_SCHEDULE,
    ConfigError,
    exit_on_config_error,
    read,
)

__all__ = [
    "CONFIG_ERROR_STATUS",
    "MIB",
    "WEBHOOK_RETRY_SCHEDULE",
    "ConfigError",
    "exit_on_config_error",
    "settings_from_env",
]


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting from environ (default: the process's environment), parsed and checked (ConfigError)."""
    return read(environ)
