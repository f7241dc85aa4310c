"""The ``hosepipe`` command: thin argument parsing over the library.

``main(argv) -> int`` never calls ``sys.exit`` itself, so tests can drive it.
Exit status:

* 0: success;
* 1: it was tried and failed: a refused connection, a port in use, a timeout, an error
  reply from the server, a download whose checksum does not match (printed as
  ``hosepipe: error: ...``, or the server's own error line);
* 2: bad usage, nothing was tried: an unknown flag, a bad value (timeout, size,
  address, binding, service option, limit), an unreadable key or a config file that
  does not load -- every :class:`~hosepipe.errors.UsageError`;
* 130: interrupted (Ctrl-C).

``-v``/``-q`` are accepted before or after the subcommand. Each group of subcommands
lives in its own module (:data:`COMMAND_MODULES`), which adds its parsers and says
which function runs each subcommand (:mod:`hosepipe.commands`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hosepipe import __version__
from hosepipe.commands import Handler
from hosepipe.errors import HosepipeError, UsageError

__all__ = ["COMMANDS", "COMMAND_MODULES", "EXIT_ERROR", "EXIT_USAGE", "build_parser", "main"]

COMMAND_MODULES = (
    "hosepipe.commands.serve",
    "hosepipe.commands.services",
    "hosepipe.commands.classic",
    "hosepipe.commands.book",
    "hosepipe.commands.files",
    "hosepipe.tools.command",
    "hosepipe.gui.command",
    "hosepipe.chat.command",
)

COMMANDS: dict[str, Handler] = {}
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _add_log_flags(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log debug detail")
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="log warnings only")


def _add_log_flags_below(parser: argparse.ArgumentParser) -> None:
    """``-v``/``-q`` on every subcommand too (suppressed defaults: the top level's
    stand unless given after the subcommand)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                if "-v" not in child._option_string_actions:
                    _add_log_flags(child, argparse.SUPPRESS)
                _add_log_flags_below(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hosepipe",
        description="Client/server conversations between processes, over any wire.",
        epilog="Exit status: 0 ok, 1 error, 2 bad usage, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"hosepipe {__version__}")
    _add_log_flags(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        COMMANDS.update(importlib.import_module(name).add_parsers(sub))
    _add_log_flags_below(parser)
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status argparse chose (2 usage, 0 --help)."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if isinstance(args, int):
        return args
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    """The subcommand's exit status; an exception becomes one line and its status."""
    try:
        return COMMANDS[args.command](args)
    except HosepipeError as exc:
        print(f"hosepipe: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except OSError as exc:  # a file named on the command line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"hosepipe: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ERROR
