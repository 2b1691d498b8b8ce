"""Byte counts as people read them, in decimal units (1 kB = 1000 B), so MAX_UPLOAD_BYTES=1000000 reads 1 MB."""

UNITS = ("B", "kB", "MB", "GB", "TB")
STEP = 1000


def filesize(count: int | None) -> str:
    """812 B, 14.2 kB, 1 MB, 3.1 GB; app/static/upload.js formats sizes the same way, digit for digit."""
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
