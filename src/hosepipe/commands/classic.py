"""Client commands of the classic services: echo, daytime, time, square, upper, ni.

Each reply is printed as it arrives; a reply that is an error (``error: ...``) goes to
standard error instead, and the command then exits 1 once the other messages have
had their answers. How a reply is known to be whole, and how these commands talk to
servers that answer without newlines, is :mod:`hosepipe.classic`'s rule.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable

from hosepipe import classic
from hosepipe.commands import Handler, Subparsers
from hosepipe.commands.common import arg_type, authkey_of, client_parser
from hosepipe.line_client import DEFAULT_PAUSE
from hosepipe.services import DEFAULT_ADDRESSES
from hosepipe.units import parse_timeout

__all__ = ["add_parsers"]

REPLIES = """\
replies: a reply is whole at its newline; until the server has ended a reply with a
newline, also when it has sent nothing for --pause seconds. A server whose first reply
has no newline (the tutorials' servers) is then sent bare messages, as they expect.
After its last message the client half-closes the connection, so a program that
answers at the end of its input (exec:tr a-z A-Z) answers at once. An error reply
goes to standard error and the exit status is 1."""


EXAMPLES = {
    "echo": "hosepipe echo hello world\n  hosepipe echo -a udp://127.0.0.1:50007 over udp",
    "daytime": "hosepipe daytime\n  hosepipe daytime -a udp://127.0.0.1:50013",
    "time": "hosepipe time\n  hosepipe time -a udp://127.0.0.1:50037",
    "square": "hosepipe square 3 -12 99999999999\n  hosepipe square -a 127.0.0.1:50007 7 "
              "   (the tutorial's squares server)",
    "upper": "hosepipe upper knights 'who say ni'\n  hosepipe upper -a 'exec:tr a-z A-Z' knights",
    "ni": "hosepipe ni 'The Knights who say Ni!'\n  hosepipe ni -a 127.0.0.1:50009 shrubbery",
}


def _epilog(name: str, text: str = "") -> str:
    return (text + "\n\n" if text else "") + "examples:\n  " + EXAMPLES[name]


def _pause(text: str) -> float:
    value = parse_timeout(text)
    if value is None:
        raise argparse.ArgumentTypeError("--pause must be a positive number of seconds")
    return value


def _conversation_flags(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--bare", dest="mode", action="store_const", const="bare",
                      default="auto", help="send messages without newlines from the start")
    mode.add_argument("--lines", dest="mode", action="store_const", const="lines",
                      help="replies are lines: never take a quiet reply as whole")
    p.add_argument("--pause", type=arg_type(_pause, "seconds"), default=DEFAULT_PAUSE,
                   metavar="SECONDS", help="quiet time that ends a reply without a newline "
                   f"(default {DEFAULT_PAUSE:g})")


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    tcp = {name: addresses[0] for name, addresses in DEFAULT_ADDRESSES.items()}
    p = client_parser(sub, "echo", "send text to echo and print what comes back", tcp["echo"],
                      epilog=_epilog("echo", "The reply is printed as soon as it ends with "
                                     "what was sent (or, with a prefix\nserver such as the "
                                     "tutorial's Echo=>, after --pause seconds of quiet)."))
    p.add_argument("text", nargs="+")
    p.add_argument("--pause", type=arg_type(_pause, "seconds"), default=DEFAULT_PAUSE,
                   metavar="SECONDS", help="quiet time that ends a reply that is not a plain "
                   f"echo (default {DEFAULT_PAUSE:g})")
    client_parser(sub, "daytime", "print the daytime service's time (RFC 867)", tcp["daytime"],
                  epilog=_epilog("daytime"))
    client_parser(sub, "time", "print the time service's value and its time (RFC 868)",
                  tcp["time"], epilog=_epilog("time"))
    p = client_parser(sub, "square", "greet the square service, then square integers",
                      tcp["square"], epilog=_epilog("square", REPLIES))
    p.add_argument("numbers", nargs="+", metavar="N")
    p.add_argument("--greeting", default="Hi there!", help="what to greet with")
    _conversation_flags(p)
    for name, text in (("upper", "print each TEXT as the upper service answers it"),
                       ("ni", "ask the Knights who say Ni (default: a forked child over pipes)")):
        p = client_parser(sub, name, text, "pipe:" if name == "ni" else tcp[name],
                          epilog=_epilog(name, REPLIES))
        p.add_argument("texts", nargs="+", metavar="TEXT")
        _conversation_flags(p)
    return {"echo": _echo, "daytime": _daytime, "time": _time, "square": _square,
            "upper": _upper, "ni": _ni}


def _print_all(replies: Iterable[str]) -> int:
    """Print each reply as it comes (errors to stderr); 1 if any was an error."""
    status = 0
    for reply in replies:
        error = classic.is_error_reply(reply)
        print(reply, file=sys.stderr if error else sys.stdout, flush=True)
        status = 1 if error else status
    return status


def _echo(args: argparse.Namespace) -> int:
    reply = classic.echo(args.address, " ".join(args.text), pause=args.pause,
                         timeout=args.timeout, authkey=authkey_of(args))
    return _print_all([reply])


def _daytime(args: argparse.Namespace) -> int:
    return _print_all([classic.daytime(args.address, timeout=args.timeout,
                                       authkey=authkey_of(args))])


def _square(args: argparse.Namespace) -> int:
    return _print_all(classic.square(
        args.address, args.numbers, greeting=args.greeting, mode=args.mode, pause=args.pause,
        timeout=args.timeout, authkey=authkey_of(args)))


def _upper(args: argparse.Namespace) -> int:
    return _print_all(classic.upper(args.address, args.texts, mode=args.mode, pause=args.pause,
                                    timeout=args.timeout, authkey=authkey_of(args)))


def _ni(args: argparse.Namespace) -> int:
    return _print_all(classic.ni(args.address, args.texts, mode=args.mode, pause=args.pause,
                                 timeout=args.timeout, authkey=authkey_of(args)))


def _time(args: argparse.Namespace) -> int:
    value, unix = classic.rfc868_time(args.address, timeout=args.timeout,
                                      authkey=authkey_of(args))
    stamp = time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(unix))
    print(f"{value} = {stamp} (local: {time.ctime(unix)})")
    return 0
