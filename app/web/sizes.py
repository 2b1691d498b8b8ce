"""Byte counts as people read them, in binary units (1 KiB = 1024 B) as the README states limits: 25 MiB."""

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
STEP = 1024


def filesize(count: int | None) -> str:
    """812 B, 14.2 KiB, 25 MiB, 3.1 GiB; app/static/upload.js formats sizes the same way, digit for digit."""
    if count is None:
        return "—"
    if count < STEP:
        return f"{count} B"
    exponent = 1
    while exponent < len(UNITS) - 1 and _tenths(count, STEP**exponent) >= STEP * 10:
        exponent += 1
    whole, tenth = divmod(_tenths(count, STEP**exponent), 10)
    return f"{whole} {UNITS[exponent]}" if tenth == 0 else f"{whole}.{tenth} {UNITS[exponent]}"


def _tenths(count: int, unit: int) -> int:
    """count / unit in tenths, rounded half up, in integers (no float rounding the browser could do otherwise)."""
    return (count * 10 + unit // 2) // unit
