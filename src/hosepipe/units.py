"""Quantities as people write them: sizes (``2GiB``, ``500M``, ``4096``) and timeouts.

Both parsers raise :class:`~hosepipe.errors.UsageError` with the value and an example
of what would have worked, so a bad flag or config value is reported the same way
everywhere; :func:`format_size` prints a size back the way the parser reads it.
"""

from __future__ import annotations

import math
import re

from hosepipe.errors import UsageError

__all__ = ["format_size", "parse_size", "parse_timeout"]

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
    "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*")
_NO_TIMEOUT = ("0", "none", "never", "inf")


def parse_size(text: str | int) -> int:
    """Bytes in ``text``; decimal units (kB, MB, GB) and binary ones (KiB, MiB, GiB)."""
    if isinstance(text, int):
        return text
    match = _SIZE.fullmatch(text)
    unit = match[2].lower() if match else None
    if not match or unit not in _UNITS:
        raise UsageError(f"{text!r} is not a size; write e.g. 4096, 500MB or 2GiB")
    return int(float(match[1]) * _UNITS[unit])


def format_size(size: float) -> str:
    """``1 MiB``, ``1.5 MiB``, ``512 B``: for people (and :func:`parse_size` reads it)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            if unit == "B" or float(size).is_integer():
                return f"{size:.0f} {unit}"
            return f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def parse_timeout(text: str | float | None) -> float | None:
    """Seconds to wait: a positive number, or ``0``/``none`` for no timeout (``None``)."""
    if text is None:
        return None
    if isinstance(text, str) and text.strip().lower() in _NO_TIMEOUT:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a timeout; write seconds (e.g. 2.5), "
                         "or 0 or none for no timeout") from None
    if seconds == 0:
        return None
    if seconds < 0 or not math.isfinite(seconds):
        raise UsageError(f"timeout {text!r}: seconds must be positive (0 or none: no timeout)")
    return seconds
