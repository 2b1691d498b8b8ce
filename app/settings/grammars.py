"""The grammars of settings whose values are small languages: rates, signing keys, backends, variants, formats.

RATE_LIMIT's and MEDIA_SIGNING_KEYS' grammars live here (app.web.ratelimit and app.storage.signing import them), so
a bad value is refused when the settings are read, before any area is built. Variants and output formats are
imaging's own: they are parsed by app.imaging, imported only when the setting is set (Pillow is not cheap).
"""

import importlib
import re
from dataclasses import dataclass

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
BACKENDS = ("local", "s3")
# Signing-key ids sit before the '.' of sig= and in log lines: short plain words.
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MIN_SECRET_CHARS = 16


@dataclass(frozen=True)
class Rate:
    """At most `count` uploads (files, not requests) per `seconds`-long window."""

    count: int
    seconds: int


def parse_rate(text: str | None) -> Rate | None:
    """Parse '60/minute' (or 10/second, 500/hour, 1000/day); empty or '0' means no limit."""
    text = (text or "").strip().lower()
    if text in ("", "0", "off", "none"):
        return None
    count, slash, period = text.partition("/")
    seconds = PERIODS.get(period.strip().removesuffix("s"))
    if not slash or not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ValueError(f"must look like 60/minute (per second, minute, hour or day), not {text!r}")
    return Rate(int(count), seconds)


def parse_signing_keys(raw: str) -> dict[str, bytes]:
    """Keys from 'id:secret,id:secret' (the first is current); ValueError names what is wrong."""
    keys: dict[str, bytes] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        key_id, colon, secret = entry.partition(":")
        if not colon or not KEY_ID.match(key_id):
            raise ValueError(f"each key is id:secret with an id of letters, digits, '_' or '-', not {key_id!r}")
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"the secret of key {key_id!r} is shorter than {MIN_SECRET_CHARS} characters")
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} is listed twice")
        keys[key_id] = secret.encode()
    if not keys:
        raise ValueError("no key is listed")
    return keys


def check_backend(text: str) -> str:
    """'local', 's3', or a 'package.module:Class' that imports (a plug-in backend, loaded here once to check it)."""
    if text in BACKENDS:
        return text
    module_name, colon, class_name = text.partition(":")
    if not colon or not module_name or not class_name.isidentifier():
        raise ValueError(f"STORAGE_BACKEND must be local, s3 or an importable module:Class, not {text!r}")
    try:
        backend = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"STORAGE_BACKEND names {text!r}, which cannot be imported ({error})") from None
    if not callable(getattr(backend, "from_app", None)):
        raise ValueError(f"STORAGE_BACKEND names {text!r}, which has no from_app(app) to build it")
    return text


def check_variants(text: str) -> str:
    """IMAGE_VARIANTS, checked by imaging's own parser."""
    from app.imaging.variants import parse_variant_specs

    parse_variant_specs(text)
    return text


def output_formats(text: str) -> tuple[str, ...]:
    """OUTPUT_FORMATS as a tuple, by imaging's own parser."""
    from app.imaging.formats import parse_output_formats

    return parse_output_formats(text)


def one_output_format(text: str) -> tuple[str, ...]:
    """OUTPUT_FORMAT: exactly one format (the older setting), as a tuple of one."""
    formats = output_formats(text)
    if len(formats) > 1:
        raise ValueError("OUTPUT_FORMAT takes one format; list several in OUTPUT_FORMATS")
    return formats
