"""Client commands of the classic services: echo, daytime, time, square, upper, ni."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable

from hosepipe import classic
from hosepipe.commands import Handler, Subparsers
from hosepipe.commands.common import client_parser
from hosepipe.services import DEFAULT_ADDRESSES

__all__ = ["add_parsers"]


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    tcp = {name: addresses[0] for name, addresses in DEFAULT_ADDRESSES.items()}
    p = client_parser(sub, "echo", "send text to echo and print what comes back", tcp["echo"])
    p.add_argument("text", nargs="+")
    client_parser(sub, "daytime", "print the daytime service's time (RFC 867)", tcp["daytime"])
    client_parser(sub, "time", "print the time service's value and its time (RFC 868)",
                  tcp["time"])
    p = client_parser(sub, "square", "greet the square service, then square integers",
                      tcp["square"])
    p.add_argument("numbers", nargs="+", metavar="N")
    p.add_argument("--greeting", default="Hi there!", help="what to greet with")
    p.add_argument("--bare", action="store_true", help="send messages without newlines")
    for name, text in (("upper", "print each TEXT as the upper service answers it"),
                       ("ni", "ask the Knights who say Ni (default: a forked child over pipes)")):
        p = client_parser(sub, name, text, "pipe:" if name == "ni" else tcp[name])
        p.add_argument("texts", nargs="+", metavar="TEXT")
        p.add_argument("--bare", action="store_true", help="send messages without newlines")
    return {
        "echo": lambda a: _print_all([classic.echo(a.address, " ".join(a.text),
                                                   timeout=a.timeout)]),
        "daytime": lambda a: _print_all([classic.daytime(a.address, timeout=a.timeout)]),
        "time": _time,
        "square": lambda a: _print_all(classic.square(a.address, a.numbers, greeting=a.greeting,
                                                      bare=a.bare, timeout=a.timeout)),
        "upper": lambda a: _print_all(classic.upper(a.address, a.texts, bare=a.bare,
                                                    timeout=a.timeout)),
        "ni": lambda a: _print_all(classic.ni(a.address, a.texts, bare=a.bare,
                                              timeout=a.timeout)),
    }


def _print_all(replies: Iterable[str]) -> int:
    for reply in replies:
        print(reply, flush=True)
    return 0


def _time(args: argparse.Namespace) -> int:
    value, unix = classic.rfc868_time(args.address, timeout=args.timeout)
    stamp = time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(unix))
    print(f"{value} = {stamp} (local: {time.ctime(unix)})")
    return 0
