"""Sizes as people write them: ``2GiB``, ``500M``, ``1.5 kB``, ``4096``."""

from __future__ import annotations

import re

from hosepipe.errors import UsageError

__all__ = ["format_size", "parse_size"]

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
    "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*")


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
    """``1.5 MiB`` style, for people."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
