"""What client subcommands share: the address and timeout options."""

from __future__ import annotations

import argparse

from hosepipe.commands import Subparsers

__all__ = ["client_parser"]


def client_parser(sub: Subparsers, name: str, text: str, default: str) -> argparse.ArgumentParser:
    """A subcommand with ``-a/--address`` (default ``default``) and ``-t/--timeout``."""
    p = sub.add_parser(name, help=text, description=text)
    p.add_argument("-a", "--address", default=default,
                   help=f"a URL, or HOST:PORT for tcp (default {default})")
    p.add_argument("-t", "--timeout", type=float, default=10.0, help="seconds (default 10)")
    return p
