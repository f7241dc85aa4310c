"""The tools' subcommands (``relay``, ``probe``, ``bench``), for ``hosepipe.cli``.

Each tool keeps its own parser module; this one gathers them so the CLI lists one
command module for all three.
"""

from __future__ import annotations

from hosepipe.commands import Handler, Subparsers
from hosepipe.tools import bench_command, probe_command, relay_command

__all__ = ["add_parsers"]


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    for module in (relay_command, probe_command, bench_command):
        handlers.update(module.add_parser(sub))
    return handlers
