"""What client subcommands share: the address, timeout and authkey options, and the
argument types that turn a bad value into a usage error (exit status 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hosepipe.commands import Subparsers
from hosepipe.config import read_authkey
from hosepipe.errors import UsageError
from hosepipe.units import parse_size, parse_timeout

__all__ = [
    "add_auth_option", "arg_type", "authkey_of", "client_parser", "size_arg", "timeout_arg",
]

AUTHKEY_HELP = ("answer the server's authkey challenge with the key in FILE "
                "(default: $HOSEPIPE_AUTHKEY, if set)")


def arg_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """``parse`` as an argparse type: its UsageError becomes argparse's usage error."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the type in its messages
    return convert


timeout_arg = arg_type(parse_timeout, "timeout")
size_arg = arg_type(parse_size, "size")


def add_auth_option(p: argparse.ArgumentParser) -> None:
    """``--authkey-file FILE``; read it with :func:`authkey_of`."""
    p.add_argument("--authkey-file", metavar="FILE", help=AUTHKEY_HELP)


def authkey_of(args: argparse.Namespace) -> bytes | None:
    """The key of ``--authkey-file``, else $HOSEPIPE_AUTHKEY, else None."""
    return read_authkey(getattr(args, "authkey_file", None))


def client_parser(sub: Subparsers, name: str, text: str, default: str, *,
                  timeout: float = 10.0, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand with ``-a/--address`` (default ``default``), ``-t/--timeout`` and
    ``--authkey-file``."""
    p = sub.add_parser(name, help=text, description=text, epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-a", "--address", default=default,
                   help=f"a URL, or HOST:PORT for tcp (default {default})")
    p.add_argument("-t", "--timeout", type=timeout_arg, default=timeout, metavar="SECONDS",
                   help=f"give up after this long without an answer; 0 or none: wait for "
                   f"ever (default {timeout:g})")
    add_auth_option(p)
    return p
