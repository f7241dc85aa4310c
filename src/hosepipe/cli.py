"""The ``hosepipe`` command: thin argument parsing over the library.

``main(argv) -> int`` never calls ``sys.exit`` itself, so tests can drive it.
Exit status: 0 success, 1 an error (printed as ``hosepipe: error: ...``),
2 bad usage, 130 interrupted.

Each group of subcommands lives in its own module (:data:`COMMAND_MODULES`), which adds
its parsers and says which function runs each subcommand (:mod:`hosepipe.commands`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hosepipe import __version__
from hosepipe.commands import Handler
from hosepipe.errors import HosepipeError

__all__ = ["COMMANDS", "COMMAND_MODULES", "build_parser", "main"]

COMMAND_MODULES = (
    "hosepipe.commands.serve",
    "hosepipe.commands.classic",
    "hosepipe.book.command",
    "hosepipe.files.command",
    "hosepipe.tools.command",
    "hosepipe.gui.command",
)

COMMANDS: dict[str, Handler] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hosepipe",
        description="Client/server conversations between processes, over any wire.",
    )
    parser.add_argument("--version", action="version", version=f"hosepipe {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        COMMANDS.update(importlib.import_module(name).add_parsers(sub))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        return COMMANDS[args.command](args)
    except HosepipeError as exc:
        print(f"hosepipe: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # a file named on the command line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"hosepipe: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
