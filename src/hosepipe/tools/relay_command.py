"""``hosepipe relay``: the command line of :mod:`hosepipe.tools.relay`."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from hosepipe.commands import Handler, Subparsers
from hosepipe.errors import UsageError
from hosepipe.tools.ends import tolerant
from hosepipe.tools.hexdump import Dump
from hosepipe.tools.relay import RelayOptions, relay
from hosepipe.tools.relay_listen import relay_listen
from hosepipe.transports.tls import server_context
from hosepipe.units import parse_size

__all__ = ["add_parser"]

EXAMPLES = """\
addresses: tcp://HOST:PORT (or HOST:PORT), tls://HOST:PORT, udp://HOST:PORT,
unix:///PATH, unix:@NAME, exec:COMMAND (a program, its stdin/stdout the stream),
stdio: (this process's stdin/stdout).

examples:
  hosepipe relay stdio: tcp://127.0.0.1:50007          # netcat: stdin/stdout to a port
  hosepipe relay tcp://127.0.0.1:6000 unix:///run/app.sock   # join two servers once
  hosepipe relay --listen tcp://127.0.0.1:8022 unix:///run/app.sock   # a port for a socket
  hosepipe relay --listen 127.0.0.1:7000 'exec:tr a-z A-Z'  # a program per connection
  hosepipe relay -x --listen 127.0.0.1:9008 127.0.0.1:50008 # spy on every byte (stderr)
  hosepipe relay --listen tls://0.0.0.0:8443 127.0.0.1:8080 --cert server.pem  # TLS in front

One side's end of stream is carried to the other as a half-close; the relay ends when
both directions have ended (see --linger). Bytes move with splice(2), never entering
Python, unless --dump, TLS or UDP needs them copied.
"""


def add_parser(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser("relay", help="join two addresses both ways (socat-style)",
                       description="Join address A and address B both ways.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", metavar="A", help="the first address (with --listen: listen here)")
    p.add_argument("b", metavar="B", help="the second address")
    p.add_argument("-l", "--listen", action="store_true",
                   help="listen on A; each connection gets its own new connection to B")
    p.add_argument("-x", "--dump", action="store_true", help="show both directions on "
                   "stderr as timestamped hex and text, and a closing line per connection")
    p.add_argument("--linger", type=float, metavar="SECONDS", help="once one direction has "
                   "ended, how long the other may go on (default: until it ends; 1 s "
                   "with a udp:// end)")
    p.add_argument("--idle-timeout", type=float, metavar="SECONDS",
                   help="end a relay that moved no byte for this long (default: never)")
    p.add_argument("--buffer", default="256KiB", metavar="SIZE", help="bytes held per "
                   "direction at most; a slow side slows the other (default 256KiB)")
    p.add_argument("--copy", action="store_true", help="copy through Python instead of "
                   "splice(2) (for comparison)")
    p.add_argument("-t", "--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="seconds to connect (and for a TLS handshake) (default 10)")
    p.add_argument("--max-connections", type=int, default=1024, metavar="N",
                   help="--listen: connections relayed at once; more are closed (default 1024)")
    p.add_argument("--max-per-client", type=int, metavar="N",
                   help="--listen: connections from one host at once (default 64)")
    p.add_argument("-w", "--workers", type=int, default=1, metavar="N",
                   help="--listen: accept from N pre-forked processes (default 1)")
    p.add_argument("--grace", type=float, default=5.0, metavar="SECONDS",
                   help="--listen: on Ctrl-C or SIGTERM, how long relays in flight may go on "
                   "(default 5)")
    p.add_argument("--cert", metavar="FILE", help="--listen tls://: the certificate chain")
    p.add_argument("--key", metavar="FILE", help="--listen tls://: its key, if not in --cert")
    return {"relay": run_relay}


def _options(args: argparse.Namespace) -> RelayOptions:
    buffer = parse_size(args.buffer)
    if buffer < 4096:
        raise UsageError("--buffer must be at least 4096 bytes")
    for name in ("linger", "idle_timeout", "connect_timeout"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UsageError(f"--{name.replace('_', '-')} must not be negative")
    return RelayOptions(buffer=buffer, zero_copy=not args.copy, linger=args.linger,
                        idle_timeout=args.idle_timeout, connect_timeout=args.connect_timeout)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_relay(args: argparse.Namespace) -> int:
    options = _options(args)
    if not args.listen:
        if args.cert or args.key:
            raise UsageError("--cert and --key are for --listen tls://")
        signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM ends the relay as Ctrl-C does
        relay(args.a, args.b, options, dump=Dump(sys.stderr) if args.dump else None)
        return 0
    tls = tolerant(server_context(args.cert, args.key)) if args.cert else None
    relay_listen(args.a, args.b, options, max_connections=args.max_connections,
                 max_per_client=args.max_per_client, grace=args.grace, workers=args.workers,
                 dump_to=sys.stderr if args.dump else None, tls=tls, on_ready=_ready)
    return 0  # stopped on purpose (SIGTERM, Ctrl-C), as ``hosepipe serve``


def _ready(bound: str) -> None:
    print(f"relay {bound}", flush=True)
