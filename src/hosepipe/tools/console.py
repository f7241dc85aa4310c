"""Where the tools print their tables: standard output, wide enough when it is a file.

rich takes 80 columns when standard output is not a terminal, which truncates the
tables' numbers; a pipe or a file gets 120 (or what ``COLUMNS`` asks for).
"""

from __future__ import annotations

import os

from rich.console import Console

__all__ = ["wide_console"]


def wide_console() -> Console:
    """Standard output; 120 columns when it is not a terminal (unless COLUMNS says)."""
    console = Console()
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    return Console(width=120)
